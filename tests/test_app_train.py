"""AppTest of the Train live page (no browser): presets, a tiny run to its end, stepping one
batch, stop, reset, a diverging run, extreme learning rates and batch sizes, settings that
cannot be chosen, a stale click after a reset, settings kept across a visit to another page.

Oracles: the test accuracy shown is what the trained model scores on the test subset,
recomputed here from its own predictions; the run's status, samples seen and weights are read
from the training worker itself. The worker on its own (headless) is tested in
tests/test_training.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.training import TrainingWorker
from cnnviz.ui import models, state
from tests.apptest import metric

ROOT = Path(__file__).resolve().parent.parent
TRAIN = str(ROOT / "pages" / "5_train_live.py")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


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


# --- Extreme and impossible settings -------------------------------------------------------------


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
