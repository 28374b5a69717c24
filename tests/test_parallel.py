"""fit's batches in chunks on threads (cnnviz/nn/parallel.py): the same gradients as one whole
batch, the same weights whether the chunks ran at once or in turn, errors and warnings handled
on the worker threads, and no thread left behind."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from cnnviz.errors import InputError
from cnnviz.nn import SGD, Adam, parallel, strong_model, tutorial_model
from cnnviz.nn.parallel import ChunkedSteps, _Chooser
from cnnviz.validate import as_labels


@pytest.fixture(autouse=True)
def _restore_setting():
    yield
    parallel.set_train_threads("auto")
    parallel._state["at_once"] = True


def _digits(n: int, seed: int = 0):
    """n MNIST-sized images with some structure (blobs, not noise) and their labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32) - 0.5
    x[:, 8:20, 8:20] += rng.random((n, 1, 1, 1), dtype=np.float32)
    return x, rng.integers(0, 10, n)


def _chunk_threads():
    return [t for t in threading.enumerate() if t.name == "cnnviz-chunk"]


@pytest.mark.parametrize("batch", [16, 17, 32, 33])
@pytest.mark.parametrize("mode", ["at once", "in turn"])
def test_chunked_gradients_equal_the_whole_batch_gradients(batch, mode):
    """The size-weighted mean of the chunks' gradients is the whole batch's mean gradient (the
    plain, unsplit backward pass is the oracle), also when the chunks differ in size."""
    model = strong_model(seed=1)
    x, y = _digits(batch)
    target = as_labels(y, 10)
    loss_whole = model.compute_gradients(x, y)
    whole = [layer.grads[k].copy() for layer in model.layers for k in layer.params]
    steps = ChunkedSteps(model, threads=2, mode=mode)
    try:
        loss, correct = steps.gradients(x, target)
    finally:
        steps.close()
    chunked = [layer.grads[k] for layer in model.layers for k in layer.params]
    assert loss == pytest.approx(loss_whole, rel=1e-5)
    for g, w in zip(chunked, whole, strict=True):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-6 * np.abs(w).max())
    probs = model.predict(x)
    assert correct == int(np.count_nonzero(probs.argmax(1) == y))


def test_small_batches_are_not_split():
    model = tutorial_model(seed=0)
    x, y = _digits(15)
    steps = ChunkedSteps(model, threads=2, mode="at once")
    steps.gradients(x, as_labels(y, 10))
    assert not steps.workers and not _chunk_threads()  # 15 images: one chunk of < 2 x 8


@pytest.mark.parametrize("build", [strong_model, tutorial_model])
def test_fit_gives_the_same_weights_at_once_and_in_turn(build):
    x, y = _digits(160, seed=2)
    weights = {}
    for mode in ("at once", "in turn", "measure"):
        parallel.set_train_threads(2, mode)
        model = build(seed=3)
        model.compile(Adam(0.001) if build is strong_model else SGD(0.01))
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, seed=4)
        weights[mode] = model.get_weights()
        assert np.isfinite(history.history["loss"]).all()
    for mode in ("in turn", "measure"):
        for a, b in zip(weights["at once"], weights[mode], strict=True):
            np.testing.assert_array_equal(a, b)
    assert not _chunk_threads()


@pytest.mark.parametrize(("optimizer", "tolerance"), [(SGD(0.05), 1e-4), (Adam(0.001), 1e-2)])
def test_fit_in_chunks_trains_like_whole_batches(optimizer, tolerance):
    """Two chunks change only the order of float32 additions: after 10 steps the weights agree
    with whole-batch training far below how far training moved them (Adam divides by the
    gradient's own size, so a near-zero gradient's rounding can move its weight a full step:
    a looser bound there)."""
    x, y = _digits(320, seed=5)
    runs = {}
    for threads in (1, 2):
        parallel.set_train_threads(threads, "at once")
        model = strong_model(seed=6)
        model.compile(type(optimizer)(optimizer.learning_rate))
        start = model.get_weights()
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, seed=7)
        runs[threads] = model.get_weights()
    moved = max(float(np.abs(a - b).max()) for a, b in zip(runs[1], start, strict=True))
    gap = max(float(np.abs(a - b).max()) for a, b in zip(runs[1], runs[2], strict=True))
    assert moved > 1e-3 and gap < tolerance * moved


def test_a_worker_error_reaches_the_caller_and_no_thread_is_left():
    parallel.set_train_threads(2, "at once")
    model = strong_model(seed=0)
    model.compile(Adam(0.001))
    x, y = _digits(64)
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)  # builds, starts and stops
    calls = []
    real = type(model.layers[0]).forward

    def broken(self, data, training=False):
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "cnnviz-chunk":
            raise InputError("A chunk failed.")
        return real(self, data, training)

    type(model.layers[0]).forward = broken
    try:
        with pytest.raises(InputError, match="A chunk failed"):
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    finally:
        type(model.layers[0]).forward = real
    assert "cnnviz-chunk" in calls
    assert not _chunk_threads()


def test_a_diverging_fit_warns_nothing_from_the_worker_threads():
    """fit turns NumPy's overflow warnings off; that setting is per thread, so the workers set
    it too. A diverging run stops with its message and restores finite weights."""
    parallel.set_train_threads(2, "at once")
    model = tutorial_model(seed=0)
    model.compile(SGD(learning_rate=1e6))
    x, y = _digits(256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x * 1e3, y, batch_size=32, epochs=3, verbose=0)
    assert history.diverged
    assert all(np.isfinite(w).all() for w in model.get_weights())


