"""AppTest for the Draw & predict and Train live pages (no browser).

Predictions shown by the page are checked against the model run directly on the MNIST digit
scaled the tutorial's way (x / 255 - 0.5), and the true MNIST labels; training results against
the trained model's own predictions recomputed here.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import nn
from cnnviz.data import mnist
from cnnviz.ui import models, state

ROOT = Path(__file__).resolve().parent.parent
DRAW = str(ROOT / "pages" / "1_draw_predict.py")
TRAIN = str(ROOT / "pages" / "5_train_live.py")


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = mnist.load_data_shared()
    return x_test, y_test


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


def metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0].value if found else None


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# ----------------------------------------------------------------------------- Draw & predict


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
    expected = trained_model.predict(x_test[3:4] / 255.0 - 0.5).argmax()
    assert metric(at, "Prediction") == str(expected)


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


# ----------------------------------------------------------------------------- Train live


def train_app() -> AppTest:
    return AppTest.from_file(TRAIN, default_timeout=60).run()


def wait_for_worker(at: AppTest, predicate, timeout: float = 120.0):
    worker = at.session_state[state.TRAINER]
    deadline = time.monotonic() + timeout
    while not predicate(worker.snapshot()):
        assert time.monotonic() < deadline, "the training worker did not get there in time"
        time.sleep(0.05)
    return worker


def tiny_settings(at: AppTest, **extra) -> None:
    at.select_slider(key="train_train_size").set_value(500)
    at.select_slider(key="train_test_size").set_value(500)
    at.slider(key="train_epochs").set_value(1)
    for key, value in extra.items():
        at.select_slider(key=key).set_value(value)
    at.run()


def test_train_page_prompts_before_training():
    at = train_app()
    assert not at.exception
    assert any("press **Start**" in info.value for info in at.info)
    assert state.TRAINER not in at.session_state


def test_presets_fill_in_the_settings():
    at = train_app()
    at.radio(key="train_preset").set_value("Tutorial recipe").run()
    assert not at.exception
    # The tutorial's Keras recipe: SGD(learning_rate=0.001), batch_size=1, epochs=30, all data.
    assert at.radio(key="train_optimizer").value == "SGD"
    assert at.select_slider(key="train_learning_rate").value == 0.001
    assert at.select_slider(key="train_batch_size").value == 1
    assert at.slider(key="train_epochs").value == 30
    assert at.select_slider(key="train_train_size").value == "all"
    at.slider(key="train_filters").set_value(4).run()
    assert at.radio(key="train_preset").value == "Custom"
    at.radio(key="train_preset").set_value("Quick demo").run()
    assert at.select_slider(key="train_batch_size").value == 32
    assert at.slider(key="train_filters").value == 8


@pytest.mark.slow
def test_a_tiny_training_run_goes_to_its_end_and_can_be_used():
    at = train_app()
    tiny_settings(at)
    button(at, "Start").click().run()
    assert not at.exception
    worker = wait_for_worker(at, lambda s: s.done)
    at.run()
    assert not at.exception
    snap = worker.snapshot()
    assert snap.status == "finished"
    # The accuracy shown is what the trained model scores on the test subset, recomputed here.
    predicted = worker.model.predict(worker.x_test / 255.0 - 0.5).argmax(axis=1)
    accuracy = float(np.mean(predicted == worker.y_test))
    assert metric(at, "Test accuracy") == f"{accuracy:.2%}"
    assert any("Training finished" in s.value for s in at.success)
    assert len(at.get("download_button")) == 1
    button(at, "Use this model on the other pages").click().run()
    assert at.session_state[state.SESSION_MODEL] is worker.model
    assert at.session_state[state.CURRENT_MODEL_CHOICE] == models.SESSION_LABEL


def test_a_diverging_run_stops_itself_and_says_so():
    at = train_app()
    at.radio(key="train_optimizer").set_value("SGD")
    tiny_settings(at, train_learning_rate=1000.0)
    button(at, "Start").click().run()
    worker = wait_for_worker(at, lambda s: s.done)
    at.run()
    assert not at.exception
    assert worker.snapshot().status == "diverged"
    assert any("learning rate" in e.value for e in at.error)
    assert all(np.all(np.isfinite(w)) for w in worker.model.get_weights())


def test_step_one_batch_then_stop_then_reset():
    at = train_app()
    tiny_settings(at)
    button(at, "One batch").click().run()
    worker = wait_for_worker(at, lambda s: s.samples_seen == 32 and s.status == "paused")
    at.run()
    assert not at.exception
    assert button(at, "Resume") is not None
    button(at, "Stop").click().run()
    wait_for_worker(at, lambda s: s.done)
    assert worker.snapshot().status == "stopped"
    at.run()
    button(at, "Reset").click().run()
    assert not at.exception
    assert state.TRAINER not in at.session_state
    assert any("press **Start**" in info.value for info in at.info)


def test_train_settings_survive_a_visit_to_another_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/5_train_live.py").run()
    at.radio(key="train_preset").set_value("Tutorial recipe").run()
    at.switch_page("pages/1_draw_predict.py").run()
    assert not at.exception
    at.switch_page("pages/5_train_live.py").run()
    assert not at.exception
    assert at.radio(key="train_preset").value == "Tutorial recipe"
    assert at.select_slider(key="train_batch_size").value == 1
