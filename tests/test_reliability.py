"""Robustness (issue 5) at the function and AppTest level: nothing a careless or curious user
does breaks a page or loses work.

* Uploads and drawings go through the Draw & predict page itself (AppTest): unusable ones give
  one st.error / st.info line and keep the previous input; odd but valid files are predicted
  as the MNIST label of the digit they were made from (the oracle), by the bundled model.
* Model files: a .npz carrying a pickle whose unpickling would create a marker directory is
  refused and the marker never appears; damaged / mismatched files give one sentence in the
  model picker; a save that crashes midway leaves the old file intact and no temporary file.
* Kernel cells on the Convolution page: bad cells are named; huge values compute (checked
  against scipy.signal.correlate2d).
* Training settings: extreme learning rates, oversize batches, a one-image subset, zero epochs.
* .streamlit/config.toml: an upload limit and XSRF protection.

The fuzz over ``to_mnist`` (random bytes, random arrays of any dtype and shape) lives in
tests/test_preprocess.py (``test_fuzz_*``) and is not repeated here.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy.signal import correlate2d
from streamlit.testing.v1 import AppTest

from cnnviz import nn
from cnnviz.data import mnist
from cnnviz.errors import InputError
from cnnviz.training import TrainingConfig, TrainingWorker
from cnnviz.ui import models, state
from tests.drawings import black_canvas, encode, make_drawing, make_photo, phone_photo

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
DRAW = str(ROOT / "pages" / "1_draw_predict.py")
TRAIN = str(ROOT / "pages" / "5_train_live.py")
BUNDLED = "Tutorial network"

pytestmark = pytest.mark.skipif(
    BUNDLED not in nn.bundled_models(), reason="the bundled tutorial model is missing"
)


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = mnist.load_data_shared()
    return x_test, y_test


@pytest.fixture(scope="module")
def bundled():
    return nn.load_model(nn.bundled_models()[BUNDLED])


def bundled_gets_right(model, x_test, y_test, index: int) -> int:
    """The true label of MNIST test digit ``index``, after checking the bundled model (run
    directly on the digit, scaled x/255 - 0.5) gets it right: the precondition of every
    "the right digit is predicted" case below."""
    direct = int(model.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax())
    assert direct == int(y_test[index]), f"pick another digit: the model misreads #{index}"
    return int(y_test[index])


# =============================================================================================
# The Draw & predict page, driven by AppTest
# =============================================================================================


def draw_page(x_test=None, y_test=None, previous: int | None = None) -> AppTest:
    """The Draw & predict page with the bundled model; ``previous`` = an MNIST test digit
    already made the current input."""
    at = AppTest.from_file(DRAW, default_timeout=90)
    if previous is not None:
        at.session_state[state.CURRENT_IMAGE] = x_test[previous].astype(np.float32) / 255.0
        at.session_state[state.CURRENT_IMAGE_SOURCE] = f"MNIST test digit #{previous}"
        at.session_state[state.CURRENT_LABEL] = int(y_test[previous])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0].value if found else None


def messages(at: AppTest) -> list[str]:
    """Every st.error and st.info line on the page (main area and sidebar)."""
    return [e.value for e in at.error] + [i.value for i in at.info]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="image_upload").upload(name, data, "application/octet-stream")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- unusable uploads: one line, previous input kept ------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims width x height pixels, with almost no data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (min(width, 4096) + 1) * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _truncated_png() -> bytes:
    _, (x_test, _) = mnist.load_data_shared()
    data = make_drawing(x_test[5], scale=4, offset=(20, 20), fmt="PNG")
    return data[: len(data) // 2]


SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'width="100" height="100"><path d="M20 20 L80 20 L40 90" stroke="black"/></svg>\n'
)

# (file name, contents, what the one line must say)
BAD_UPLOADS = [
    ("empty.png", b"", "empty"),
    ("notes.png", b"Shopping list: milk, eggs.\n" * 40, "not an image"),
    ("cut.png", _truncated_png(), "damaged or incomplete"),
    ("bomb.png", png_claiming(30000, 30000), "too large"),
    ("vector.png", SVG, "SVG"),
    ("black.png", encode(np.zeros((120, 160), np.uint8), "PNG"), "blank"),
    ("white.png", encode(np.full((120, 160), 255, np.uint8), "PNG"), "blank"),
    ("white.jpg", encode(np.full((64, 64, 3), 255, np.uint8), "JPEG"), "blank"),
    ("zero-wide.png", png_claiming(0, 10), "image"),
]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name, data, says", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_unusable_upload_gives_one_line_and_keeps_the_previous_input(
    canvas, mnist_test, bundled, name, data, says
):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 2)
    at = draw_page(x_test, y_test, previous=2)
    assert metric(at, "Prediction") == str(label)
    before = np.array(at.session_state[state.CURRENT_IMAGE])
    upload(at, name, data)
    lines = messages(at)
    assert len(lines) == 1, lines
    assert name in lines[0] and says in lines[0], lines[0]
    assert len(at.error) == 1  # an st.error, with the file's name in front
    np.testing.assert_array_equal(at.session_state[state.CURRENT_IMAGE], before)
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == "MNIST test digit #2"
    assert metric(at, "Prediction") == str(label)  # the page still shows the old input
    # The next rerun does not repeat the message: it was about that one file.
    at.run()
    assert not at.error


def test_an_unusable_upload_before_any_input_leaves_the_prompt(canvas):
    at = draw_page()
    upload(at, "notes.png", b"not a picture at all")
    assert len(at.error) == 1
    assert metric(at, "Prediction") is None
    assert any("Draw a digit" in i.value for i in at.info)


# --- unusable drawings: one st.info line, previous input kept ---------------------------------

OPAQUE_BLACK = np.zeros((280, 280, 4), np.uint8)
OPAQUE_BLACK[..., 3] = 255
OPAQUE_WHITE = np.full((280, 280, 4), 255, np.uint8)

BAD_DRAWINGS = [
    ("blank canvas", np.zeros((280, 280, 4), np.uint8), False, "canvas is empty"),
    ("black strokes on black", OPAQUE_BLACK, True, "blank"),
    ("canvas painted white", OPAQUE_WHITE, True, "blank"),
    ("zero-size array", np.zeros((0, 0, 4), np.uint8), True, "no pixels"),
]


@pytest.mark.parametrize(
    "rgba, objects, says", [c[1:] for c in BAD_DRAWINGS], ids=[c[0] for c in BAD_DRAWINGS]
)
def test_unusable_drawing_gives_one_line_and_keeps_the_previous_input(
    canvas, mnist_test, bundled, rgba, objects, says
):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 1)
    at = draw_page(x_test, y_test, previous=1)
    before = np.array(at.session_state[state.CURRENT_IMAGE])
    canvas.draw(rgba, objects)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    lines = messages(at)
    assert len(lines) == 1 and says in lines[0], lines
    assert "previous input is kept" in lines[0]
    np.testing.assert_array_equal(at.session_state[state.CURRENT_IMAGE], before)
    assert metric(at, "Prediction") == str(label)


# --- odd but valid inputs: the right digit ----------------------------------------------------


def _drawing(digit, **kw) -> Image.Image:
    return Image.open(io.BytesIO(make_drawing(digit, **kw)))


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def transparent_png(x_test, i):
    """Dark ink on a fully transparent background (the ink only in the alpha channel)."""
    ink = np.asarray(_drawing(x_test[i], scale=4, offset=(40, 40), invert=False))
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink
    return encode(rgba, "PNG")


def exif_rotated_jpeg(x_test, i):
    """Stored turned 90 degrees, with EXIF orientation 6 saying how to show it upright."""
    upright = _drawing(x_test[i], scale=4, offset=(30, 50))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=92)


def gray16_png(x_test, i):
    gray = np.asarray(_drawing(x_test[i], scale=3, offset=(50, 50))).astype(np.uint16) * 257
    data = _save(Image.fromarray(gray), "PNG")
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")
    return data


def cmyk_jpeg(x_test, i):
    rgb = _drawing(x_test[i], scale=3, offset=(10, 90)).convert("RGB")
    data = _save(rgb.convert("CMYK"), "JPEG", quality=92)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    return data


def animated_gif(x_test, i):
    """Two frames: the digit first, another digit second (which must be ignored)."""
    first, second = _drawing(x_test[i], offset=(40, 40)), _drawing(x_test[i + 1], offset=(40, 40))
    return _save(first, "GIF", save_all=True, append_images=[second], duration=200, loop=0)


def palette_png(x_test, i):
    """Blue ink on yellow paper, quantised to a 16-colour palette."""
    gray = np.asarray(_drawing(x_test[i], scale=3, offset=(100, 5)), dtype=np.float32)
    ink = (255 - gray[..., None]) / 255
    rgb = np.array([250, 230, 80]) * (1 - ink) + np.array([20, 30, 160]) * ink
    image = Image.fromarray(rgb.astype(np.uint8)).quantize(colors=16)
    assert image.mode == "P"
    return _save(image, "PNG")


def large_photo(x_test, i):
    """4000 x 3000 JPEG of dark ink on noisy, unevenly lit paper (about 3.8 MB)."""
    return make_photo(x_test[i], size=(3000, 4000), digit_height=1200, offset=(700, 2100))


# (case, builder, MNIST test index) - each index is a digit the bundled model reads correctly
GOOD_UPLOADS = [
    ("transparent.png", transparent_png, 0),
    ("rotated.jpg", exif_rotated_jpeg, 1),
    ("gray16.png", gray16_png, 3),
    ("cmyk.jpg", cmyk_jpeg, 4),
    ("animated.gif", animated_gif, 7),
    ("palette.png", palette_png, 11),
    ("photo.jpg", large_photo, 15),
]


@pytest.mark.parametrize("name, build, index", GOOD_UPLOADS, ids=[c[0] for c in GOOD_UPLOADS])
def test_odd_but_valid_upload_is_predicted_right(canvas, mnist_test, bundled, name, build, index):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, index)
    if name == "animated.gif":
        assert int(y_test[index + 1]) != label  # the second frame is another digit
    at = draw_page(x_test, y_test, previous=2)
    upload(at, name, build(x_test, index))
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == f"upload: {name}"
    assert metric(at, "Prediction") == str(label)


def one_pixel_seven() -> bytes:
    """A "7" drawn with a 1-pixel pen, black on white, 200 x 200."""
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(40, 30), (160, 30), (150, 60), (90, 175)], fill=0, width=1)
    return _save(image, "PNG")


def test_one_pixel_strokes_upload_is_predicted_right(canvas):
    at = draw_page()
    upload(at, "thin-seven.png", one_pixel_seven())
    assert not at.error
    assert metric(at, "Prediction") == "7"


def test_one_pixel_stroke_on_the_canvas_is_predicted_right(canvas):
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[:, :, 3] = 255  # the page's canvas is opaque black
    rgba[40:240, 140, :] = 255  # a "1" one pixel wide
    at = draw_page()
    canvas.draw(rgba)
    at.run()
    assert not at.exception and not messages(at)
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == "drawing"
    assert metric(at, "Prediction") == "1"


def test_canvas_drawing_of_a_digit_is_predicted_right(canvas, mnist_test, bundled):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 6)
    at = draw_page(x_test, y_test, previous=2)
    canvas.draw(black_canvas(x_test[6]))
    at.run()
    assert not at.exception and not messages(at)
    assert metric(at, "Prediction") == str(label)


# =============================================================================================
# Model files
# =============================================================================================


class MarkerPayload:
    """A pickle that, when unpickled, creates the directory ``marker`` (os.mkdir)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # object arrays are pickled into the file
    return buf.getvalue()


