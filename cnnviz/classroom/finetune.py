"""Fine-tuning a copy of a network on the class's own digits, measured before and after.

>>> result = fine_tune(model, images, labels, epochs=5, on_epoch=print)   # images (N, 28, 28)
>>> result.held_before, result.held_after      # on the class's digits kept out of training
(0.78, 0.88)
>>> result.mnist_before, result.mnist_after    # on MNIST's 10,000 test digits
(0.9914, 0.9885)
>>> store.save_model(code, token, "Our class", result.to_bytes(), result.metrics())

A quarter of the class's digits (``holdout``) is kept out of training, chosen at random but
in step with the digits (each digit's share as close to a quarter as whole numbers allow) and
the same for the same ``seed``; the model is trained on the rest only and measured on them:
the held-out accuracy says how well it reads the class's handwriting it has not seen. The
network given is never changed, nor even run (its layers keep caches): everything happens on
``model.copy()``, so a model shared by every session of the app is safe to pass from a thread.

Training uses the recipe of every cnnviz network (``x / 255 - 0.5``, sparse categorical
cross-entropy) with Adam, and shifts each digit by up to ``shift`` pixels at random each time it
is seen, so a few hundred digits teach a style rather than these exact pixels. It mixes in as
many MNIST *training* digits as class digits (``rehearse=1.0``), so the network learns the
class's style without forgetting MNIST's: measured with bench/class_finetune.py on 200 tilted
digits, the strong network went from 78% to 88% on the held-out class digits and from 99.14%
to 98.85% on MNIST's test set; without rehearsal, at the same learning rate, to 86% and 98.13%.

``on_epoch(epoch, epochs)`` is called after each epoch (for a progress bar; the page runs
:func:`fine_tune` in a background thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nn.callbacks import Callback
from cnnviz.nn.model import Sequential
from cnnviz.nn.npz import to_bytes
from cnnviz.nn.optimizers import Adam
from cnnviz.nn.scaled import ShiftedImages
from cnnviz.texts import Number

MIN_DIGITS = 10
MAX_EPOCHS = 50
LEARNING_RATE = 1e-3  # Adam's (bench/class_finetune.py compared 5e-4, 1e-3 and 2e-3)


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` made and measured. Accuracies are fractions in [0, 1].

    ``train_index`` / ``held_index``: which of the given digits were trained on / held out.
    ``mnist_before`` / ``mnist_after`` are None when MNIST was not measured (mnist_test=False).
    """

    model: Sequential
    n_train: int
    n_held: int
    held_before: float
    held_after: float
    mnist_before: float | None
    mnist_after: float | None
    n_mnist: int
    seconds: float
    epochs: int
    learning_rate: float
    train_index: np.ndarray = field(repr=False)
    held_index: np.ndarray = field(repr=False)
    loss: list[float] = field(default_factory=list)  # mean training loss per epoch

    def metrics(self) -> dict:
        """The numbers as a small JSON-ready dict (for ``Store.save_model``)."""
        keys = ("n_train", "n_held", "held_before", "held_after", "mnist_before",
                "mnist_after", "n_mnist", "seconds", "epochs", "learning_rate")  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def to_bytes(self) -> bytes:
        """The fine-tuned model as a cnnviz .npz file (to save in the room or download)."""
        return to_bytes(self.model)


class _EpochReport(Callback):
    def __init__(self, on_epoch: Callable[[int, int], None], epochs: int):
        super().__init__()
        self.on_epoch, self.epochs, self.loss = on_epoch, epochs, []

    def on_epoch_end(self, epoch, logs=None):
        self.loss.append(float((logs or {}).get("loss", float("nan"))))
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, self.epochs)


def from_submissions(submissions) -> tuple[np.ndarray, np.ndarray]:
    """Store.submissions(...) -> (images (N, 28, 28) uint8, labels (N,) int64) for fine_tune."""
    images = np.stack([s.image for s in submissions]) if submissions else np.zeros((0, 28, 28))
    labels = np.array([s.label for s in submissions], dtype=np.int64)
    return images.astype(np.uint8), labels


def split_holdout(labels: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, held_index): round(holdout x N) digits held out (at least 1, at most N-1),
    shared out between the digits 0-9 in proportion to how often each occurs (largest
    remainders), the rest for training; chosen at random, the same for the same seed. Sorted."""
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    target = min(max(round(holdout * n), 1), n - 1)
    classes = np.unique(labels)
    share = np.array([np.sum(labels == c) for c in classes]) * target / n
    quota = np.floor(share).astype(int)
    order = np.lexsort((rng.random(len(classes)), -(share - quota)))  # ties broken at random
    quota[order[: target - quota.sum()]] += 1
    held = [
        rng.permutation(np.flatnonzero(labels == c))[:k]
        for c, k in zip(classes, quota, strict=True)
    ]
    held_index = np.sort(np.concatenate(held)).astype(np.int64)
    train_index = np.setdiff1d(np.arange(n), held_index)
    return train_index, held_index


def accuracy(model: Sequential, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` (N, 28, 28) uint8 whose argmax prediction equals ``labels``."""
    x = images.astype(np.float32) / np.float32(255) - np.float32(0.5)
    return float(np.mean(model.predict(x[..., None]).argmax(axis=1) == labels))


