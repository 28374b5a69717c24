"""The networks cnnviz ships: the tutorial's, and a stronger one for hand-drawn digits.

Both take images scaled the tutorial's way, x / 255 - 0.5, shaped (N, 28, 28, 1).
"""

from __future__ import annotations

from pathlib import Path

from cnnviz.nn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from cnnviz.nn.model import Sequential
from cnnviz.nn.optimizers import SGD, Adam

MODELS_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "models"
BUNDLED = {
    "Tutorial network": MODELS_DIR / "tutorial.npz",
    "Stronger network": MODELS_DIR / "strong.npz",
}


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


PRESETS = {
    # the tutorial's Keras recipe (Part II)
    "tutorial": dict(model="tutorial", optimizer="sgd", lr=0.001, batch_size=1, epochs=30),
    # the stronger network for hand-drawn digits
    "strong": dict(model="strong", optimizer="adam", lr=0.001, batch_size=32, epochs=10, augment=2),
    # a quick classroom demo
    "quick": dict(model="tutorial", optimizer="sgd", lr=0.05, batch_size=32, epochs=2, limit=10000),
}


def build(model: str, filters: int | None = None, seed: int | None = None) -> Sequential:
    if model == "tutorial":
        return tutorial_model(filters or 8, seed)
    if model == "strong":
        return strong_model(filters or 32, seed)
    raise ValueError(f"unknown model {model!r}")


def make_optimizer(name: str, lr: float, momentum: float = 0.0):
    return Adam(lr) if name == "adam" else SGD(lr, momentum)


def bundled_models() -> dict[str, Path]:
    """The bundled trained models present under assets/models, by display name."""
    return {name: path for name, path in BUNDLED.items() if path.is_file()}