def poisoned_models(marker: Path) -> dict[str, bytes]:
    """Model files with the marker pickle in the architecture, a weight, or the metadata."""
    payload = np.empty(1, dtype=object)
    payload[0] = MarkerPayload(marker)
    good = dict(np.load(io.BytesIO(nn.to_bytes(nn.tutorial_model(seed=0))), allow_pickle=False))
    return {
        "architecture": npz_bytes(architecture=payload),
        "weight": npz_bytes(**{**good, "weight_0": payload}),
        "metadata": npz_bytes(**{**good, "metadata": payload}),
    }


def test_the_marker_pickle_really_runs_when_unpickled(tmp_path):
    """The oracle is live: unpickling the payload does create the marker."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(MarkerPayload(marker)))
    assert marker.is_dir()
    other = tmp_path / "ran-too"
    with np.load(io.BytesIO(poisoned_models(other)["architecture"]), allow_pickle=True) as npz:
        npz["architecture"]
    assert other.is_dir()


@pytest.mark.parametrize("where", ["architecture", "weight", "metadata"])
def test_load_model_refuses_pickles_without_running_them(tmp_path, where):
    marker = tmp_path / "ran"
    data = poisoned_models(marker)[where]
    for source in (data, io.BytesIO(data)):
        with pytest.raises(InputError, match="pickled"):
            nn.load_model(source)
    path = tmp_path / "evil.npz"
    path.write_bytes(data)
    with pytest.raises(InputError, match="pickled"):
        nn.load_model(path)
    assert not marker.exists()


def with_architecture(change) -> bytes:
    """The tutorial model's file with its architecture JSON changed by ``change(config)``."""
    arrays = dict(np.load(io.BytesIO(nn.to_bytes(nn.tutorial_model(seed=0))), allow_pickle=False))
    config = json.loads(str(arrays["architecture"]))
    change(config)
    arrays["architecture"] = np.array(json.dumps(config))
    return npz_bytes(**arrays)


