"""AppTest of what happens to a person's own input: how a drawing or upload became the 28x28
input (MNIST's recipe, step by step), a phone photo, and the label a drawing gets on Softmax &
backprop. The canvas is the ``canvas`` fake from conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import nn, preprocess
from cnnviz.data import mnist
from cnnviz.ui import state
from tests.drawings import black_canvas, make_drawing, phone_photo

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
def mnist_test():
    _, (x_test, y_test) = mnist.load_data_shared()
    return x_test, y_test


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