def _feed(chooser, steps: int, at_once_time: float, in_turn_time: float) -> list[bool]:
    ways = []
    for _ in range(steps):
        way = chooser.choose("key")
        ways.append(way)
        chooser.record(at_once_time if way else in_turn_time, 32)
    return ways


def test_the_chooser_keeps_the_faster_way_and_measures_again_when_the_machine_changes():
    """Fed step times (seconds per batch), the chooser measures both ways in turn, keeps the
    faster one per image, ignores one slow block, and measures again after CHECKS blocks in a
    row where the kept way says the other may now win."""
    trial, block = 4 * _Chooser.TRIAL, _Chooser.TRIAL
    parallel._decided.clear()
    chooser = _Chooser("measure")
    ways = _feed(chooser, trial, 0.5, 1.0)  # an idle machine: at once is faster
    assert ways.count(True) == ways.count(False) == 2 * _Chooser.TRIAL
    assert _feed(chooser, 10 * block, 0.55, 1.1) == [True] * 10 * block  # 10% slower: kept
    # one slow block, then normal again: noise, no new trial
    assert _feed(chooser, block, 1.5, 1.0) + _feed(chooser, 5 * block, 0.5, 1.0) == [True] * (
        6 * block
    )
    # another program starts: at once gets 3x slower, in turn 1.1x; after CHECKS blocks a trial
    busy = _feed(chooser, (_Chooser.CHECKS - 1) * block, 1.5, 1.1)
    assert busy == [True] * len(busy)
    again = _feed(chooser, block + trial, 1.5, 1.1)
    assert again[:block] == [True] * block
    assert again[block:].count(True) == again[block:].count(False) == 2 * _Chooser.TRIAL
    assert parallel._decided["key"][0] is False
    # in turn kept and getting slower still (more load) is no reason to measure again
    assert _feed(chooser, 10 * block, 3.0, 2.0) == [False] * 10 * block
    # the program stops: in turn gets faster by more than DRIFT, a trial finds at once faster
    freed = _feed(chooser, _Chooser.CHECKS * block + trial, 0.5, 0.7)
    assert freed[: _Chooser.CHECKS * block] == [False] * _Chooser.CHECKS * block
    assert parallel._decided["key"][0] is True
    parallel._decided.clear()


def test_the_setting_parses_numbers_and_auto():
    parallel.set_train_threads(3)
    assert parallel.train_threads() == 3
    parallel.set_train_threads("0")
    assert parallel.train_threads() == 1
    parallel.set_train_threads("auto")
    assert 1 <= parallel.train_threads() <= 2
    with pytest.raises(ValueError):
        parallel.set_train_threads(2, "sometimes")
    with pytest.raises(InputError, match="whole number or 'auto'"):
        parallel.set_train_threads("two")


def test_a_bad_environment_setting_warns_and_falls_back_to_auto(monkeypatch):
    monkeypatch.setenv("CNNVIZ_TRAIN_THREADS", "lots")
    with pytest.warns(UserWarning, match="CNNVIZ_TRAIN_THREADS is ignored"):
        assert parallel._from_environment() == parallel._parse("auto")


def test_predict_and_evaluate_in_parts_equal_one_pass():
    """600 images: two parts of 300 on two threads give the probabilities of a single pass on
    this thread, and evaluate's loss and accuracy are the cross-entropy and hit rate of those
    probabilities, computed here from scratch."""
    model = strong_model(seed=8)
    x, y = _digits(600, seed=9)
    parallel.set_train_threads(1)
    whole = model.predict(x)
    parallel.set_train_threads(2, "at once")
    seen = []
    real = type(model).forward

    def spy(self, data, training=False):
        seen.append(threading.current_thread().name)
        return real(self, data, training)

    type(model).forward = spy
    try:
        parts = model.predict(x)
        loss, acc = model.evaluate(x, y)
    finally:
        type(model).forward = real
    assert "cnnviz-part" in seen and "MainThread" in seen
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-7)
    expected_loss = -np.mean(np.log(np.clip(whole[np.arange(len(y)), y], 1e-7, 1)))
    assert loss == pytest.approx(expected_loss, rel=1e-4)
    assert acc == pytest.approx(np.mean(whole.argmax(1) == y))
    assert not [t for t in threading.enumerate() if t.name == "cnnviz-part"]


def test_an_error_in_a_part_reaches_the_caller():
    parallel.set_train_threads(2, "at once")
    model = tutorial_model(seed=0)
    x, _ = _digits(600)
    real = type(model.layers[0]).forward

    def broken(self, data, training=False):
        if threading.current_thread().name == "cnnviz-part":
            raise InputError("A part failed.")
        return real(self, data, training)

    type(model.layers[0]).forward = broken
    try:
        with pytest.raises(InputError, match="A part failed"):
            model.predict(x)
    finally:
        type(model.layers[0]).forward = real


def test_predict_follows_fits_last_measurement():
    """When fit last measured the chunks in turn faster (a busy machine), predict does not
    start a thread either; told "at once", it does."""
    model = tutorial_model(seed=0)
    x, _ = _digits(600)
    started = []
    real = parallel._replica

    def spy(m):
        started.append(1)
        return real(m)

    parallel._replica = spy
    try:
        parallel.set_train_threads(2, "measure")
        parallel._state["at_once"] = False
        model.predict(x)
        assert not started
        parallel.set_train_threads(2, "at once")
        model.predict(x)
        assert started
    finally:
        parallel._replica = real