def corrupt_compressed_member(data: bytes, where: str = "middle") -> bytes:
    """Damage weight_0.npy's deflate stream: garbage in its middle (a CRC mismatch), or its
    first byte inverted (the stream itself no longer decompresses: zlib.error)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo("weight_0.npy")
    local = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[local + 26 : local + 30])
    start = local + 30 + name_len + extra_len
    if where == "start":
        return data[:start] + bytes([data[start] ^ 0xFF]) + data[start + 1 :]
    middle = start + info.compress_size // 2
    return data[:middle] + b"\xff\x00\xff\x00\xff\x00\xff\x00" + data[middle + 8 :]


def _model(input_shape=(28, 28, 1), units=10, activation="softmax") -> bytes:
    layers = [
        nn.Conv2D(4, 3, input_shape=input_shape),
        nn.MaxPooling2D(2),
        nn.Flatten(),
        nn.Dense(units, activation=activation),
    ]
    return nn.to_bytes(nn.Sequential(layers, seed=0))


def _set(config, path, value):
    target = config
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _wrong_weights() -> bytes:
    arrays = dict(np.load(io.BytesIO(_model()), allow_pickle=False))
    arrays["weight_0"] = np.zeros((2, 2), np.float32)
    return npz_bytes(**arrays)


GOOD_MODEL = nn.to_bytes(nn.tutorial_model(seed=0))
# (file name, contents, what the one st.error must say)
BAD_MODELS = [
    ("empty.npz", b"", "empty"),
    ("notes.npz", b"a text file renamed .npz\n" * 10, "not a cnnviz model"),  # load_model says it
    ("half.npz", GOOD_MODEL[: len(GOOD_MODEL) // 2], "damaged or truncated"),
    ("bitrot.npz", corrupt_compressed_member(GOOD_MODEL), "damaged or truncated"),
    ("bad-deflate.npz", corrupt_compressed_member(GOOD_MODEL, "start"), "damaged or truncated"),
    ("arrays.npz", npz_bytes(a=np.zeros(3)), "not a cnnviz model"),
    ("wrong-weights.npz", _wrong_weights(), "shaped"),
    ("cifar.npz", _model(input_shape=(32, 32, 3)), "28x28"),
    ("five-classes.npz", _model(units=5), "10 outputs"),
    ("logits.npz", _model(activation=None), "softmax"),
    (
        "unknown-layer.npz",
        with_architecture(lambda c: _set(c, ["layers", 0, "class"], "Lambda")),
        "architecture",
    ),
    (
        "absurd.npz",
        with_architecture(lambda c: _set(c, ["layers", 3, "config", "units"], 2**40)),
        "",
    ),
]


# Engine problems found by these tests and fixed in cnnviz/nn/io.py (the model picker guards
# against them too).


def test_engine_a_broken_deflate_stream_is_an_input_error():
    with pytest.raises(InputError):
        nn.load_model(corrupt_compressed_member(GOOD_MODEL, "start"))


def test_engine_a_text_file_is_not_called_a_pickle():
    with pytest.raises(InputError) as info:
        nn.load_model(b"a text file renamed .npz\n" * 10)
    assert "pickled" not in str(info.value)


def test_engine_an_absurd_architecture_is_refused_before_allocating():
    data = with_architecture(lambda c: _set(c, ["layers", 3, "config", "units"], 2**40))
    with pytest.raises(InputError):
        nn.load_model(data)


@pytest.mark.parametrize("name, data, says", BAD_MODELS, ids=[c[0] for c in BAD_MODELS])
def test_bad_model_upload_gives_one_error_and_keeps_the_model(
    canvas, mnist_test, bundled, name, data, says
):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 3)
    at = draw_page(x_test, y_test, previous=3)
    at.sidebar.file_uploader(key="model_picker_upload").upload(
        name, data, "application/octet-stream"
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and name in errors[0] and says in errors[0], errors
    assert errors[0].count(". ") == 0  # one sentence
    assert at.session_state[state.CURRENT_MODEL_CHOICE] == BUNDLED
    assert state.UPLOADED_MODEL not in at.session_state
    assert metric(at, "Prediction") == str(label)


@pytest.mark.parametrize("where", ["architecture", "weight", "metadata"])
def test_pickled_model_upload_is_refused_without_running_it(canvas, mnist_test, tmp_path, where):
    x_test, y_test = mnist_test
    marker = tmp_path / "ran"
    at = draw_page(x_test, y_test, previous=3)
    at.sidebar.file_uploader(key="model_picker_upload").upload(
        "evil.npz", poisoned_models(marker)[where], "application/octet-stream"
    )
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "pickled" in errors[0], errors
    assert not marker.exists()
    assert at.session_state[state.CURRENT_MODEL_CHOICE] == BUNDLED


def test_model_with_junk_class_names_still_works(canvas, mnist_test, bundled):
    """Metadata is free text in a user's file: odd class names fall back to the digits."""
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 3)
    arrays = dict(np.load(io.BytesIO(nn.to_bytes(bundled)), allow_pickle=False))
    for junk in (5, "abc", [1, 2], None, {"a": 1}):
        arrays["metadata"] = np.array(json.dumps({"class_names": junk}))
        at = draw_page(x_test, y_test, previous=3)
        at.sidebar.file_uploader(key="model_picker_upload").upload(
            "odd.npz", npz_bytes(**arrays), "application/octet-stream"
        )
        at.run()
        assert not at.exception, (junk, [e.value for e in at.exception])
        assert at.session_state[state.CURRENT_MODEL_CHOICE] == models.UPLOADED_LABEL
        assert metric(at, "Prediction") == str(label)


