"""A hall's handwriting, made from MNIST's training digits, for tests, benchmarks and demos.

A real class writes in its own way: phones held at an angle, fingers that draw thick strokes.
:func:`hall_digits` imitates one such way with a rule applied to every digit alike (never a
rule fitted to one example): MNIST training digits (never the test set, which the fine-tuning
measures on) with strokes thickened by a grey dilation and the whole digit rotated by a tilt
shared by the hall plus a little of each writer's own, shifted by a pixel or two.

>>> images, labels = hall_digits(200, seed=1)          # (200, 28, 28) uint8, (200,) int64
>>> images, labels = hall_digits(200, style="upright") # MNIST digits unchanged

With the default style the bundled strong network reads about three in four of them (MNIST
test digits: 99%), so fine-tuning on them has something to gain.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cnnviz.data import mnist

STYLES = {
    # name: (tilt in degrees shared by the hall, each writer's own +-, stroke thickening px)
    "tilted": (30.0, 5.0, 3),
    "thick": (0.0, 5.0, 3),
    "upright": (0.0, 0.0, 0),
}


def restyle(image: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """One (28, 28) uint8 digit written in ``style`` (random parts drawn from ``rng``)."""
    tilt, spread, thick = STYLES[style]
    a = image.astype(np.float32)
    if thick:
        a = ndimage.grey_dilation(a, size=(thick, thick))
    angle = tilt + rng.uniform(-spread, spread)
    if angle:
        a = ndimage.rotate(a, angle, reshape=False, order=1)
    if style != "upright":
        a = ndimage.shift(a, rng.integers(-1, 2, size=2), order=0)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def hall_digits(n: int, *, style: str = "tilted", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits (about n/10 of each) in ``style``: images (n, 28, 28) uint8, labels (n,)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    rng = np.random.default_rng(seed)
    (x_train, y_train), _ = mnist.load_data_shared()
    labels = rng.permutation(np.arange(n) % 10)
    index = np.empty(n, dtype=np.int64)
    for d in range(10):
        slots = np.flatnonzero(labels == d)
        index[slots] = rng.choice(np.flatnonzero(y_train == d), size=len(slots), replace=False)
    images = (
        np.stack([restyle(x_train[i], style, rng) for i in index])
        if n
        else np.zeros((0, 28, 28), np.uint8)
    )
    return images, y_train[index].astype(np.int64)
