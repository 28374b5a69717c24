"""Images kept as uint8 and scaled a batch at a time, so a full-MNIST run stays small.

``ScaledImages(x_uint8)[idx]`` is ``x_uint8[idx] / 255 - 0.5`` as float32 (N, 28, 28, 1): the
tutorial's scaling, done per batch instead of on the whole set (60,000 images are 47 MB as uint8
but 376 MB as float64).
"""

from __future__ import annotations

import numpy as np


class ScaledImages:
    """An indexable view of uint8 images (N, H, W) as float32 (N, H, W, 1) = x * scale + offset."""

    def __init__(self, images: np.ndarray, scale: float = 1 / 255, offset: float = -0.5):
        self.images = images
        self.scale = np.float32(scale)
        self.offset = np.float32(offset)
        self.shape = (len(images), *images.shape[1:3], 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> np.ndarray:
        x = self.images[idx].astype(np.float32)
        x *= self.scale
        x += self.offset
        return x[..., None]

    def __array__(self, dtype=None, copy=None):
        return self[:].astype(dtype or np.float32, copy=False)


class ShiftedImages(ScaledImages):
    """ScaledImages that moves each image by a random whole-pixel shift of up to ``max_shift``
    in each direction every time it is taken (data augmentation for training only).

    Handwriting drawn in the app is never centred exactly like MNIST; a network that has seen
    digits a pixel or two off-centre recognises drawings better.
    """

    def __init__(
        self,
        images: np.ndarray,
        max_shift: int = 2,
        seed: int | None = None,
        scale: float = 1 / 255,
        offset: float = -0.5,
    ):
        super().__init__(images, scale, offset)
        self.max_shift = int(max_shift)
        self.rng = np.random.default_rng(seed)

    def __getitem__(self, idx) -> np.ndarray:
        x = super().__getitem__(idx)[..., 0]  # (N, H, W)
        s = self.max_shift
        if s == 0 or x.ndim != 3:
            return x[..., None]
        n, h, w = x.shape
        padded = np.pad(x, ((0, 0), (s, s), (s, s)), constant_values=self.offset)
        dy, dx = self.rng.integers(0, 2 * s + 1, size=(2, n))
        rows = dy[:, None, None] + np.arange(h)[None, :, None]
        cols = dx[:, None, None] + np.arange(w)[None, None, :]
        return padded[np.arange(n)[:, None, None], rows, cols][..., None]