def test_model_whose_outputs_overflow_says_so(canvas, mnist_test):
    """Finite but enormous weights make the softmax NaN: one error instead of NaN bars."""
    x_test, y_test = mnist_test
    model = nn.tutorial_model(seed=0)
    model.set_weights([w * np.float32(1e30) for w in model.get_weights()])
    at = draw_page(x_test, y_test, previous=3)
    at.sidebar.file_uploader(key="model_picker_upload").upload(
        "huge.npz", nn.to_bytes(model), "application/octet-stream"
    )
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "not finite" in errors[0], errors
    assert metric(at, "Prediction") is None


# --- saving: a crash midway never leaves a broken file ----------------------------------------


REAL_FDOPEN = os.fdopen


class CrashingFile:
    """A file that writes the first ``limit`` bytes, then fails with ``error`` (a full disk,
    or Ctrl-C in the middle of the write)."""

    def __init__(self, fd: int, limit: int, error: BaseException):
        self.f = REAL_FDOPEN(fd, "wb")
        self.limit = limit
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False

    def write(self, data):
        self.f.write(bytes(data)[: self.limit])
        self.f.flush()
        raise self.error

    def flush(self):
        self.f.flush()

    def fileno(self):
        return self.f.fileno()


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk full", "ctrl-c"],
)
def test_a_save_that_crashes_midway_keeps_the_old_file(tmp_path, monkeypatch, error):
    path = tmp_path / "model.npz"
    old = nn.tutorial_model(seed=1)
    old.save(path)
    before = path.read_bytes()
    new = nn.strong_model(filters=4, seed=2)
    writes = []

    def crash(fd, mode="wb", *args, **kwargs):
        writes.append(fd)
        return CrashingFile(fd, limit=1000, error=error)

    monkeypatch.setattr(os, "fdopen", crash)
    with pytest.raises(type(error)):
        new.save(path)
    monkeypatch.undo()
    assert writes, "the save never reached the write"
    assert path.read_bytes() == before  # untouched, byte for byte
    loaded = nn.load_model(path)
    for a, b in zip(loaded.get_weights(), old.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left


SAVE_LOOP = """
import sys
from cnnviz import nn
model = nn.strong_model(filters=32, seed=0)
print("ready", flush=True)
i = 0
while True:
    model.layers[0].params["kernel"][...] = i % 7  # every save differs
    nn.save_model(model, sys.argv[1])
    i += 1
"""


@pytest.mark.slow
def test_killing_a_process_mid_save_never_leaves_a_broken_file(tmp_path):
    """SIGKILL a process that saves a model over and over: the file always loads."""
    path = tmp_path / "model.npz"
    nn.strong_model(filters=32, seed=0).save(path)
    rng = np.random.default_rng(0)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVE_LOOP, str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.3, 1.0)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        model = nn.load_model(path)  # a whole file: the old one or the new one
        assert model.count_params() == nn.strong_model(filters=32, seed=0).count_params()
    # A killed process cannot clean up: at most one hidden temporary file per kill remains,
    # never under the model's own name.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert all(n.startswith(".model.npz.") and n.endswith(".tmp") for n in leftovers)


