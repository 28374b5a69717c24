"""Model files (.npz): loading, saving and uploading them, at the engine and the page level.

* A .npz carrying a pickle whose unpickling would create a marker directory is refused, by
  ``nn.load_model`` and by the model picker, and the marker never appears (the oracle: the same
  payload does create it when unpickled on purpose).
* Damaged / mismatched files give one sentence in the model picker of the Draw & predict page
  (AppTest), which keeps the bundled model and keeps predicting the MNIST label of the current
  digit; odd metadata falls back to the digits; a model whose outputs overflow says so.
* Engine problems found this way and fixed in cnnviz/nn/io.py are checked directly
  (``test_engine_*``).
* A save that crashes midway (full disk, Ctrl-C, SIGKILL of the saving process) leaves the old
  file intact, loadable and byte-for-byte the same, and no temporary file under its name.

Uploading a good model in the picker is in tests/test_app_inputs.py
(``test_uploading_a_model_selects_it_and_a_bad_one_is_refused``).
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
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnviz import nn
from cnnviz.errors import InputError
from cnnviz.ui import models, state
from tests.apptest import BUNDLED, ROOT, bundled_gets_right, draw_page, metric, needs_bundled_model

pytestmark = needs_bundled_model


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
