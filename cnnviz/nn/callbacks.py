"""Callbacks and History, named as in Keras.

``fit`` calls, in order: on_train_begin(logs), then per epoch on_epoch_begin(epoch, logs),
on_batch_end(batch, logs) after every batch, on_epoch_end(epoch, logs), and finally
on_train_end(logs). ``logs`` hold the running "loss" and "accuracy" of the epoch so far,
"samples" (seen this epoch) and "seconds"; on_epoch_end's logs also hold "val_loss" and
"val_accuracy" when there is validation data. Setting ``model.stop_training = True`` in any
callback stops ``fit`` after the current batch.
"""

from __future__ import annotations


class Callback:
    def __init__(self):
        self.model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_end(self, logs=None): ...


class History(Callback):
    """``history.history["loss"]`` etc.: one value per finished epoch.

    ``diverged`` is True when training stopped because the loss stopped being finite, and
    ``message`` then says so in one sentence.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.diverged = False
        self.stopped_early = False
        self.message = ""

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            if key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                self.history.setdefault(key, []).append(float(value))


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_batch_end=lambda b, logs: ...)``."""

    def __init__(
        self,
        on_train_begin=None,
        on_epoch_begin=None,
        on_batch_end=None,
        on_epoch_end=None,
        on_train_end=None,
    ):
        super().__init__()
        for name, fn in (
            ("on_train_begin", on_train_begin),
            ("on_epoch_begin", on_epoch_begin),
            ("on_batch_end", on_batch_end),
            ("on_epoch_end", on_epoch_end),
            ("on_train_end", on_train_end),
        ):
            if fn is not None:
                setattr(self, name, fn)