# =============================================================================================
# Kernel cells on the Convolution page
# =============================================================================================

TUTORIAL = np.array([[0, 50, 0, 29], [0, 80, 31, 2], [33, 90, 0, 75], [0, 9, 0, 95]], float)
SOBEL_V = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


def convolution_page(edits: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/2_convolution.py").run()
    at.selectbox(key="conv.filter").set_value("Custom 3×3 (type it)").run()
    assert not at.exception, [e.value for e in at.exception]
    if edits:
        at.session_state["conv.custom_kernel"] = {
            "edited_rows": edits,
            "added_rows": [],
            "deleted_rows": [],
        }
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


BAD_CELLS = [
    ("", 0, 1, "Row 1, column 1 is empty"),
    ("   ", 2, 2, "Row 3, column 2 is empty"),
    ("abc", 1, 3, "Row 2, column 3 is not a number"),
    ("nan", 0, 2, "Row 1, column 2 is NaN"),
    ("inf", 2, 3, "Row 3, column 3 is infinite"),
    ("-inf", 1, 1, "Row 2, column 1 is infinite"),
    ("1e999", 1, 2, "Row 2, column 2 is"),
]


@pytest.mark.parametrize(
    "text, row, col, says", BAD_CELLS, ids=[c[0] or "empty" for c in BAD_CELLS]
)
def test_bad_kernel_cell_is_named(text, row, col, says):
    at = convolution_page({row: {f"col {col}": text}})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(says), errors
    assert not at.metric  # nothing computed with a bad kernel


@pytest.mark.parametrize("big", ["1e30", "-3e300", "1.7e308"])
def test_huge_kernel_values_still_compute_and_display(big):
    at = convolution_page({0: {"col 1": big}, 2: {"col 3": big}})
    assert not at.error
    kernel = np.array(SOBEL_V, float)
    kernel[0, 0] = kernel[2, 2] = float(big)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = correlate2d(TUTORIAL, kernel, "valid")
    output = at.session_state[state.LAST_CONV_OUTPUT]
    np.testing.assert_allclose(output, expected, rtol=1e-12)
    shown = next(m.value for m in at.metric if m.label.startswith("Sum"))
    assert shown  # a number (possibly inf when the sum overflows) is on screen
    assert float(shown.replace(",", "").replace("−", "-")) == pytest.approx(expected[0, 0])


# =============================================================================================
# Training settings
# =============================================================================================


def run_worker(**settings) -> TrainingWorker:
    settings.setdefault("test_size", 100)
    worker = TrainingWorker(TrainingConfig(**settings))
    worker.start()
    assert worker.join(120)
    return worker


def finite_loss(model, worker) -> float:
    """Cross-entropy of ``model`` on the run's training images, computed here."""
    probs = model.predict(worker.x_train.astype(np.float32) / 255.0 - 0.5)
    picked = probs[np.arange(len(worker.y_train)), worker.y_train.astype(int)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1))))


