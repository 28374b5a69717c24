"""What runs in the training process: ``model.fit`` with a callback that reports progress and
obeys the app's commands between two batches.

:func:`child_main` is the process's entry point. Its main thread trains (:func:`run`); a relay
thread receives the commands (:mod:`cnnviz.training.messages`) into :class:`Controls` and sends
a :class:`Progress` to the app every PUBLISH_EVERY seconds. :class:`LiveCallback`, between two
batches,

* fills in the :class:`Snapshot` (curves, epoch log, speed, learned filters, one sample's
  feature maps) and copies the weights at most once a second;
* waits while the run is paused, lets exactly one batch through per Step;
* sets ``model.stop_training`` after a Stop.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from cnnviz import nn
from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn.callbacks import epoch_line
from cnnviz.nn.inspect import confusion_matrix, first_conv_kernel, look_inside
from cnnviz.nn.metrics import accuracy
from cnnviz.nn.parallel import set_train_threads
from cnnviz.nn.recipes import TrainingConfig
from cnnviz.texts import Percent, Text
from cnnviz.training.messages import (
    Command,
    Pause,
    Progress,
    Resume,
    Snapshot,
    Step,
    Stop,
    TrainingResult,
)

PUBLISH_EVERY = 0.25  # seconds between two progress messages to the app


class Controls:
    """The training process's state shared by its two threads; every field is guarded by cond."""

    def __init__(self, snap: Snapshot, paused: bool = False) -> None:
        self.cond = threading.Condition()
        self.paused = paused
        self.stop_requested = False
        self.stop_reason = ""
        self.step_credit = 0  # batches allowed while paused
        self.snap = snap
        self.weights: list[np.ndarray] | None = None  # copied between two batches
        self.waiting_since: float | None = None
        self.paused_seconds = 0.0

    def obey(self, command: Command) -> None:
        """Apply one command from the app (call with cond held)."""
        if isinstance(command, Pause):
            self.paused = True
        elif isinstance(command, Resume):
            self.paused = False
        elif isinstance(command, Step):
            self.paused = True
            self.step_credit += 1
        elif isinstance(command, Stop):
            self.stop_requested = True
            self.stop_reason = command.reason or self.stop_reason
        self.cond.notify_all()


class LiveCallback(nn.Callback):
    """Runs between batches: publish progress into the snapshot, honour the controls."""

    HEAVY_EVERY = 1.0  # seconds between two filter / feature-map refreshes

    def __init__(self, controls: Controls, model: nn.Sequential, config: TrainingConfig, sample):
        super().__init__()
        self.controls = controls
        self.net = model  # not `self.model`: the engine sets that itself
        self.config = config
        self.sample_x, self.sample_label = sample
        self.n_train = 0
        self.t0 = 0.0
        self.last_heavy = -1.0
        self.curve_seen = -1.0e18  # samples seen at the last point of the running curve
        self.epoch = 0

    def _heavy(self, snap: Snapshot) -> None:
        """Filters and the sample's feature maps (copies), at most every HEAVY_EVERY seconds."""
        now = time.perf_counter()
        if now - self.last_heavy < self.HEAVY_EVERY:
            return
        self.last_heavy = now
        snap.filters = first_conv_kernel(self.net)
        self.controls.weights = self.net.get_weights()  # copies
        snap.sample_maps, snap.sample_probs = look_inside(self.net, self.sample_x)
        snap.heavy_version += 1

    def _gate(self) -> None:
        """Wait while paused (unless a step was granted); stop when asked."""
        c = self.controls
        with c.cond:
            while c.paused and not c.stop_requested and c.step_credit == 0:
                if c.waiting_since is None:
                    self.last_heavy = -1.0  # show the paused state exactly: filters, maps, weights
                    self._heavy(c.snap)
                    c.waiting_since = time.perf_counter()
                    c.snap.status = "paused"
                    c.snap.version += 1
                c.cond.wait(timeout=0.5)
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
        self.n_train = self.params["samples"]
        self.t0 = time.perf_counter()
        self._gate()  # a run started paused waits here for its first step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        with self.controls.cond:
            self.controls.snap.epoch = epoch + 1
            self.controls.snap.batch = 0
            self.controls.snap.log.append(f"Epoch {epoch + 1}/{self.params['epochs']}")

    def on_batch_end(self, batch, logs=None):
        done_in_epoch = logs["samples"]
        seen = self.epoch * self.n_train + done_in_epoch
        active = time.perf_counter() - self.t0 - self.controls.paused_seconds
        with self.controls.cond:
            snap = self.controls.snap
            snap.batch = batch + 1
            snap.samples_seen = seen
            snap.elapsed = active
            snap.samples_per_second = seen / active if active > 0 else 0.0
            left = snap.total_samples - seen
            snap.seconds_left = left / snap.samples_per_second if snap.samples_per_second else None
            # about 500 points an epoch, whatever the batch size: batch size 1 for 30 epochs
            # would otherwise keep (and redraw) 1.8 million points
            if seen - self.curve_seen >= self.n_train / 500 or done_in_epoch == self.n_train:
                snap.batch_curve.append((seen / self.n_train, logs["loss"], logs["accuracy"]))
                self.curve_seen = seen
            self._heavy(snap)
            snap.version += 1
        self._gate()

    def on_epoch_end(self, epoch, logs=None):
        line = epoch_line(logs["samples"], self.n_train, logs, self.params["steps"])
        with self.controls.cond:
            snap = self.controls.snap
            for key in snap.history:
                if logs.get(key) is not None:
                    snap.history[key].append(float(logs[key]))
            snap.log.append(line)
            self.last_heavy = -1.0
            self._heavy(snap)
            snap.version += 1


