"""What runs in the app: :class:`TrainingWorker`, one session's training run, and its pump.

The worker starts the training process (:func:`cnnviz.training.process.child_main`), sends it
the person's commands, and keeps a thread, the pump (named ``cnnviz-training``), that mirrors
every :class:`Progress` into the worker (the snapshot, and the weights into ``worker.model``)
and asks the owner probe about once a second whether the browser session is still there.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable

import numpy as np

from cnnviz import nn
from cnnviz.data import class_names, load_dataset
from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn.inspect import first_conv_kernel
from cnnviz.nn.recipes import TrainingConfig, build_model, take_subset
from cnnviz.texts import Text
from cnnviz.training.messages import Command, Pause, Progress, Resume, Snapshot, Step, Stop
from cnnviz.training.process import child_main

_SPAWN = multiprocessing.get_context("spawn")  # no fork of a threaded server
OWNER_GONE = Text(
    N_(
        "The browser session that started this run ended, so training stopped; "
        "the weights trained so far are kept."
    )
)


class _Mirror:
    """The app's side of a run: the last progress it received and the owner watch; every
    field is guarded by cond."""

    def __init__(self, owner_alive: Callable[[], bool] | None, owner_grace: float) -> None:
        self.cond = threading.Condition()
        self.paused = False  # what the app asked last
        self.snap = Snapshot()
        self.weights: list[np.ndarray] | None = None
        # Is the browser session that owns the run still there? (see TrainingWorker)
        self.owner_alive = owner_alive
        self.owner_grace = owner_grace
        self.owner_checked = 0.0
        self.owner_lost_since: float | None = None

    def owner_gone(self) -> bool:
        """Ask owner_alive() (at most once a second; call with cond held). True once the owner
        has been gone for owner_grace seconds."""
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
        return now - self.owner_lost_since >= self.owner_grace


def _pump(conn, process, mirror: _Mirror, model: nn.Sequential) -> None:
    """Mirror the training process's progress into ``mirror`` and ``model``, stop the run when
    its owner has gone, and end when the process is done (or died)."""
    done = False
    try:
        while not done:
            with mirror.cond:
                if mirror.owner_gone():
                    conn.send(Stop(OWNER_GONE))
            if not conn.poll(0.5):
                if not process.is_alive() and not conn.poll(0):
                    raise EOFError
                continue
            progress: Progress = conn.recv()
            done = progress.done
            with mirror.cond:
                mirror.snap = progress.snapshot
                if progress.weights is not None:
                    mirror.weights = progress.weights
                    model.set_weights(progress.weights)
                mirror.cond.notify_all()
    except (EOFError, OSError):
        with mirror.cond:
            if not mirror.snap.done:
                mirror.snap.end(
                    "failed", Text(N_("Training failed: its process ended unexpectedly."))
                )
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


def _send(conn, command: Command) -> None:
    """A command to the training process; a process that has ended has nothing left to obey."""
    try:
        conn.send(command)
    except (OSError, ValueError, BrokenPipeError):
        pass


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
        """config: the recipe; data: optional ((x_train, y_train), (x_test, y_test)) uint8
        arrays (N, 28, 28) / (N,) to use instead of loading ``config.dataset``; owner_alive:
        asked about once a second by the pump, False when the browser session that owns the
        run has gone; after ``owner_grace`` seconds of False the run stops itself (a
        reconnecting browser within that time keeps it going)."""
        config.check()
        self.config = config
        (x_train, y_train), (x_test, y_test) = (
            data if data is not None else load_dataset(config.dataset)
        )
        rng = np.random.default_rng(config.seed)
        self.x_train, self.y_train = take_subset(x_train, y_train, config.train_size, rng)
        self.x_test, self.y_test = take_subset(x_test, y_test, config.test_size, rng)
        self.model = build_model(config)
        self.model.metadata.update(dataset=config.dataset, class_names=class_names(config.dataset))
        self._template = self.model.copy()  # same architecture, for model_copy()
        self._mirror = _Mirror(owner_alive, owner_grace)
        snap = self._mirror.snap
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
        with self._mirror.cond:
            self._mirror.paused = paused
            self._mirror.snap.status = "paused" if paused else "running"
            first = self._mirror.snap.copy()
        self._conn, child_conn = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=child_main,
            args=(child_conn, self.model, self.x_train, self.y_train, self.x_test, self.y_test)
            + (self.config, paused, first),
            name="cnnviz-training",
            daemon=True,  # never outlives the server
        )
        with _plain_main_module():
            self._process.start()
        child_conn.close()
        self._thread = threading.Thread(
            target=_pump,
            args=(self._conn, self._process, self._mirror, self.model),
            name="cnnviz-training",
            daemon=True,
        )
        self._thread.start()
        # Ending with the session: when nobody holds this worker any more, stop the run.
        self._finalizer = weakref.finalize(self, _send, self._conn, Stop())

    def _command(self, command: Command) -> None:
        with self._mirror.cond:
            if not isinstance(command, Stop):
                self._mirror.paused = not isinstance(command, Resume)
            self._mirror.cond.notify_all()
        if self._conn is not None:
            _send(self._conn, command)

    def pause(self) -> None:
        """Pause after the current batch."""
        self._command(Pause())

    def resume(self) -> None:
        """Go on training after a pause."""
        self._command(Resume())

    def step(self) -> None:
        """Train exactly one more batch, then stay paused (starts a paused run if needed)."""
        if self._thread is None:
            self.start(paused=True)
        self._command(Step())

    def stop(self) -> None:
        """Stop after the current batch; the weights trained so far are kept."""
        self._command(Stop())

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
        with self._mirror.cond:
            return self._mirror.paused

    @property
    def alive(self) -> bool:
        """True while the run trains (or waits paused)."""
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        """A copy of the progress that the pump will not change."""
        with self._mirror.cond:
            return self._mirror.snap.copy()

    def model_copy(self) -> nn.Sequential:
        """A new model with the weights trained so far (safe to use while training runs).

        The training process copied the weights itself between two batches (at most about a
        second ago), so the copy never sees half an optimizer step.
        """
        if not self.alive:
            return self.model
        with self._mirror.cond:
            weights = self._mirror.weights
        model = self._template.copy()
        if weights is None:
            return model
        model.set_weights(weights)
        return model