def test_learning_rate_1e6_with_sgd_diverges_stops_says_so_and_keeps_finite_weights():
    worker = run_worker(optimizer="sgd", learning_rate=1e6, train_size=300, epochs=3)
    snap = worker.snapshot()
    assert snap.status == "diverged"
    assert "learning rate" in snap.message and snap.message.count(". ") == 0
    assert snap.samples_seen < snap.total_samples  # stopped early
    weights = worker.model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights)
    assert np.isfinite(finite_loss(worker.model, worker))
    assert snap.result is not None and 0 <= snap.result.test_accuracy <= 1


def test_learning_rate_1e6_with_adam_trains_to_the_end_with_finite_weights():
    """Adam's step is bounded by the learning rate (m / sqrt(v) is about 1), so even 1e6 only
    makes the loss huge, never NaN: the run must go on to its end, not stop as diverged."""
    worker = run_worker(optimizer="adam", learning_rate=1e6, train_size=300, epochs=1)
    snap = worker.snapshot()
    assert snap.status == "finished", snap.message
    assert snap.samples_seen == snap.total_samples == 300
    assert all(np.isfinite(loss) for loss in snap.history["loss"])
    assert all(np.all(np.isfinite(w)) for w in worker.model.get_weights())


def test_batch_larger_than_the_subset_trains_one_batch_per_epoch():
    worker = run_worker(batch_size=256, train_size=40, epochs=2)
    snap = worker.snapshot()
    assert snap.status == "finished"
    assert snap.steps_per_epoch == 1 and len(snap.history["loss"]) == 2
    assert snap.samples_seen == 80


