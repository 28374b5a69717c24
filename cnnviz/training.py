"""Train a CNN in the background, under a person's control: start, pause, resume, step, stop.

The Train live page owns one :class:`TrainingWorker` per browser session. The worker runs
``model.fit`` in a child process (see ``_child_main``) with a callback that, between two
batches,

* publishes a :class:`Snapshot` (curves, epoch log, speed, learned filters, one sample's
  feature maps), which the child sends to the parent four times a second with the current
  weights, so the page can redraw it while training goes on;
* waits while the run is paused, lets exactly one batch through per :meth:`TrainingWorker.step`;
* sets ``model.stop_training`` when :meth:`TrainingWorker.stop` was asked.

Why a process: a training thread inside the Streamlit server shares Python's GIL with the
thread that draws the page, and waits for it at every NumPy call; measured in the browser, a
thread trained at about half the engine's speed while its page was open. In the parent, one
thread per run (the "pump", named ``cnnviz-training``) forwards the commands and mirrors the
child's progress into the worker.

No Streamlit here: everything is testable with plain Python.

Ending with the session
-----------------------
Two mechanisms, because Streamlit keeps a closed tab's session for a while (to allow a
reconnect) and does not promise when it lets go of its state:

1. ``owner_alive``: the page passes a probe (``Runtime.is_active_session`` for its session
   id, see :func:`cnnviz.ui.layout.session_alive_probe`). The pump asks it about once a
   second, also while paused; after ``owner_grace`` seconds (30) without an active session
   the run stops itself, keeping its weights. A browser that reconnects within the grace
   period finds its run still going.
2. The pump never holds a reference to the :class:`TrainingWorker` itself, and a
   ``weakref.finalize`` on the worker tells the child to stop: when Streamlit finally drops
   the session state (the only owner of the worker), the run stops after the current batch.
   The child is a daemon process: it never outlives the server.

One session's worker shares nothing with another's: each has its own process, model, data
arrays and pump.

>>> cfg = TrainingConfig(train_size=500, test_size=200, epochs=1)   # doctest: +SKIP
>>> worker = TrainingWorker(cfg); worker.start(); worker.join()      # doctest: +SKIP
>>> worker.snapshot().result.test_accuracy                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnnviz import nn
from cnnviz.data import class_names, load_dataset
from cnnviz.errors import InputError

# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainingConfig:
    """The hyperparameters of one training run (the tutorial's Part II network).

    ``train_size``/``test_size`` take a seeded random subset of the dataset (``None`` = all).
    The test subset is also the validation data, as in the tutorial's ``model.fit``.
    """

    dataset: str = "MNIST"
    architecture: str = "tutorial"  # "tutorial" (Conv2D(F,3) -> MaxPool -> Dense) or "strong"
    filters: int = 8
    optimizer: str = "adam"  # "sgd" or "adam"
    learning_rate: float = 0.005
    batch_size: int = 32
    epochs: int = 2
    train_size: int | None = 3000
    test_size: int | None = 1000
    seed: int = 0

    def check(self) -> None:
        """Raise InputError (one sentence) when a setting cannot work."""
        if self.architecture not in ("tutorial", "strong"):
            raise InputError("The architecture must be 'tutorial' or 'strong'.")
        if self.optimizer not in ("sgd", "adam"):
            raise InputError("The optimizer must be 'sgd' or 'adam'.")
        if not 1 <= self.filters <= 64:
            raise InputError("The number of filters must be between 1 and 64.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InputError("The learning rate must be a positive number.")
        if self.batch_size < 1 or self.epochs < 1:
            raise InputError("The batch size and the number of epochs must be at least 1.")
        if self.train_size is not None and self.train_size < 1:
            raise InputError("The training subset must hold at least one image.")
        if self.test_size is not None and self.test_size < 1:
            raise InputError("The test subset must hold at least one image.")


# The two presets of the Train live page.
PRESETS: dict[str, TrainingConfig] = {
    # Done in well under 30 s on a laptop: 3000 images, 2 epochs, Adam.
    "Quick demo": TrainingConfig(
        filters=8,
        optimizer="adam",
        learning_rate=0.005,
        batch_size=32,
        epochs=2,
        train_size=3000,
        test_size=1000,
        seed=0,
    ),
    # The tutorial's Keras settings: SGD(0.001), batch size 1, 30 epochs, all 60000 images.
    "Tutorial recipe": TrainingConfig(
        filters=8,
        optimizer="sgd",
        learning_rate=0.001,
        batch_size=1,
        epochs=30,
        train_size=None,
        test_size=None,
        seed=0,
    ),
}


# ----------------------------------------------------------------------------- data and model

_DATA_LOCK = threading.Lock()


def load_data(name: str = "MNIST"):
    """``cnnviz.data.load_dataset(name)``, one thread at a time.

    The loader caches what it read, but a crowd of sessions starting together would each miss
    the empty cache and read (and hold) the files at the same time; behind this lock the
    first reads them and the others get the cached arrays.
    """
    with _DATA_LOCK:
        return load_dataset(name)


def prepare_images(x: np.ndarray) -> nn.ScaledImages:
    """uint8 images (N, 28, 28) -> an indexable of float32 (N, 28, 28, 1) = x/255 - 0.5.

    The tutorial's scaling, done a batch at a time so a full-MNIST run stays small in memory.
    """
    return nn.ScaledImages(np.asarray(x))


def take_subset(
    x: np.ndarray, y: np.ndarray, size: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random subset of ``size`` pairs (all of them, in order, when size is None or too big)."""
    if size is None or size >= len(x):
        return x, y
    index = np.sort(rng.choice(len(x), size=size, replace=False))
    return x[index], y[index]


def build_model(config: TrainingConfig) -> nn.Sequential:
    """A compiled, freshly initialised model for ``config``.

    "tutorial": Conv2D(filters, 3, no bias) -> MaxPooling2D(2) -> Flatten -> Dense(10, softmax),
    the network of the tutorial's Part II (with ``filters`` = 8); "strong": two conv layers
    with ReLU (``filters`` and 2 x ``filters`` of them).
    """
    config.check()
    if config.architecture == "strong":
        model = nn.strong_model(filters=config.filters, seed=config.seed)
    else:
        model = nn.tutorial_model(filters=config.filters, seed=config.seed)
    optimizer = (
        nn.SGD(learning_rate=config.learning_rate)
        if config.optimizer == "sgd"
        else nn.Adam(learning_rate=config.learning_rate)
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.metadata.update(
        dataset=config.dataset,
        class_names=class_names(config.dataset),
        trained_with=dataclasses.asdict(config),
    )
    return model


def feature_maps(model: nn.Sequential, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Run one image through ``model`` and return every conv / pooling layer's output.

    x: (28, 28), (28, 28, 1) or (1, 28, 28, 1) float32, already scaled like the training data.
    Returns [(layer name, output (H, W, C))] in layer order.
    """
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(1, x.shape[-3], x.shape[-2], 1) if x.ndim == 4 else x.reshape(1, *x.shape[:2], 1)
    model.forward(x, training=False)
    maps = []
    for layer in model.layers:
        out = getattr(layer, "output", None)
        if out is not None and np.ndim(out) == 4:
            maps.append((layer.name, np.array(out[0])))
    return maps


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """counts[i, j] = how many images of true class i were predicted as class j. int (C, C)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts


def first_conv_kernel(model: nn.Sequential) -> np.ndarray | None:
    """The first Conv2D layer's filters as (k, k, F) (input channel 0), or None."""
    for layer in model.layers:
        kernel = getattr(layer, "params", {}).get("kernel")
        if kernel is not None and np.ndim(kernel) == 4:
            return np.array(kernel[:, :, 0, :])
    return None


# ----------------------------------------------------------------------------- snapshots


@dataclass
class TrainingResult:
    """What the finished run scored on the test subset."""

    test_loss: float
    test_accuracy: float
    confusion: np.ndarray  # int (10, 10): rows = true class, columns = predicted
    misclassified: list[tuple[int, int, int]]  # (index into test_images, true, predicted)
    test_images: np.ndarray  # uint8 (N, 28, 28) of the misclassified gallery (first 24)


@dataclass
class Snapshot:
    """A consistent copy of the run's progress, safe to read from another thread."""

    status: str = "ready"  # ready, running, paused, stopping, finished, stopped, diverged, failed
    message: str = ""
    epoch: int = 0  # 1-based epoch being trained (0 before the start)
    epochs: int = 0
    batch: int = 0  # batches done in the current epoch
    steps_per_epoch: int = 0
    samples_seen: int = 0
    total_samples: int = 0
    elapsed: float = 0.0  # seconds spent training (pauses excluded)
    samples_per_second: float = 0.0
    seconds_left: float | None = None
    # (epochs done as a float, running loss, running accuracy of the epoch), one per batch
    batch_curve: list[tuple[float, float, float]] = field(default_factory=list)
    history: dict[str, list[float]] = field(
        default_factory=lambda: {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    )
    log: list[str] = field(default_factory=list)
    filters: np.ndarray | None = None  # (k, k, F) first conv layer
    sample_image: np.ndarray | None = None  # uint8 (28, 28)
    sample_label: int | None = None
    sample_maps: list[tuple[str, np.ndarray]] = field(default_factory=list)
    sample_probs: np.ndarray | None = None  # (10,)
    result: TrainingResult | None = None
    version: int = 0  # grows with every publish
    heavy_version: int = 0  # grows when filters / sample maps / probabilities change

    @property
    def done(self) -> bool:
        """True when the thread has ended (finished, stopped, diverged or failed)."""
        return self.status in ("finished", "stopped", "diverged", "failed")

    @property
    def progress(self) -> float:
        """Fraction of all batches done, in [0, 1]."""
        return min(1.0, self.samples_seen / self.total_samples) if self.total_samples else 0.0


class _Control:
    """The state shared by the training thread and the owner; every field is guarded by cond."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.paused = False
        self.stop_requested = False
        self.step_credit = 0  # batches allowed while paused
        self.snap = Snapshot()
        self.waiting_since: float | None = None
        self.weights: list[np.ndarray] | None = None  # copied between two batches
        self.paused_seconds = 0.0
        # Is the browser session that owns the run still there? (see TrainingWorker)
        self.owner_alive: Callable[[], bool] | None = None
        self.owner_grace = 30.0
        self.owner_checked = 0.0
        self.owner_lost_since: float | None = None
        self.stop_reason = ""

    def owner_gone(self) -> bool:
        """Ask owner_alive() (at most once a second; call with cond held). True, and a stop
        request, once the owner has been gone for owner_grace seconds."""
        if self.owner_alive is None:
            return False
        now = time.monotonic()
        if now - self.owner_checked < 1.0:
            return False
        self.owner_checked = now
        try:
            alive = bool(self.owner_alive())
        except Exception:  # a probe that fails says nothing about the owner
            alive = True
        if alive:
            self.owner_lost_since = None
            return False
        if self.owner_lost_since is None:
            self.owner_lost_since = now
        if now - self.owner_lost_since < self.owner_grace:
            return False
        self.stop_requested = True
        self.stop_reason = (
            "The browser session that started this run ended, so training stopped; "
            "the weights trained so far are kept."
        )
        return True


class _Callback(nn.Callback):
    """Runs in the training thread between batches: publish progress, honour the controls."""

    HEAVY_EVERY = 1.0  # seconds between two filter / feature-map refreshes

    def __init__(self, control: _Control, model: nn.Sequential, n_train: int, config, sample):
        super().__init__()
        self.control = control
        self.net = model  # not `self.model`: the engine may set that itself
        self.n_train = n_train
        self.config = config
        self.sample_x, self.sample_label = sample
        self.steps = math.ceil(n_train / config.batch_size)
        self.t0 = 0.0
        self.last_heavy = -1.0
        self.curve_seen = -1.0e18  # samples seen at the last point of the running curve
        self.epoch = 0
        self.epoch_t0 = 0.0

    # -- helpers
    def _active_seconds(self) -> float:
        return time.perf_counter() - self.t0 - self.control.paused_seconds

    def _heavy(self, snap: Snapshot) -> None:
        """Filters and the sample's feature maps (copies), at most every HEAVY_EVERY seconds."""
        now = time.perf_counter()
        if now - self.last_heavy < self.HEAVY_EVERY:
            return
        self.last_heavy = now
        snap.filters = first_conv_kernel(self.net)
        self.control.weights = self.net.get_weights()  # copies
        maps = feature_maps(self.net, self.sample_x)
        snap.sample_maps = maps
        last = self.net.layers[-1]
        probs = getattr(last, "output", None)
        snap.sample_probs = None if probs is None else np.array(probs[0])
        snap.heavy_version += 1

    def _gate(self) -> None:
        """Wait while paused (unless a step was granted); stop when asked."""
        c = self.control
        with c.cond:
            c.owner_gone()
            while c.paused and not c.stop_requested and c.step_credit == 0:
                if c.waiting_since is None:
                    self.last_heavy = -1.0  # show the paused state exactly: filters, maps, weights
                    self._heavy(c.snap)
                    c.waiting_since = time.perf_counter()
                    c.snap.status = "paused"
                    c.snap.version += 1
                c.cond.wait(timeout=0.5)
                c.owner_gone()
            if c.waiting_since is not None:
                c.paused_seconds += time.perf_counter() - c.waiting_since
                c.waiting_since = None
            if c.step_credit > 0:
                c.step_credit -= 1
            if c.stop_requested:
                self.net.stop_training = True
                c.snap.status = "stopping"
            elif not c.paused:
                c.snap.status = "running"
            c.snap.version += 1

    # -- the engine's hooks
    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()
        self._gate()  # a run started paused waits here for its first step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_t0 = time.perf_counter()
        with self.control.cond:
            self.control.snap.epoch = epoch + 1
            self.control.snap.batch = 0
            self.control.snap.log.append(f"Epoch {epoch + 1}/{self.config.epochs}")

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        done_in_epoch = min(self.n_train, (batch + 1) * self.config.batch_size)
        seen = self.epoch * self.n_train + done_in_epoch
        active = self._active_seconds()
        with self.control.cond:
            snap = self.control.snap
            snap.batch = batch + 1
            snap.samples_seen = seen
            snap.elapsed = active
            snap.samples_per_second = seen / active if active > 0 else 0.0
            left = snap.total_samples - seen
            snap.seconds_left = left / snap.samples_per_second if snap.samples_per_second else None
            loss = float(logs.get("loss", float("nan")))
            acc = float(logs.get("accuracy", float("nan")))
            # about 500 points an epoch, whatever the batch size: batch size 1 for 30 epochs
            # would otherwise keep (and redraw) 1.8 million points
            if seen - self.curve_seen >= self.n_train / 500 or done_in_epoch == self.n_train:
                snap.batch_curve.append((seen / self.n_train, loss, acc))
                self.curve_seen = seen
            self._heavy(snap)
            snap.version += 1
        self._gate()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self.epoch_t0
        parts = [
            f"{self.n_train}/{self.n_train} [==============================]",
            f"{seconds:.0f}s",
        ]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs and logs[key] is not None:
                parts.append(f"{key}: {float(logs[key]):.4f}")
        with self.control.cond:
            snap = self.control.snap
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                if key in logs and logs[key] is not None:
                    snap.history[key].append(float(logs[key]))
            snap.log.append(" - ".join(parts))
            self.last_heavy = -1.0
            self._heavy(snap)
            snap.version += 1


# ----------------------------------------------------------------------------- the worker


# ----------------------------------------------------------------------------- the process

# Training runs in a child process, not in a thread of the Streamlit server: both would need
# Python's GIL, and while the page redraws its figures twice a second a training thread waits
# for it at every NumPy call. Measured in the browser on this project's 2-core machine, a
# thread trained at about half the engine's headless speed while its page was open (and at a
# tenth with Python's default switch interval); a process trains at full speed. The parent
# keeps a thread (the "pump") that forwards commands and mirrors the child's progress.
_SPAWN = multiprocessing.get_context("spawn")  # no fork of a threaded server
PUBLISH_EVERY = 0.25  # seconds between two progress messages from the child


def _child_main(conn, model, x_train, y_train, x_test, y_test, config, paused, snap) -> None:
    """The child process: train with ``_run`` while a relay thread obeys the parent's commands
    and sends it the progress (a Snapshot and the current weights) every PUBLISH_EVERY s."""
    control = _Control()
    control.paused = paused
    control.snap = snap  # the parent's first snapshot: sizes, the sample digit, the filters
    finished = threading.Event()

    def relay() -> None:
        try:
            obey_and_report()
        except (EOFError, OSError):  # the parent (the app's server) has gone: stop training
            with control.cond:
                control.stop_requested = True
                control.stop_reason = "The app that started this run has gone."
                control.cond.notify_all()

    def obey_and_report() -> None:
        last_version = -1
        while not finished.is_set():
            while conn.poll(PUBLISH_EVERY):
                command, reason = conn.recv()
                with control.cond:
                    if command == "pause":
                        control.paused = True
                    elif command == "resume":
                        control.paused = False
                    elif command == "step":
                        control.paused = True
                        control.step_credit += 1
                    elif command == "stop":
                        control.stop_requested = True
                        control.stop_reason = reason or control.stop_reason
                    control.cond.notify_all()
            with control.cond:
                if control.snap.version != last_version:
                    last_version = control.snap.version
                    conn.send(("progress", _copy(control.snap), control.weights))

    relay_thread = threading.Thread(target=relay, name="cnnviz-relay", daemon=True)
    relay_thread.start()
    try:
        _run(control, model, x_train, y_train, x_test, y_test, config)
    finally:
        finished.set()
        relay_thread.join(timeout=5)
        with control.cond, contextlib.suppress(OSError):  # nobody may be left to tell
            conn.send(("done", _copy(control.snap), model.get_weights()))
        conn.close()


def _pump(conn, process, control: _Control, model: nn.Sequential) -> None:
    """The parent's thread: mirror the child's progress into ``control`` and ``model``, ask the
    owner probe about once a second, and end when the child is done (or died)."""
    done = False
    try:
        while not done:
            with control.cond:
                if control.owner_gone():
                    conn.send(("stop", control.stop_reason))
            if not conn.poll(0.5):
                if not process.is_alive() and not conn.poll(0):
                    raise EOFError
                continue
            kind, snap, weights = conn.recv()
            done = kind == "done"
            with control.cond:
                control.snap = snap
                if weights is not None:
                    control.weights = weights
                    model.set_weights(weights)
                control.cond.notify_all()
    except (EOFError, OSError):
        with control.cond:
            if not control.snap.done:
                control.snap.status = "failed"
                control.snap.message = "Training failed: its process ended unexpectedly."
                control.snap.log.append(control.snap.message)
                control.snap.version += 1
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
        conn.close()


@contextlib.contextmanager
def _plain_main_module():
    """Start a child without it re-running our ``__main__``.

    A spawned child imports the parent's ``__main__`` module first. Inside Streamlit (and its
    AppTest) ``__main__`` can be the page script, which must not run in the child (it would
    draw a page there, and the parent would wait forever to hand over the run). While the
    child starts, ``__main__`` is a blank module; the child needs nothing from it.
    """
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


def _send(conn, command: str, reason: str = "") -> None:
    """A command to the child; a child that has ended has nothing left to obey."""
    try:
        conn.send((command, reason))
    except (OSError, ValueError, BrokenPipeError):
        pass


def _copy(snap: Snapshot) -> Snapshot:
    return dataclasses.replace(
        snap,
        batch_curve=list(snap.batch_curve),
        history={k: list(v) for k, v in snap.history.items()},
        log=list(snap.log),
        sample_maps=list(snap.sample_maps),
    )


class TrainingWorker:
    """One background training run, owned by one browser session.

    Usage: ``w = TrainingWorker(config); w.start()``; then ``w.pause()``, ``w.resume()``,
    ``w.step()`` (one batch while paused), ``w.stop()``; read progress with ``w.snapshot()``.
    When the run is over, ``w.model`` holds the trained weights (the last finite ones after a
    diverging run); while it runs, ``w.model_copy()`` gives a copy of the current weights.
    """

    def __init__(
        self,
        config: TrainingConfig,
        data=None,
        owner_alive: Callable[[], bool] | None = None,
        owner_grace: float = 30.0,
    ) -> None:
        """config: the hyperparameters; data: optional ((x_train, y_train), (x_test, y_test))
        uint8 arrays (N, 28, 28) / (N,) to use instead of loading ``config.dataset``;
        owner_alive: asked about once a second by the training thread, False when the browser
        session that owns the run has gone; after ``owner_grace`` seconds of False the run
        stops itself (a reconnecting browser within that time keeps it going)."""
        config.check()
        self.config = config
        (x_train, y_train), (x_test, y_test) = (
            data if data is not None else load_data(config.dataset)
        )
        rng = np.random.default_rng(config.seed)
        self.x_train, self.y_train = take_subset(x_train, y_train, config.train_size, rng)
        self.x_test, self.y_test = take_subset(x_test, y_test, config.test_size, rng)
        self.model = build_model(config)
        self._template = self.model.copy()  # same architecture, for model_copy()
        self._control = _Control()
        self._control.owner_alive = owner_alive
        self._control.owner_grace = owner_grace
        snap = self._control.snap
        snap.epochs = config.epochs
        snap.steps_per_epoch = math.ceil(len(self.x_train) / config.batch_size)
        snap.total_samples = len(self.x_train) * config.epochs
        snap.sample_image = np.array(self.x_test[0])
        snap.sample_label = int(self.y_test[0])
        snap.filters = first_conv_kernel(self.model)
        self._thread: threading.Thread | None = None  # the pump (see _pump)
        self._conn = None  # our end of the pipe to the training process
        self._process = None
        self._finalizer = None

    # -- controls
    def start(self, paused: bool = False) -> None:
        """Start training in a child process (paused=True: wait for step() or resume())."""
        if self._thread is not None:
            raise InputError("This training run has already been started; reset to train again.")
        with self._control.cond:
            self._control.paused = paused
            self._control.snap.status = "paused" if paused else "running"
        self._conn, child_conn = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=_child_main,
            args=(
                child_conn,
                self.model,
                self.x_train,
                self.y_train,
                self.x_test,
                self.y_test,
                self.config,
                paused,
                _copy(self._control.snap),
            ),
            name="cnnviz-training",
            daemon=True,  # never outlives the server
        )
        with _plain_main_module():
            self._process.start()
        child_conn.close()
        self._thread = threading.Thread(
            target=_pump,
            args=(self._conn, self._process, self._control, self.model),
            name="cnnviz-training",
            daemon=True,
        )
        self._thread.start()
        # Ending with the session: when nobody holds this worker any more, stop the run.
        self._finalizer = weakref.finalize(self, _send, self._conn, "stop", "")

    def _command(self, command: str, **flags) -> None:
        with self._control.cond:
            for name, value in flags.items():
                setattr(self._control, name, value)
            self._control.cond.notify_all()
        if self._conn is not None:
            _send(self._conn, command)

    def pause(self) -> None:
        """Pause after the current batch."""
        self._command("pause", paused=True)

    def resume(self) -> None:
        """Go on training after a pause."""
        self._command("resume", paused=False)

    def step(self) -> None:
        """Train exactly one more batch, then stay paused (starts a paused run if needed)."""
        if self._thread is None:
            self.start(paused=True)
        self._command("step", paused=True)

    def stop(self) -> None:
        """Stop after the current batch; the weights trained so far are kept."""
        self._command("stop", stop_requested=True)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- reading
    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        """True when pause() (or step()) was asked last, even if the current batch still runs."""
        with self._control.cond:
            return self._control.paused

    @property
    def alive(self) -> bool:
        """True while the run trains (or waits paused)."""
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        """A copy of the progress that the training process will not change."""
        with self._control.cond:
            return _copy(self._control.snap)

    def model_copy(self) -> nn.Sequential:
        """A new model with the weights trained so far (safe to use while training runs).

        The weights were copied by the training thread itself between two batches (at most
        0.5 s ago), so the copy never sees half an optimizer step.
        """
        if not self.alive:
            return self.model
        with self._control.cond:
            weights = self._control.weights
        model = self._template.copy()
        if weights is None:
            return model
        model.set_weights(weights)
        return model


def _run(control: _Control, model, x_train, y_train, x_test, y_test, config) -> None:
    """The body of the training thread (holds no reference to the TrainingWorker)."""
    try:
        xs_train, xs_test = prepare_images(x_train), prepare_images(x_test)
        sample = (xs_test[:1], int(y_test[0]))
        callback = _Callback(control, model, len(x_train), config, sample)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported, not warned
            history = model.fit(
                xs_train,
                y_train.astype(np.int64),
                batch_size=config.batch_size,
                epochs=config.epochs,
                validation_data=(xs_test, y_test.astype(np.int64)),
                shuffle=True,
                callbacks=[callback],
                verbose=0,
                seed=config.seed,
            )
        diverged = bool(getattr(history, "diverged", False))
        with control.cond:
            stopped = control.stop_requested
            reason = control.stop_reason
        result = _evaluate(model, xs_test, x_test, y_test, config.batch_size)
        with control.cond:
            snap = control.snap
            snap.result = result
            snap.filters = first_conv_kernel(model)
            if diverged:
                snap.status = "diverged"
                snap.message = getattr(history, "message", "") or (
                    "The loss stopped being a finite number, so training stopped and kept the "
                    "last good weights; try a smaller learning rate."
                )
            elif stopped:
                snap.status = "stopped"
                snap.message = (
                    reason or "Training was stopped; the weights trained so far are kept."
                )
            else:
                snap.status = "finished"
                snap.message = f"Training finished: test accuracy {result.test_accuracy:.2%}."
            snap.log.append(snap.message)
            snap.version += 1
    except Exception as exc:  # shown to the person; the thread must never die silently
        with control.cond:
            control.snap.status = "failed"
            control.snap.message = f"Training failed: {exc}"
            control.snap.log.append(control.snap.message)
            control.snap.version += 1


def _evaluate(model, xs_test, x_test_uint8, y_test, batch_size) -> TrainingResult:
    """Score ``model`` on the test subset: loss, accuracy, confusion matrix, first mistakes."""
    probs = model.predict(xs_test, batch_size=256)
    y = np.asarray(y_test, dtype=np.int64)
    pred = probs.argmax(axis=1)
    picked = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
    wrong = np.flatnonzero(pred != y)[:24]
    return TrainingResult(
        test_loss=float(-np.mean(np.log(picked))),
        test_accuracy=float(np.mean(pred == y)),
        confusion=confusion_matrix(y, pred),
        misclassified=[(int(i), int(y[i]), int(pred[i])) for i in wrong],
        test_images=np.array(x_test_uint8[wrong]),
    )
