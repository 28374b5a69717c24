"""The session-owned training worker: start, pause, step, resume, stop, finish, diverge, end.

A tiny MNIST subset (256 training, 64 test images, batches of 32) keeps every test fast.
Waiting is done by polling the worker's snapshot with a generous deadline; no test asserts
how long anything took.

Extreme settings (the end of this file) run on the real MNIST subsets the settings ask for:
learning rates of 1e6 (SGD diverges, stops and says so; Adam trains on with finite weights,
its step being bounded by the learning rate), a batch larger than the subset, a one-image
subset, and impossible settings (zero epochs, a NaN learning rate, ...) refused before any
thread starts. The loss is recomputed here from the model's own predictions. The same settings
on the Train live page are in tests/test_app_train.py.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cnnviz.data import mnist
from cnnviz.errors import InputError
from cnnviz.nn.inspect import confusion_matrix
from cnnviz.training import TrainingConfig, TrainingWorker

N_TRAIN, N_TEST, BATCH = 256, 64, 32


@pytest.fixture(scope="module")
def tiny_data():
    (x_train, y_train), (x_test, y_test) = mnist.load_data_shared()
    return (x_train[:N_TRAIN], y_train[:N_TRAIN]), (x_test[:N_TEST], y_test[:N_TEST])


def config(**changes) -> TrainingConfig:
    base = dict(
        filters=4,
        optimizer="adam",
        learning_rate=0.01,
        batch_size=BATCH,
        epochs=1,
        train_size=None,
        test_size=None,
        seed=1,
    )
    base.update(changes)
    return TrainingConfig(**base)


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not get there in time")
        time.sleep(0.01)


def test_a_run_finishes_with_curves_log_and_test_scores(tiny_data):
    worker = TrainingWorker(config(epochs=2), data=tiny_data)
    worker.start()
    assert worker.join(timeout=120)
    snap = worker.snapshot()
    assert snap.status == "finished"
    assert snap.samples_seen == 2 * N_TRAIN
    assert len(snap.history["loss"]) == 2 and len(snap.history["val_loss"]) == 2
    assert snap.log[0] == "Epoch 1/2" and "Epoch 2/2" in snap.log
    assert any("val_loss" in line for line in snap.log)
    assert snap.filters.shape == (3, 3, 4)
    # The result is scored on the test subset: recompute it from the model's own predictions.
    (_, _), (x_test, y_test) = tiny_data
    probs = worker.model.predict(x_test.astype(np.float32) / 255 - 0.5)
    predicted = probs.argmax(axis=1)
    assert snap.result.test_accuracy == pytest.approx(np.mean(predicted == y_test))
    assert snap.result.confusion.sum() == N_TEST
    assert np.trace(snap.result.confusion) == np.sum(predicted == y_test)
    for index, true, pred in snap.result.misclassified:
        assert y_test[index] == true and predicted[index] == pred and true != pred


def test_the_sample_digit_shows_the_finished_models_own_view(tiny_data):
    """The live sample (the first test digit) at the end of a run: its probabilities are what the
    trained model predicts for it, and its feature maps are the first conv layer's outputs,
    recomputed here with SciPy from the trained filters."""
    from scipy.signal import correlate2d

    (train, _) = tiny_data
    _, (x_test, y_test) = mnist.load_data_shared()
    x_test, y_test = x_test[:300], y_test[:300]  # more than one evaluation batch (256)
    worker = TrainingWorker(config(epochs=2), data=(train, (x_test, y_test)))
    worker.start()
    assert worker.join(timeout=120)
    snap = worker.snapshot()
    x = x_test[:1].astype(np.float32) / 255 - 0.5
    assert snap.sample_label == int(y_test[0])
    np.testing.assert_allclose(snap.sample_probs, worker.model.predict(x)[0], atol=1e-5)
    name, conv = snap.sample_maps[0]
    kernel = worker.model.layers[0].params["kernel"]
    expected = np.stack(
        [correlate2d(x[0].astype(np.float64), kernel[:, :, 0, f], "valid") for f in range(4)], -1
    )
    np.testing.assert_allclose(conv, expected, atol=1e-4)


def test_training_learns_something(tiny_data):
    worker = TrainingWorker(config(epochs=3), data=tiny_data)
    worker.start()
    assert worker.join(timeout=120)
    loss = worker.snapshot().history["loss"]
    assert loss[-1] < loss[0]


def test_started_paused_waits_then_steps_exactly_one_batch(tiny_data):
    worker = TrainingWorker(config(), data=tiny_data)
    before = [w.copy() for w in worker.model.get_weights()]
    worker.start(paused=True)
    wait_until(lambda: worker.snapshot().status == "paused")
    assert worker.snapshot().samples_seen == 0
    worker.step()
    wait_until(lambda: worker.snapshot().samples_seen == BATCH)
    wait_until(lambda: worker.snapshot().status == "paused")
    time.sleep(0.2)  # a paused worker trains no further batch on its own
    assert worker.snapshot().samples_seen == BATCH
    after = worker.model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # The copy handed to other pages holds exactly the paused weights, and is another object.
    copy = worker.model_copy()
    assert copy is not worker.model
    for a, b in zip(copy.get_weights(), after, strict=True):
        np.testing.assert_array_equal(a, b)
    worker.step()
    wait_until(lambda: worker.snapshot().samples_seen == 2 * BATCH)
    worker.stop()
    assert worker.join(timeout=30)


def test_step_on_a_fresh_worker_starts_it_paused(tiny_data):
    worker = TrainingWorker(config(), data=tiny_data)
    worker.step()
    wait_until(lambda: worker.snapshot().samples_seen == BATCH)
    assert worker.alive
    worker.stop()
    assert worker.join(timeout=30)


def test_pause_then_resume_runs_to_the_end(tiny_data):
    worker = TrainingWorker(config(), data=tiny_data)
    worker.start(paused=True)
    worker.step()
    wait_until(lambda: worker.snapshot().samples_seen == BATCH)
    worker.resume()
    assert worker.join(timeout=120)
    snap = worker.snapshot()
    assert snap.status == "finished"
    assert snap.samples_seen == N_TRAIN


def test_stop_keeps_the_weights_trained_so_far(tiny_data):
    worker = TrainingWorker(config(epochs=5), data=tiny_data)
    worker.start(paused=True)
    worker.step()
    wait_until(lambda: worker.snapshot().samples_seen == BATCH)
    worker.stop()
    assert worker.join(timeout=30)
    snap = worker.snapshot()
    assert snap.status == "stopped"
    assert snap.samples_seen == BATCH
    assert "stopped" in snap.message.lower()
    assert worker.model_copy() is worker.model  # the run is over: the model itself is handed out
    assert snap.result is not None and snap.result.confusion.sum() == N_TEST


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_stops_itself_and_keeps_finite_weights(tiny_data):
    worker = TrainingWorker(config(optimizer="sgd", learning_rate=1e12, epochs=3), data=tiny_data)
    worker.start()
    assert worker.join(timeout=120)
    snap = worker.snapshot()
    assert snap.status == "diverged"
    assert snap.message and "learning rate" in snap.message
    assert snap.samples_seen < 3 * N_TRAIN
    assert all(np.all(np.isfinite(w)) for w in worker.model.get_weights())


def test_dropping_the_worker_stops_its_thread(tiny_data):
    """What happens when Streamlit drops an ended session's state: the thread stops."""
    worker = TrainingWorker(config(epochs=50), data=tiny_data)
    worker.start(paused=True)
    thread = worker._thread
    del worker
    gc.collect()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_two_workers_do_not_share_models(tiny_data):
    a = TrainingWorker(config(), data=tiny_data)
    b = TrainingWorker(config(), data=tiny_data)
    a.step()
    wait_until(lambda: a.snapshot().samples_seen == BATCH)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=False):
        assert wa.shape == wb.shape
    assert any(
        not np.array_equal(wa, wb)
        for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True)
    )
    assert b.snapshot().samples_seen == 0
    a.stop()
    assert a.join(timeout=30)