def test_a_subset_of_one_image_trains():
    worker = run_worker(train_size=1, test_size=1, batch_size=32, epochs=3)
    snap = worker.snapshot()
    assert snap.status == "finished"
    assert len(worker.x_train) == 1 and len(snap.history["loss"]) == 3


@pytest.mark.parametrize(
    "settings, says",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch size"),
        ({"train_size": 0}, "training subset"),
        ({"learning_rate": float("nan")}, "learning rate"),
        ({"learning_rate": float("inf")}, "learning rate"),
        ({"learning_rate": 0.0}, "learning rate"),
        ({"learning_rate": -1.0}, "learning rate"),
        ({"dataset": "No such set"}, "not on this machine"),
    ],
)
def test_impossible_settings_are_refused_up_front(settings, says):
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(InputError, match=says):
        TrainingWorker(TrainingConfig(**settings))
    assert {t.name for t in threading.enumerate()} <= before  # nothing started


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def train_page() -> AppTest:
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    assert not at.exception
    return at


def wait_done(at: AppTest, timeout: float = 120) -> TrainingWorker:
    worker = at.session_state[state.TRAINER]
    assert worker.join(timeout)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return worker


@pytest.mark.parametrize("optimizer, rate", [("Adam", 1000.0), ("SGD", 1000.0), ("SGD", 1e-4)])
def test_train_page_extreme_learning_rates_end_with_a_message(optimizer, rate):
    at = train_page()
    at.radio(key="train_optimizer").set_value(optimizer)
    at.select_slider(key="train_learning_rate").set_value(rate)
    at.select_slider(key="train_train_size").set_value(500)
    at.select_slider(key="train_test_size").set_value(500)
    at.slider(key="train_epochs").set_value(1)
    at.run()
    next(b for b in at.button if b.label == "Start").click().run()
    worker = wait_done(at)
    snap = worker.snapshot()
    assert all(np.all(np.isfinite(w)) for w in worker.model.get_weights())
    if snap.status == "diverged":
        assert [e.value for e in at.error] == [snap.message]
    else:
        assert snap.status == "finished"
        assert any("Training finished" in s.value for s in at.success)
        assert metric(at, "Test accuracy") is not None