def child_main(conn, model, x_train, y_train, x_test, y_test, config, paused, snap) -> None:
    """The training process: train with :func:`run` while a relay thread obeys the app's
    commands and sends it a Progress (the snapshot and the weights) every PUBLISH_EVERY s.

    snap: the app's first snapshot (sizes, the sample digit, the initial filters).
    """
    # whole batches on this one thread, whatever CNNVIZ_TRAIN_THREADS says: the other cores serve
    # the browser and the other sessions (cnnviz/nn/parallel.py, docs/performance.md, issue 14)
    set_train_threads(1)
    controls = Controls(snap, paused)
    finished = threading.Event()

    def relay() -> None:
        last_version = -1
        try:
            while not finished.is_set():
                while conn.poll(PUBLISH_EVERY):
                    command = conn.recv()
                    with controls.cond:
                        controls.obey(command)
                with controls.cond:
                    if controls.snap.version != last_version:
                        last_version = controls.snap.version
                        conn.send(Progress(controls.snap.copy(), controls.weights))
        except (EOFError, OSError):  # the app (its server) has gone: stop training
            with controls.cond:
                controls.obey(Stop(Text(N_("The app that started this run has gone."))))

    relay_thread = threading.Thread(target=relay, name="cnnviz-relay", daemon=True)
    relay_thread.start()
    try:
        run(controls, model, x_train, y_train, x_test, y_test, config)
    finally:
        finished.set()
        relay_thread.join(timeout=5)
        with controls.cond, contextlib.suppress(OSError):  # nobody may be left to tell
            conn.send(Progress(controls.snap.copy(), model.get_weights(), done=True))
        conn.close()


def run(controls: Controls, model, x_train, y_train, x_test, y_test, config) -> None:
    """Train ``model`` on uint8 images with ``config``, then score it on the test images; the
    outcome (finished, stopped, diverged or failed) ends up in ``controls.snap``."""
    try:
        xs_train, xs_test = nn.ScaledImages(x_train), nn.ScaledImages(x_test)
        sample = (xs_test[:1], int(y_test[0]))
        callback = LiveCallback(controls, model, config, sample)
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
        with controls.cond:
            stopped, reason = controls.stop_requested, controls.stop_reason
        result = evaluate(model, xs_test, x_test, y_test)
        with controls.cond:
            snap = controls.snap
            snap.result = result
            snap.filters = first_conv_kernel(model)
            if history.diverged:
                snap.end("diverged", history.message_text or history.message)
            elif stopped:
                snap.end(
                    "stopped",
                    reason
                    or Text(N_("Training was stopped; the weights trained so far are kept.")),
                )
            else:
                snap.end(
                    "finished",
                    Text(
                        N_("Training finished: test accuracy {accuracy}."),
                        accuracy=Percent(result.test_accuracy, 2),
                    ),
                )
    except Exception as exc:  # shown to the person; the run must never end silently
        with controls.cond:
            controls.snap.end("failed", Text(N_("Training failed: {error}"), error=_error(exc)))


def _error(exc: Exception) -> Text | str:
    """An exception's sentence, translatable when it is an InputError."""
    if isinstance(exc, InputError):
        return Text(exc.template, **exc.params)
    return str(exc)


def evaluate(model, xs_test, x_test_uint8, y_test) -> TrainingResult:
    """Score ``model`` on the test subset: loss, accuracy, confusion matrix, first mistakes."""
    y = np.asarray(y_test, dtype=np.int64)
    loss, _ = model.evaluate(xs_test, y)
    probs = model.predict(xs_test, batch_size=256)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)[:24]
    return TrainingResult(
        test_loss=float(loss),
        test_accuracy=accuracy(probs, y),
        confusion=confusion_matrix(y, pred),
        misclassified=[(int(i), int(y[i]), int(pred[i])) for i in wrong],
        test_images=np.array(x_test_uint8[wrong]),
    )
