"""AppTest of what happens to a person's own input on the Draw & predict page: a drawing or an
upload becomes the 28x28 input (MNIST's recipe, step by step, shown in an expander), a random
MNIST digit, a phone photo, the label a drawing gets on Softmax & backprop; unusable uploads
and drawings, odd but valid files; the upload limit in .streamlit/config.toml. The canvas is the
``canvas`` fake from conftest.py.

Oracles: predictions shown by the page are checked against the model run directly on the MNIST
digit scaled the tutorial's way (x / 255 - 0.5), and the true MNIST labels.

* Unusable uploads and drawings give one st.error / st.info line and keep the previous input;
  odd but valid files are predicted as the MNIST label of the digit they were made from (the
  oracle), by the bundled model.
* The fuzz over ``to_mnist`` (random bytes, random arrays of any dtype and shape) lives in
  tests/test_preprocess.py (``test_fuzz_*``) and is not repeated here.

Damaged or poisoned model files uploaded on this page are in tests/test_model_files.py.
"""

from __future__ import annotations

import io
import struct
import tomllib
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from cnnviz import nn, preprocess
from cnnviz.data import mnist
from cnnviz.ui import models, state
from tests.apptest import (
    bundled_gets_right,
    draw_page,
    messages,
    metric,
    needs_bundled_model,
    upload,
)
from tests.drawings import black_canvas, encode, make_drawing, make_photo, phone_photo

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
DRAW = str(ROOT / "pages" / "1_draw_predict.py")
SOFTMAX = "pages/4_softmax_backprop.py"

# MNIST's own recipe, in the order it was made (LeCun et al.): these must appear in this order.
RECIPE = [
    "Original",
    "Grayscale",
    "Ink bright on dark",
    "Background removed",
    "Cropped to the ink",
    "Scaled to 20 pixels",
    "Centred in 28 x 28",
]


@pytest.fixture(scope="module")
def tutorial():
    return nn.load_model(nn.bundled_models()["Tutorial network"])


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def recipe_expander(at: AppTest):
    found = [e for e in at.expander if "became the 28x28 input" in e.label]
    return found[0] if found else None


def step_labels(expander) -> list[str]:
    """The bold lines under the pictures, "**3. Ink bright on dark** (280 × 280 px)", in the
    order of their numbers (the columns hold steps 1, 5; 2, 6; ... so the tree order differs)."""
    labels = [m.value for m in expander.markdown if m.value.startswith("**") and ". " in m.value]
    return sorted(labels, key=lambda text: int(text[2:].split(".", 1)[0]))


def step_titles(expander) -> list[str]:
    return [label.split(". ", 1)[1].split("**", 1)[0] for label in step_labels(expander)]


def in_order(titles: list[str], expected: list[str]) -> bool:
    position = 0
    for title in titles:
        if position < len(expected) and title == expected[position]:
            position += 1
    return position == len(expected)


def test_a_drawing_shows_how_it_became_the_28x28_input(canvas, mnist_test):
    x_test, _ = mnist_test
    at = ok(AppTest.from_file(DRAW, default_timeout=90).run())
    assert recipe_expander(at) is None  # nothing drawn yet: nothing to explain
    canvas.draw(black_canvas(x_test[0]))
    ok(at.run())
    expander = recipe_expander(at)
    assert expander is not None and "drawing" in expander.label
    titles = step_titles(expander)
    assert titles[0] == "Original" and titles[-1] == "Centred in 28 x 28"
    assert in_order(titles, RECIPE), titles
    pictures = expander.get("image")
    assert len(pictures) == len(titles)
    sizes = step_labels(expander)
    assert "(280 × 280 px)" in sizes[0] and "(28 × 28 px)" in sizes[-1]
    assert any("(20 × " in s or " × 20 px)" in s for s in sizes)  # the 20 px box
    assert len(expander.caption) == len(titles)  # one sentence under each picture


def test_an_mnist_digit_has_no_recipe_to_show(canvas):
    at = ok(AppTest.from_file(DRAW, default_timeout=90).run())
    ok(at.button(key="random_digit").click().run())
    assert at.session_state[state.CURRENT_IMAGE] is not None
    assert recipe_expander(at) is None


def test_an_upload_shows_its_own_size_first(canvas, mnist_test):
    x_test, _ = mnist_test
    at = ok(AppTest.from_file(DRAW, default_timeout=90).run())
    data = make_drawing(x_test[3], scale=4, offset=(10, 30), canvas=150)
    at.file_uploader(key="image_upload").upload("three.png", data, "image/png")
    ok(at.run())
    expander = recipe_expander(at)
    assert expander is not None and "picture" in expander.label
    sizes = step_labels(expander)
    assert sizes[0] == "**1. Original** (150 × 150 px)"


