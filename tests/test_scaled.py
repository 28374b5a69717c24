"""ScaledImages and ShiftedImages against the plain formulas they stand for."""

from __future__ import annotations

import numpy as np

from cnnviz.nn import ScaledImages, ShiftedImages


def test_scaled_images_is_the_tutorials_scaling():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    idx = np.array([3, 1, 7])
    np.testing.assert_allclose(ScaledImages(x)[idx], (x[idx] / 255 - 0.5)[..., None], atol=1e-6)
    assert ScaledImages(x)[idx].dtype == np.float32 and len(ScaledImages(x)) == 10


def test_shifted_images_are_translations_within_the_limit():
    rng = np.random.default_rng(1)
    x = np.zeros((200, 28, 28), np.uint8)
    x[:, 8:20, 9:18] = rng.integers(1, 256, size=(200, 12, 9))  # ink away from the border
    out = ShiftedImages(x, max_shift=2, seed=3)[np.arange(200)][..., 0]
    plain = x / 255 - 0.5
    seen = set()
    for i in range(200):
        match = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.allclose(np.roll(plain[i], (dy, dx), axis=(0, 1)), out[i], atol=1e-6)
        ]
        assert len(match) == 1, i
        seen.add(match[0])
    assert len(seen) == 25  # every shift in [-2, 2] x [-2, 2] occurs
