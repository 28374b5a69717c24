"""Callbacks, History and ProgbarLogger, named as in Keras.

``fit`` calls, in order: set_model(model) and set_params(params), on_train_begin(logs), then
per epoch on_epoch_begin(epoch, logs), on_batch_end(batch, logs) after every batch (only for
callbacks that define on_batch_end), on_epoch_end(epoch, logs), and finally
on_train_end(logs). ``params`` hold "epochs", "steps" (batches per epoch), "samples" (per
epoch) and "verbose". ``logs`` hold the running "loss" and "accuracy" of the epoch so far,
"samples" (seen this epoch) and "seconds"; on_epoch_end's logs also hold "val_loss" and
"val_accuracy" when there is validation data; on_train_end's hold "diverged" and "message".
Setting ``model.stop_training = True`` in any callback stops ``fit`` after the current batch.
"""

from __future__ import annotations

import sys
import time

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class Callback:
    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_end(self, logs=None): ...


def takes_batches(callback: Callback) -> bool:
    """True when ``callback`` does something in on_batch_end (fit calls only those per batch)."""
    return type(callback).on_batch_end is not Callback.on_batch_end or "on_batch_end" in vars(
        callback
    )


class History(Callback):
    """``history.history["loss"]`` etc.: one value per finished epoch.

    ``diverged`` is True when training stopped because the loss stopped being finite, and
    ``message`` then says so in one sentence (``message_text``: the same as a
    :class:`cnnviz.texts.Text`, to show in the reader's language).
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.diverged = False
        self.stopped_early = False
        self.message = ""
        self.message_text = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            if key in METRICS:
                self.history.setdefault(key, []).append(float(value))


def epoch_line(samples: int, total: int, logs: dict, steps: int | None = None) -> str:
    """Keras's progress line: ``60000/60000 [====] - 3s 50us/step - loss: ... - accuracy: ...``.

    samples: images seen so far of ``total``; logs: the metrics, and "seconds" (the epoch's
    time so far) when it is over; steps: batches in the epoch, for the time per step.
    """
    done = int(30 * samples / total) if total else 30
    bar = "=" * max(done - 1, 0) + (">" if done < 30 else "=") + "." * (30 - done)
    parts = [f"{int(samples)}/{total} [{bar}]"]
    if logs.get("seconds") is not None and steps:
        per = logs["seconds"] / steps
        per_step = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
        parts.append(f"{logs['seconds']:.0f}s {per_step}")
    parts += [f"{k}: {float(logs[k]):.4f}" for k in METRICS if logs.get(k) is not None]
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Prints Keras's epoch lines to stdout (fit adds one when ``verbose`` is 1 or 2).

    ``Epoch 3/30`` when an epoch begins and :func:`epoch_line` when it ends; with verbose=1 in
    a terminal, the line also grows during the epoch (redrawn at most four times a second).
    """

    REDRAW_EVERY = 0.25  # seconds

    def __init__(self):
        super().__init__()
        self.live = False
        self.next_draw = 0.0

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.live = params.get("verbose") == 1 and sys.stdout.isatty()
        if self.live:  # only then is this callback called after every batch
            self.on_batch_end = self._redraw

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)

    def _redraw(self, batch, logs=None):
        now = time.perf_counter()
        if now >= self.next_draw:
            self.next_draw = now + self.REDRAW_EVERY
            line = epoch_line(logs["samples"], self.params["samples"], logs)
            sys.stdout.write("\r" + line)
            sys.stdout.flush()

    def on_epoch_end(self, epoch, logs=None):
        line = epoch_line(logs["samples"], self.params["samples"], logs, self.params["steps"])
        sys.stdout.write(("\r" if self.live else "") + line + "\n")
        sys.stdout.flush()

    def on_train_end(self, logs=None):
        if logs and logs.get("diverged"):
            print(logs["message"], flush=True)
