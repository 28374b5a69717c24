"""Training steps split over threads: each chunk of a batch on its own core (issue 14).

``fit`` cuts a batch of B images into k chunks (k = the train-thread setting, and only chunks
of at least ``MIN_CHUNK`` images). Each chunk's forward and backward pass runs on its own
replica of the layers (``Layer.replica``: the same parameter arrays, its own caches and
gradients); the gradients and losses are then averaged, weighted by chunk size, into the
model's layers, and the optimizer takes one step as before. NumPy and OpenBLAS release the GIL
inside array operations, so the chunks really run at once, every one of them: im2col, the
products, pooling, ReLU, not only the matrix products (which is why this beats giving BLAS a
second thread: ``docs/performance.md``).

Whether the chunks run at once or one after the other is measured while training, not
assumed: on an idle 2-core machine at once is 1.3-1.6x faster for the stronger network, but
with other programs busy on the cores it can be slower (a step waits for its slowest chunk).
So ``fit`` times a few steps both ways, keeps the faster, and measures again when the kept
way's speed moves by a quarter or after a minute (``_Chooser``). The arithmetic is the same
either way (same chunks, same order, same averaging), so a seed gives the same weights
whichever way ran, and the timing never changes a result.

After a step in chunks the parameters' ``grads`` are the whole batch's; the layers' caches
(``output``, ``grad_output``, ...) hold the first chunk's, so a callback that reads the last
layer's output during ``fit`` sees that chunk's rows.

Setting: ``CNNVIZ_TRAIN_THREADS`` = ``auto`` (default: 2 where the process may use at least
2 CPUs, else 1; more were not measured) or a number, or ``set_train_threads(n)``. 1 trains on
whole batches on this thread, as before. The app's training process uses 1: on a lecturer's
laptop or a hall server the other cores serve the browser and the other sessions.
"""

from __future__ import annotations

import os
import threading
import time
import warnings

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nn.metrics import count_correct

MIN_CHUNK = 8  # smaller chunks cost more in per-operation overhead than a core gains
MIN_PART = 256  # predict/evaluate: images per thread, so that starting a thread is nothing
_ERRSTATE = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}  # as fit's


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _parse(value) -> int:
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return min(2, _usable_cpus())
    if not text.isdigit():
        raise InputError(
            "The number of training threads must be a whole number or 'auto', not {value}.",
            value=repr(value),
        )
    return max(int(text), 1)


def _from_environment() -> int:
    try:
        return _parse(os.environ.get("CNNVIZ_TRAIN_THREADS", "auto"))
    except InputError as exc:  # importing the engine must not fail over a setting
        warnings.warn(f"{exc} CNNVIZ_TRAIN_THREADS is ignored.", stacklevel=2)
        return _parse("auto")


_state = {
    "threads": _from_environment(),
    "mode": "measure",
    "at_once": True,  # the last way fit measured faster (predict and evaluate follow it)
}


def set_train_threads(n: int | str = "auto", mode: str = "measure") -> None:
    """Chunks (threads) per training batch in ``fit``: a number or "auto".

    mode: "measure" (default: at once or in turn, whichever is measured faster), "at once" or
    "in turn" (fixed; for benchmarks and tests).
    """
    if mode not in ("measure", "at once", "in turn"):
        raise ValueError(f"mode must be 'measure', 'at once' or 'in turn', not {mode!r}")
    _state["threads"], _state["mode"] = _parse(n), mode


def train_threads() -> int:
    return _state["threads"]