def test_train_page_batch_of_256_on_500_images():
    at = train_page()
    at.select_slider(key="train_batch_size").set_value(256)
    at.select_slider(key="train_train_size").set_value(500)
    at.select_slider(key="train_test_size").set_value(500)
    at.slider(key="train_epochs").set_value(1)
    at.run()
    next(b for b in at.button if b.label == "Start").click().run()
    worker = wait_done(at)
    assert worker.snapshot().status == "finished"
    assert worker.snapshot().steps_per_epoch == 2
    assert not at.error


def test_train_page_offers_no_impossible_setting():
    """Zero epochs, an empty subset or a zero batch cannot even be chosen on the page."""
    at = train_page()
    assert at.slider(key="train_epochs").min >= 1
    assert min(o for o in at.select_slider(key="train_batch_size").options) == "1"
    sizes = [o for o in at.select_slider(key="train_train_size").options if o != "all"]
    assert min(int(o) for o in sizes) >= 1


# =============================================================================================
# Server settings
# =============================================================================================


def test_upload_limit_is_set_and_xsrf_protection_is_on():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = config.get("server", {})
    # Megabytes. A phone photo (3-12 MB, up to 25 MB at 48 MP) must fit; Streamlit's default
    # of 200 MB is more than any picture needs, and the engine refuses files over 64 MB.
    assert 25 <= server.get("maxUploadSize", 200) <= 64
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    _, (x_test, _) = mnist.load_data_shared()
    assert len(phone_photo(x_test[15])) < server["maxUploadSize"] * 1024 * 1024


def test_a_stale_click_after_a_reset_is_ignored():
    """Stop / Resume drawn while a run existed, clicked after it was reset (a double click, a
    second tab of the same session): no exception, no new run, and the old run is untouched:
    still paused after its one batch, no more samples seen."""
    at = train_page()
    at.select_slider(key="train_train_size").set_value(500)
    at.select_slider(key="train_test_size").set_value(500)
    at.select_slider(key="train_batch_size").set_value(32)
    at.run()
    next(b for b in at.button if b.label == "One batch").click().run()
    worker = at.session_state[state.TRAINER]
    assert wait_until(lambda: worker.snapshot().samples_seen == 32, 60)
    for label in ("Stop", "Resume"):
        del at.session_state[state.TRAINER]  # the run was reset in the meantime
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert state.TRAINER not in at.session_state  # the click started nothing new
        time.sleep(1.0)  # a resumed run would have trained several batches by now
        snap = worker.snapshot()
        assert (snap.status, snap.samples_seen) == ("paused", 32), (label, snap.status)
        at.session_state[state.TRAINER] = worker
        at.run()
    worker.stop()
    assert worker.join(60)