@pytest.mark.slow
def test_a_phone_photo_upload_is_predicted_right(canvas, mnist_test):
    """A 4000 x 3000 JPEG of 6-10 MB, as a phone takes it, is read and predicted right."""
    x_test, y_test = mnist_test
    data = phone_photo(x_test[15])
    assert 6e6 <= len(data) <= 10e6
    at = ok(AppTest.from_file(DRAW, default_timeout=120).run())
    at.file_uploader(key="image_upload").upload("IMG_0001.jpg", data, "image/jpeg")
    ok(at.run())
    assert not at.error
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == "upload: IMG_0001.jpg"
    prediction = next(m.value for m in at.metric if m.label == "Prediction")
    assert prediction == str(int(y_test[15]))
    sizes = step_labels(recipe_expander(at))
    assert sizes[0] == "**1. Original** (3000 × 4000 px)"


def softmax_after_drawing(canvas, rgba) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/1_draw_predict.py")
    canvas.draw(rgba)
    ok(at.run())
    at.switch_page(SOFTMAX)
    return ok(at.run())


def test_softmax_starts_a_drawing_at_the_networks_guess_and_says_so(canvas, mnist_test, tutorial):
    x_test, _ = mnist_test
    # Two drawings the bundled tutorial network reads as two different digits.
    first = 0
    guesses = {}
    for i in range(50):
        rgba = black_canvas(x_test[i])
        image = preprocess.to_mnist(rgba)
        guesses[i] = int(tutorial.predict(preprocess.to_model_input(image)).argmax())
    second = next(i for i in range(1, 50) if guesses[i] != guesses[first])

    at = softmax_after_drawing(canvas, black_canvas(x_test[first]))
    assert at.selectbox(key="softmax.label").value == guesses[first]
    note = " ".join(c.value for c in at.caption)
    assert "assumption" in note and f"**{guesses[first]}**" in note
    loss = float(next(m.value for m in at.metric if m.label == "Cross-entropy loss"))
    assert loss < 2.3  # its own guess has p > 0.1, unlike label 0 for a 7 (loss 23.7 before)

    # The student says it is another digit: the choice stays through a rerun.
    other = (guesses[first] + 1) % 10
    ok(at.selectbox(key="softmax.label").set_value(other).run())
    assert at.selectbox(key="softmax.label").value == other
    ok(at.run())
    assert at.selectbox(key="softmax.label").value == other

    # A new drawing starts again from its own guess.
    at.switch_page("pages/1_draw_predict.py")
    canvas.draw(black_canvas(x_test[second]))
    ok(at.run())
    at.switch_page(SOFTMAX)
    ok(at.run())
    assert at.selectbox(key="softmax.label").value == guesses[second]


def test_softmax_keeps_the_true_label_of_an_mnist_digit(mnist_test):
    x_test, y_test = mnist_test
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[state.CURRENT_IMAGE] = x_test[8].astype(np.float32) / 255
    at.session_state[state.CURRENT_IMAGE_SOURCE] = "MNIST test digit #8"
    at.session_state[state.CURRENT_LABEL] = int(y_test[8])
    at.run()
    at.switch_page(SOFTMAX)
    ok(at.run())
    assert at.selectbox(key="softmax.label").value == int(y_test[8])
    assert not any("assumption" in c.value for c in at.caption)


# =============================================================================================
# Predictions on the page, with a model trained here
# =============================================================================================


@pytest.fixture(scope="module")
def trained_model():
    """A tutorial network trained for one epoch on 3000 images (about 90% accurate)."""
    (x_train, y_train), _ = mnist.load_data_shared()
    model = nn.tutorial_model(seed=0)
    model.compile(optimizer=nn.Adam(learning_rate=0.005), loss="sparse_categorical_crossentropy")
    model.fit(
        nn.ScaledImages(x_train[:3000]),
        y_train[:3000].astype(np.int64),
        batch_size=32,
        epochs=1,
        verbose=0,
        seed=0,
    )
    return model


def draw_app(model=None) -> AppTest:
    at = AppTest.from_file(DRAW, default_timeout=60)
    if model is not None:
        at.session_state[state.UPLOADED_MODEL] = model
        at.session_state[state.CURRENT_MODEL_CHOICE] = models.UPLOADED_LABEL
    return at.run()