class _Worker:
    """A thread that computes one chunk's gradients on its replica when told to."""

    def __init__(self, replica):
        self.replica, self.job, self.result = replica, None, None
        self.go, self.done = threading.Semaphore(0), threading.Semaphore(0)
        self.thread = threading.Thread(target=self._loop, name="cnnviz-chunk", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            self.go.acquire()
            if self.job is None:
                return
            try:
                with np.errstate(**_ERRSTATE):  # numpy's error state is per thread
                    self.result = self.replica._gradients(*self.job)
            except BaseException as exc:  # handed to the training thread, raised there
                self.result = exc
            self.done.release()

    def start(self, x: np.ndarray, target: np.ndarray) -> None:
        self.job = (x, target)
        self.go.release()

    def wait(self) -> float:
        self.done.acquire()
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def stop(self) -> None:
        self.job = None
        self.go.release()
        self.thread.join()


class _Chooser:
    """At once or in turn? Times ``TRIAL`` steps each way, twice, and keeps the faster. While it
    trains that way it keeps timing it, ``TRIAL`` steps at a time, and measures both ways again
    after ``MAX_AGE`` seconds, or sooner when ``CHECKS`` blocks in a row say the other way may
    now win: at once slower by more than ``DRIFT`` than the trial measured (another program
    started), or in turn faster by as much (one stopped). One slow block is noise, not news. The
    decision for a network and batch shape outlives the ``fit`` call (``_decided``): a loop of
    short fits does not measure on every call."""

    TRIAL = 6
    DRIFT = 0.25
    CHECKS = 3
    MAX_AGE = 60.0

    def __init__(self, mode: str):
        self.mode, self.key = mode, None
        self.plan: list[bool] = []  # the ways of the trial blocks still to run
        self.block = _Block(True)  # the running block of steps (a trial's or a check's)
        self.trial = False
        self.seen: dict[bool, _Block] = {}
        self.moved = 0  # check blocks in a row that moved the telling way

    def choose(self, key) -> bool:
        if self.mode != "measure":
            return self.mode == "at once"
        self.key = key
        if self.block.steps == 0:  # between blocks
            way, _, when = _decided.get(key, (True, 0.0, -self.MAX_AGE))
            if not self.plan and time.perf_counter() - when >= self.MAX_AGE:
                self.plan = [not way, way] * 2
                self.seen = {True: _Block(True), False: _Block(False)}
            self.trial = bool(self.plan)
            self.block = _Block(self.plan.pop(0) if self.plan else way)
        return self.block.at_once

    def record(self, seconds: float, samples: int) -> None:
        if self.mode != "measure":
            return
        block = self.block
        block.add(seconds, samples)
        if block.steps < self.TRIAL:
            return
        self.block = _Block(block.at_once)
        if self.trial:
            self.seen[block.at_once].add(block.seconds, block.samples, block.steps)
            if not self.plan:  # both ways measured twice: keep the faster per image
                fast = min(self.seen.values(), key=_Block.per_image)
                _decided[self.key] = (fast.at_once, fast.per_image(), time.perf_counter())
                _state["at_once"] = fast.at_once
            return
        way, expected, _ = _decided[self.key]
        ratio = block.per_image() / expected
        moved = ratio > 1 + self.DRIFT if way else ratio < 1 - self.DRIFT
        self.moved = self.moved + 1 if moved else 0
        if self.moved >= self.CHECKS:  # measure again on the next step
            self.moved = 0
            _decided[self.key] = (way, expected, -self.MAX_AGE)


class _Block:
    """Steps run one way (at once or in turn): how many, their seconds and images."""

    def __init__(self, at_once: bool):
        self.at_once, self.steps, self.seconds, self.samples = at_once, 0, 0.0, 0

    def add(self, seconds: float, samples: int, steps: int = 1) -> None:
        self.steps += steps
        self.seconds += seconds
        self.samples += samples

    def per_image(self) -> float:
        return self.seconds / max(self.samples, 1)


# (chunks, batch shape, parameter count) -> (at once?, seconds per image, when decided)
_decided: dict[tuple, tuple[bool, float, float]] = {}


class ChunkedSteps:
    """``gradients(x, target)`` for ``fit``: like ``model._gradients`` (fills the model's
    grads, returns the mean loss), over k chunks; also counts the correct predictions."""

    def __init__(self, model, threads: int | None = None, mode: str | None = None):
        self.model = model
        k = threads or _state["threads"]
        self.replicas = [model] + [_replica(model) for _ in range(k - 1)]
        self.workers: list[_Worker] = []
        self.chooser = _Chooser(mode or _state["mode"])
        self.params = model.count_params()

    def gradients(self, x: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        k = min(len(self.replicas), len(x) // MIN_CHUNK)
        if k <= 1:
            loss = self.model._gradients(x, target)
            return loss, count_correct(self.model.layers[-1].output, target)
        cuts = [len(x) * i // k for i in range(k + 1)]
        parts = [(x[a:b], target[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
        at_once = self.chooser.choose((k, x.shape, self.params))
        t0 = time.perf_counter()
        if at_once:
            if not self.workers:
                self.workers = [_Worker(r) for r in self.replicas[1:]]
            for worker, part in zip(self.workers, parts[1:], strict=False):
                worker.start(*part)
            losses = [self.model._gradients(*parts[0])]
            losses += [worker.wait() for worker in self.workers[: k - 1]]
        else:
            losses = [r._gradients(*p) for r, p in zip(self.replicas, parts, strict=False)]
        self.chooser.record(time.perf_counter() - t0, len(x))
        shares = [(b - a) / len(x) for a, b in zip(cuts, cuts[1:], strict=False)]
        _average_grads(self.replicas[:k], shares)
        correct = sum(
            count_correct(r.layers[-1].output, p[1])
            for r, p in zip(self.replicas, parts, strict=False)
        )
        return float(sum(s * loss for s, loss in zip(shares, losses, strict=True))), correct

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []


def _replica(model):
    """A shallow twin of the model whose layers share its parameter arrays (``Layer.replica``)."""
    twin = object.__new__(type(model))
    twin.__dict__.update(model.__dict__)
    twin.layers = [layer.replica() for layer in model.layers]
    return twin


def _average_grads(replicas, shares: list[float]) -> None:
    """The model's (first replica's) grads become the share-weighted sum over the replicas,
    always in the same order, so in turn and at once give the same numbers."""
    for i, layer in enumerate(replicas[0].layers):
        for key, grad in layer.grads.items():
            total = grad * shares[0]
            for replica, share in zip(replicas[1:], shares[1:], strict=True):
                total += replica.layers[i].grads[key] * share
            layer.grads[key] = total


def in_parts(model, n: int, work) -> list:
    """``work(model or a replica, start, stop)`` over contiguous parts of ``range(n)``, one per
    thread (at least ``MIN_PART`` images each), at once unless fit last measured in turn
    faster; returns the results in order (``predict``, ``evaluate``)."""
    k = min(_state["threads"], n // MIN_PART)
    at_once = _state["mode"] == "at once" or (_state["mode"] == "measure" and _state["at_once"])
    if k <= 1 or not at_once:
        return [work(model, 0, n)]
    cuts = [n * i // k for i in range(k + 1)]
    results: list = [None] * k

    def run(i: int, replica) -> None:
        try:
            results[i] = work(replica, cuts[i], cuts[i + 1])
        except BaseException as exc:  # raised below, on the caller's thread
            results[i] = exc

    threads = [
        threading.Thread(target=run, args=(i, _replica(model)), name="cnnviz-part", daemon=True)
        for i in range(1, k)
    ]
    for thread in threads:
        thread.start()
    run(0, model)
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