def test_bad_settings_are_refused_in_one_sentence():
    with pytest.raises(InputError, match="learning rate"):
        config(learning_rate=-1.0).check()
    with pytest.raises(InputError, match="optimizer"):
        config(optimizer="rmsprop").check()


def test_confusion_matrix_counts_pairs():
    y_true = np.array([0, 1, 1, 2, 2, 2, 9])
    y_pred = np.array([0, 1, 2, 2, 2, 0, 9])
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):  # the definition, one pair at a time
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), expected)


def test_a_run_whose_browser_session_ended_stops_itself(tiny_data):
    """owner_alive() says the owning session is gone: the run stops, even while paused."""
    worker = TrainingWorker(
        config(epochs=50), data=tiny_data, owner_alive=lambda: False, owner_grace=0.0
    )
    worker.start(paused=True)
    assert worker.join(timeout=30)
    snap = worker.snapshot()
    assert snap.status == "stopped"
    assert "session" in snap.message


def test_a_live_owner_keeps_the_run_going(tiny_data):
    worker = TrainingWorker(config(), data=tiny_data, owner_alive=lambda: True, owner_grace=0.0)
    worker.start()
    assert worker.join(timeout=120)
    assert worker.snapshot().status == "finished"


ROOT = Path(__file__).resolve().parent.parent

OWNER = """
import sys, time
from cnnviz.training import TrainingConfig, TrainingWorker
config = TrainingConfig(optimizer="sgd", learning_rate=0.001, batch_size=1, epochs=30,
                        train_size=None, test_size=1000)
worker = TrainingWorker(config)
worker.start()
print(worker._process.pid, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_training_process_stops_when_the_app_is_killed():
    """A server killed with SIGKILL cannot stop its runs; each training process notices that its
    pipe to the server broke and stops instead of training on alone (the tutorial recipe would
    otherwise hold a core for minutes after the app is gone)."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        child = int(owner.stdout.readline())
        time.sleep(3)  # training under way
        assert _running(child)
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 30
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _running(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the training process kept running after its server was killed")


# --- Extreme settings ---------------------------------------------------------------------------


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
