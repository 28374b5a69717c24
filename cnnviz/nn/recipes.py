"""Training recipes: the one place that says how a cnnviz network is built and trained.

A :class:`TrainingConfig` is one recipe (network, optimizer, batch size, epochs, how many
images, seed); :data:`PRESETS` is the table of named ones, used by the command line
(``python -m cnnviz train --preset tutorial|strong|quick``), the Train live page ("Quick demo",
"Tutorial recipe") and the app's quick model. :func:`build_model` turns a recipe into a
compiled network, :func:`scale_images` is the input scaling every network here expects
(the tutorial's ``x / 255 - 0.5``, shaped (N, 28, 28, 1)).

>>> model = build_model(PRESETS["tutorial"])              # Conv2D(8) -> MaxPool -> Dense, SGD
>>> model.fit(scale_images(x_train), y_train, batch_size=1, epochs=30)   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from cnnviz.nn.model import Sequential
from cnnviz.nn.optimizers import SGD, Adam, Optimizer
from cnnviz.nn.scaled import ScaledImages, ShiftedImages

MODELS_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "models"
BUNDLED = {
    "Tutorial network": MODELS_DIR / "tutorial.npz",
    "Stronger network": MODELS_DIR / "strong.npz",
}

ARCHITECTURES = ("tutorial", "strong")
DEFAULT_FILTERS = {"tutorial": 8, "strong": 32}  # filters of the first conv layer


# ----------------------------------------------------------------------------- the networks


def tutorial_model(
    filters: int = 8, seed: int | None = None, input_shape=(28, 28, 1)
) -> Sequential:
    """The tutorial's Part II network: Conv2D(8, 3, no bias) -> MaxPooling2D(2) -> Flatten ->
    Dense(10, softmax); 72 + 13,530 = 13,602 parameters with 8 filters."""
    return Sequential(
        [
            Conv2D(filters, 3, input_shape=input_shape, use_bias=False),
            MaxPooling2D(pool_size=2),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        name="tutorial",
        seed=seed,
    )


def strong_model(filters: int = 32, seed: int | None = None, input_shape=(28, 28, 1)) -> Sequential:
    """Two conv layers with ReLU: Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu)
    -> MaxPooling2D(2) -> Flatten -> Dense(10, softmax) (the Keras MNIST convnet's shape)."""
    return Sequential(
        [
            Conv2D(filters, 3, activation="relu", input_shape=input_shape),
            MaxPooling2D(pool_size=2),
            Conv2D(2 * filters, 3, activation="relu"),
            MaxPooling2D(pool_size=2),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        name="strong",
        seed=seed,
    )


# ----------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class TrainingConfig:
    """One training recipe, in Keras's words (``learning_rate``, ``batch_size``, ``epochs``).

    architecture: "tutorial" (Conv2D(filters, 3) -> MaxPool -> Dense softmax) or "strong" (two
    conv layers with ReLU, ``filters`` and 2 x ``filters`` of them). train_size / test_size:
    how many training / test images (None = all; the test images are also the validation
    data, as in the tutorial's ``model.fit``). augment: random shifts of the training images
    by up to this many pixels (0 = none). The defaults are the Train live page's Quick demo.
    """

    dataset: str = "MNIST"
    architecture: str = "tutorial"
    filters: int = 8
    optimizer: str = "adam"  # "sgd" or "adam"
    learning_rate: float = 0.005
    momentum: float = 0.0  # SGD only
    batch_size: int = 32
    epochs: int = 2
    train_size: int | None = 3000
    test_size: int | None = 1000
    augment: int = 0
    seed: int = 0

    def check(self) -> None:
        """Raise InputError (one sentence) when a setting cannot work."""
        if self.architecture not in ARCHITECTURES:
            raise InputError("The architecture must be 'tutorial' or 'strong'.")
        if self.optimizer not in ("sgd", "adam"):
            raise InputError("The optimizer must be 'sgd' or 'adam'.")
        if not 1 <= self.filters <= 64:
            raise InputError("The number of filters must be between 1 and 64.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InputError("The learning rate must be a positive number.")
        if not 0 <= self.momentum < 1:
            raise InputError("Momentum must be at least 0 and below 1.")
        if self.batch_size < 1 or self.epochs < 1:
            raise InputError("The batch size and the number of epochs must be at least 1.")
        if self.train_size is not None and self.train_size < 1:
            raise InputError("The training subset must hold at least one image.")
        if self.test_size is not None and self.test_size < 1:
            raise InputError("The test subset must hold at least one image.")
        if self.augment < 0:
            raise InputError("The random shift must be 0 pixels or more.")


# The one table of named recipes.
PRESETS: dict[str, TrainingConfig] = {
    # Train live's "Quick demo" and the app's quick model: done in seconds, 3000 images, Adam.
    "quick demo": TrainingConfig(),
    # The tutorial's Keras recipe (Part II): SGD(0.001), batch size 1, 30 epochs, all images
    # (assets/models/tutorial.npz; Train live's "Tutorial recipe").
    "tutorial": TrainingConfig(
        optimizer="sgd",
        learning_rate=0.001,
        batch_size=1,
        epochs=30,
        train_size=None,
        test_size=None,
    ),
    # The stronger network for hand-drawn digits (assets/models/strong.npz).
    "strong": TrainingConfig(
        architecture="strong",
        filters=32,
        optimizer="adam",
        learning_rate=0.001,
        batch_size=32,
        epochs=10,
        train_size=None,
        test_size=None,
        augment=2,
    ),
    # The command line's short demo run: the first 10000 images, SGD(0.05).
    "quick": TrainingConfig(
        optimizer="sgd", learning_rate=0.05, epochs=2, train_size=10000, test_size=None
    ),
}

# `python -m cnnviz train` without --preset starts from this.
COMMAND_LINE_DEFAULT = TrainingConfig(
    optimizer="sgd", learning_rate=0.01, epochs=5, train_size=None, test_size=None
)


def make_optimizer(config: TrainingConfig) -> Optimizer:
    """SGD(learning_rate, momentum) or Adam(learning_rate), as the recipe says."""
    if config.optimizer == "adam":
        return Adam(learning_rate=config.learning_rate)
    return SGD(learning_rate=config.learning_rate, momentum=config.momentum)


def build_model(config: TrainingConfig) -> Sequential:
    """A freshly initialised network for ``config`` (seeded), compiled with its optimizer and
    the sparse categorical cross-entropy. The caller checks ``config`` first."""
    make = strong_model if config.architecture == "strong" else tutorial_model
    model = make(filters=config.filters, seed=config.seed)
    model.compile(make_optimizer(config), "sparse_categorical_crossentropy", ["accuracy"])
    model.metadata["trained_with"] = dataclasses.asdict(config)
    return model


# ----------------------------------------------------------------------------- the data


def scale_images(x_uint8) -> np.ndarray:
    """The input scaling of every cnnviz network: uint8 (N, 28, 28) -> float32 (N, 28, 28, 1)
    = x / 255 - 0.5. For a large set, :func:`training_images` scales a batch at a time."""
    return ScaledImages(np.asarray(x_uint8))[:]


def training_images(x_uint8: np.ndarray, config: TrainingConfig) -> ScaledImages:
    """The training images as ``fit`` takes them: scaled a batch at a time (ScaledImages), and
    shifted at random by up to ``config.augment`` pixels (ShiftedImages) when asked."""
    if config.augment:
        return ShiftedImages(x_uint8, config.augment, seed=config.seed)
    return ScaledImages(x_uint8)


def take_subset(
    x: np.ndarray, y: np.ndarray, size: int | None, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` pairs of (x, y): a random choice kept in order with ``rng``, else the first ones.

    All of them when size is None or not smaller than len(x).
    """
    if size is None or size >= len(x):
        return x, y
    if rng is None:
        return x[:size], y[:size]
    index = np.sort(rng.choice(len(x), size=size, replace=False))
    return x[index], y[index]


def bundled_models() -> dict[str, Path]:
    """The bundled trained models present under assets/models, by display name."""
    return {name: path for name, path in BUNDLED.items() if path.is_file()}