def rehearsal_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST *training* digits chosen at random (never the test digits measured on)."""
    from cnnviz.data import mnist

    (x, y), _ = mnist.load_data_shared()
    index = np.sort(np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False))
    return x[index], y[index].astype(np.int64)


def mnist_subset(mnist_test) -> tuple[np.ndarray, np.ndarray] | None:
    """None: MNIST's 10,000 test digits; an int n: the first n; (x, y) as given; False: None."""
    if mnist_test is False:
        return None
    if mnist_test is None or isinstance(mnist_test, int):
        from cnnviz.data import mnist

        _, (x, y) = mnist.load_data_shared()
        return (x, y) if mnist_test is None else (x[:mnist_test], y[:mnist_test])
    x, y = mnist_test
    return np.asarray(x), np.asarray(y)


def _check(images, labels, epochs, holdout, batch_size, learning_rate):
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise InputError("Fine-tuning takes 28 x 28 drawings (uint8), one per label.")
    if (
        len(labels) != len(images)
        or labels.dtype.kind not in "iu"
        or not np.all((labels >= 0) & (labels <= 9))
    ):
        raise InputError("Fine-tuning takes 28 x 28 drawings (uint8), one per label.")
    if len(images) < MIN_DIGITS:
        raise InputError(
            "Fine-tuning needs at least {minimum} drawings, and there are {count}.",
            minimum=MIN_DIGITS,
            count=Number(len(images)),
        )
    if not (isinstance(epochs, int) and 1 <= epochs <= MAX_EPOCHS):
        raise InputError("The number of epochs must be from 1 to {limit}.", limit=MAX_EPOCHS)
    if not 0 < holdout < 1:
        raise InputError("The held-out share must be more than 0 and less than 1.")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise InputError("The batch size and the number of epochs must be at least 1.")
    if learning_rate is not None and not (np.isfinite(learning_rate) and learning_rate > 0):
        raise InputError("The learning rate must be a positive number.")
    return images, labels.astype(np.int64)


def fine_tune(
    model: Sequential,
    images,
    labels,
    *,
    epochs: int = 5,
    holdout: float = 0.25,
    batch_size: int = 16,
    learning_rate: float | None = None,
    seed: int = 0,
    mnist_test=None,
    shift: int = 2,
    rehearse: float = 1.0,
    on_epoch: Callable[[int, int], None] | None = None,
) -> FineTuneResult:
    """Train a copy of ``model`` on the class's digits; measure it before and after.

    images: (N, 28, 28) uint8 (N >= 10); labels: (N,) digits 0-9. holdout: the share of the
    digits kept out of training to measure on. learning_rate: Adam's (None: 1e-3). rehearse:
    how many MNIST training digits to mix in, per class digit trained on (1.0: as many; 0:
    none). mnist_test: None (MNIST's 10,000 test digits), an int n (the first n), an (x, y)
    pair, or False (do not measure on MNIST). Returns a :class:`FineTuneResult`; ``model``
    is left as it was.
    """
    start = time.perf_counter()
    images, labels = _check(images, labels, epochs, holdout, batch_size, learning_rate)
    lr = LEARNING_RATE if learning_rate is None else float(learning_rate)
    train_index, held_index = split_holdout(labels, holdout, seed)
    mnist = mnist_subset(mnist_test)

    # Everything runs on a copy: the model given (often shared by every session of the app)
    # is not trained, and not even its layers' caches are written from this thread.
    tuned = model.copy()
    held_x, held_y = images[held_index], labels[held_index]
    held_before = accuracy(tuned, held_x, held_y)
    mnist_before = accuracy(tuned, *mnist) if mnist is not None else None

    tuned.compile(Adam(learning_rate=lr), "sparse_categorical_crossentropy", ["accuracy"])
    report = _EpochReport(on_epoch, epochs)
    x_train, y_train = images[train_index], labels[train_index]
    n_rehearse = int(round(rehearse * len(train_index)))
    if n_rehearse:
        x_more, y_more = rehearsal_digits(n_rehearse, seed)
        x_train, y_train = np.concatenate([x_train, x_more]), np.concatenate([y_train, y_more])
    tuned.fit(ShiftedImages(x_train, shift, seed=seed), y_train, batch_size=batch_size,
              epochs=epochs, verbose=0, callbacks=[report], seed=seed)  # fmt: skip
    tuned.metadata["fine_tuned"] = {
        "digits": int(len(train_index)),
        "epochs": epochs,
        "learning_rate": lr,
        "batch_size": batch_size,
        "seed": seed,
    }

    held_after = accuracy(tuned, held_x, held_y)
    mnist_after = accuracy(tuned, *mnist) if mnist is not None else None
    return FineTuneResult(
        model=tuned,
        n_train=len(train_index),
        n_held=len(held_index),
        held_before=held_before,
        held_after=held_after,
        mnist_before=mnist_before,
        mnist_after=mnist_after,
        n_mnist=0 if mnist is None else len(mnist[1]),
        seconds=time.perf_counter() - start,
        epochs=epochs,
        learning_rate=lr,
        train_index=train_index,
        held_index=held_index,
        loss=report.loss,
    )