def png_bytes(array: np.ndarray, size: int = 280) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).resize((size, size), Image.Resampling.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def test_draw_page_prompts_before_any_input(trained_model):
    at = draw_app(trained_model)
    assert not at.exception
    assert any("Draw a digit" in info.value for info in at.info)
    assert metric(at, "Prediction") is None
    assert not at.error


def test_random_mnist_digit_is_predicted_like_the_model_on_its_own(trained_model, mnist_test):
    x_test, y_test = mnist_test
    at = draw_app(trained_model)
    at.button(key="random_digit").click().run()
    assert not at.exception
    source = at.session_state[state.CURRENT_IMAGE_SOURCE]
    index = int(source.rsplit("#", 1)[1])
    assert at.session_state[state.CURRENT_LABEL] == y_test[index]
    expected = trained_model.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax()
    assert metric(at, "Prediction") == str(expected)


def test_uploaded_png_of_a_test_digit_is_recognised(trained_model, mnist_test):
    x_test, y_test = mnist_test
    at = draw_app(trained_model)
    at.file_uploader(key="image_upload").upload("seven.png", png_bytes(x_test[0]), "image/png")
    at.run()
    assert not at.exception and not at.error
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == "upload: seven.png"
    seen = at.session_state[state.CURRENT_IMAGE]
    assert seen.shape == (28, 28)
    # The 28x28 image the model sees is the MNIST digit again (up to resampling).
    assert np.corrcoef(seen.ravel(), x_test[0].ravel())[0, 1] > 0.8
    assert metric(at, "Prediction") == str(y_test[0])


def test_a_bad_upload_says_so_in_one_line_and_keeps_the_previous_input(trained_model):
    at = draw_app(trained_model)
    at.button(key="random_digit").click().run()
    before = np.array(at.session_state[state.CURRENT_IMAGE])
    source = at.session_state[state.CURRENT_IMAGE_SOURCE]
    at.file_uploader(key="image_upload").upload("notes.png", b"this is not a picture", "image/png")
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "notes.png" in at.error[0].value
    np.testing.assert_array_equal(at.session_state[state.CURRENT_IMAGE], before)
    assert at.session_state[state.CURRENT_IMAGE_SOURCE] == source
    assert metric(at, "Prediction") is not None


def test_a_blank_upload_is_refused_without_a_traceback(trained_model):
    at = draw_app(trained_model)
    blank = np.zeros((28, 28), dtype=np.uint8)
    at.file_uploader(key="image_upload").upload("blank.png", png_bytes(blank), "image/png")
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert metric(at, "Prediction") is None  # no input yet: still the prompt
    assert any("Draw a digit" in info.value for info in at.info)


@pytest.mark.slow  # the first run may train the start-up model when none is bundled
def test_uploading_a_model_selects_it_and_a_bad_one_is_refused(trained_model, mnist_test):
    x_test, _ = mnist_test
    at = AppTest.from_file(DRAW, default_timeout=60)
    at.session_state[state.CURRENT_IMAGE] = x_test[3].astype(np.float32) / 255.0
    at.session_state[state.CURRENT_IMAGE_SOURCE] = "test"
    at.run()
    uploader = at.sidebar.file_uploader(key="model_picker_upload")
    uploader.upload("broken.npz", b"PK-not-really-a-zip", "application/octet-stream")
    at.run()
    assert not at.exception
    assert any("broken.npz" in e.value for e in at.sidebar.error)
    assert at.session_state[state.CURRENT_MODEL_CHOICE] != models.UPLOADED_LABEL

    at.sidebar.file_uploader(key="model_picker_upload").set_value(
        ("mine.npz", nn.to_bytes(trained_model), "application/octet-stream")
    )
    at.run()
    assert not at.exception
    assert at.session_state[state.CURRENT_MODEL_CHOICE] == models.UPLOADED_LABEL
    probs = trained_model.predict(x_test[3:4] / 255.0 - 0.5)[0]
    expected = probs.argmax()
    assert metric(at, "Prediction") == str(expected)
    # the bars (plain HTML): each class's probability as the model gives it, in its tooltip
    (bars,) = [h.proto.body for h in at.get("html") if "softmax" in h.proto.body]
    for digit, p in enumerate(probs):
        assert f'title="{digit}: {p:.2%}"' in bars


def test_feature_maps_of_every_conv_and_pooling_layer_are_drawn(trained_model, mnist_test):
    x_test, _ = mnist_test
    at = AppTest.from_file(DRAW, default_timeout=60)
    at.session_state[state.CURRENT_IMAGE] = x_test[1].astype(np.float32) / 255.0
    at.session_state[state.UPLOADED_MODEL] = trained_model
    at.session_state[state.CURRENT_MODEL_CHOICE] = models.UPLOADED_LABEL
    at.run()
    assert not at.exception
    titles = [str(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert any("conv2d: 26 x 26 x 8" in t for t in titles)
    assert any("max_pooling2d: 13 x 13 x 8" in t for t in titles)


# =============================================================================================
# Unusable and odd inputs, with the bundled model
# =============================================================================================


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
@needs_bundled_model
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


@needs_bundled_model
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
@needs_bundled_model
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
@needs_bundled_model
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


@needs_bundled_model
def test_one_pixel_strokes_upload_is_predicted_right(canvas):
    at = draw_page()
    upload(at, "thin-seven.png", one_pixel_seven())
    assert not at.error
    assert metric(at, "Prediction") == "7"


@needs_bundled_model
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


@needs_bundled_model
def test_canvas_drawing_of_a_digit_is_predicted_right(canvas, mnist_test, bundled):
    x_test, y_test = mnist_test
    label = bundled_gets_right(bundled, x_test, y_test, 6)
    at = draw_page(x_test, y_test, previous=2)
    canvas.draw(black_canvas(x_test[6]))
    at.run()
    assert not at.exception and not messages(at)
    assert metric(at, "Prediction") == str(label)


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
