"""Synthetic drawings and uploads made from MNIST digits, for testing cnnviz.preprocess.

Each function takes an MNIST digit (uint8 (28, 28), ink bright on black) and makes something a
user might give the app: an image file with the digit scaled, moved and inverted
(:func:`make_drawing`), a drawing canvas's RGBA array (:func:`make_canvas`), or a large photo
of the digit on noisy, unevenly lit paper (:func:`make_photo`). A digit that survives the trip
through ``to_mnist`` should look like the original MNIST digit again.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def scale_digit(digit28: np.ndarray, scale: float) -> np.ndarray:
    """An MNIST digit (28, 28) resized by ``scale`` (bilinear, as a smooth pen would draw it).

    Returns uint8 (round(28 * scale), round(28 * scale)).
    """
    digit = np.asarray(digit28)
    if digit.dtype != np.uint8:
        digit = np.clip(np.round(digit * 255), 0, 255).astype(np.uint8)
    side = max(1, round(28 * scale))
    return np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))


def place(big: np.ndarray, canvas: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Paste ``big`` (h, w) into a black uint8 canvas (H, W) with its top-left at ``offset``."""
    top, left = offset
    h, w = big.shape
    if top < 0 or left < 0 or top + h > canvas[0] or left + w > canvas[1]:
        raise ValueError(f"a {h}x{w} digit at {offset} does not fit a {canvas} canvas")
    out = np.zeros(canvas, np.uint8)
    out[top : top + h, left : left + w] = big
    return out


def encode(array: np.ndarray, fmt: str = "PNG", **save_args) -> bytes:
    """Encode a uint8 (H, W), (H, W, 3) or (H, W, 4) array as image file bytes."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **save_args)
    return buf.getvalue()


def make_drawing(
    digit28: np.ndarray,
    scale: float = 3,
    offset: tuple[int, int] = (0, 0),
    invert: bool = True,
    canvas: int = 200,
    fmt: str = "PNG",
) -> bytes:
    """An image file of an MNIST digit drawn ``scale`` times larger on a ``canvas`` square.

    ``offset`` is the (row, column) of the scaled digit's top-left corner, (0, 0) being the
    top-left corner of the canvas. ``invert=True`` gives dark ink on white paper, as a pen on
    paper or a scanned page; ``False`` keeps MNIST's white ink on black. ``fmt`` is any format
    Pillow writes: "PNG", "JPEG", "WEBP", "GIF", "BMP". Returns the encoded bytes.
    """
    gray = place(scale_digit(digit28, scale), (canvas, canvas), offset)
    if invert:
        gray = 255 - gray
    return encode(gray, fmt)


def make_canvas(
    digit28: np.ndarray,
    scale: float = 8,
    offset: tuple[int, int] = (30, 40),
    canvas: int = 280,
    color: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """What streamlit-drawable-canvas returns for a transparent background: uint8 (H, W, 4).

    The strokes have colour ``color`` and the digit's intensity as their alpha; everything
    else is transparent black (0, 0, 0, 0).
    """
    alpha = place(scale_digit(digit28, scale), (canvas, canvas), offset)
    rgba = np.zeros((canvas, canvas, 4), np.uint8)
    rgba[alpha > 0, :3] = color
    rgba[:, :, 3] = alpha
    return rgba


def black_canvas(digit28: np.ndarray, **placement) -> np.ndarray:
    """What Draw & predict's canvas returns: white strokes on the opaque black background the
    page asks for, uint8 (H, W, 4) with alpha 255 everywhere (``placement`` as make_canvas)."""
    strokes = make_canvas(digit28, **placement)[:, :, 3]
    rgba = np.repeat(strokes[:, :, None], 4, axis=2)
    rgba[:, :, 3] = 255
    return rgba


def make_photo(
    digit28: np.ndarray,
    size: tuple[int, int] = (3000, 4000),
    digit_height: int = 1200,
    offset: tuple[int, int] = (700, 2100),
    paper: float = 200,
    ink: float = 40,
    noise: float = 8,
    shading: float = 60,
    seed: int = 0,
    fmt: str | None = "JPEG",
) -> bytes | np.ndarray:
    """A photo-like picture of a digit written in dark ink on paper: (H, W) = ``size``.

    The paper's brightness falls by ``shading`` grey levels from left to right (uneven
    light), Gaussian noise of std ``noise`` covers everything, and the ink (a scaled MNIST
    digit, ``digit_height`` px tall at ``offset``) is ``ink`` grey. Returns the encoded file
    in ``fmt`` or, with ``fmt=None``, the uint8 array.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    light = paper - shading * np.linspace(0, 1, w, dtype=np.float32)
    image = np.broadcast_to(light, (h, w)).astype(np.float32)
    strength = place(scale_digit(digit28, digit_height / 28), size, offset) / np.float32(255)
    image = image * (1 - strength) + ink * strength
    image += rng.standard_normal((h, w), dtype=np.float32) * noise
    array = np.clip(image, 0, 255).astype(np.uint8)
    return array if fmt is None else encode(array, fmt, quality=90)


def phone_photo(digit28: np.ndarray, seed: int = 0) -> bytes:
    """A 4000 x 3000 colour JPEG like a phone's (6-10 MB): a digit in dark blue ink on
    slightly warm, unevenly lit, grainy paper, saved at quality 95."""
    grey = make_photo(digit28, noise=12, seed=seed, fmt=None).astype(np.float32)
    ink = 1 - (grey - grey.min()) / max(float(np.ptp(grey)), 1.0)  # 1 where the pen wrote
    rgb = np.stack([grey * 1.0, grey * 0.97, grey * 0.9 + 40 * ink], axis=-1)
    return encode(np.clip(rgb, 0, 255).astype(np.uint8), "JPEG", quality=95)


def render_strokes(strokes, brush: float, size: int = 280, supersample: int = 4) -> np.ndarray:
    """What streamlit-drawable-canvas returns for white freehand strokes on its opaque black
    background (as Draw & predict asks for): uint8 RGBA (size, size, 4), alpha 255 everywhere.

    ``strokes``: a list of polylines in canvas pixels [(x, y), ...]; ``brush``: the pen's
    diameter in pixels. Drawn with round caps and joins, anti-aliased by supersampling.
    """
    from PIL import ImageDraw

    big = Image.new("L", (size * supersample, size * supersample), 0)
    draw = ImageDraw.Draw(big)
    width = round(brush * supersample)
    for points in strokes:
        scaled = [(x * supersample, y * supersample) for x, y in points]
        draw.line(scaled, fill=255, width=width, joint="curve")
        for x, y in (scaled[0], scaled[-1]):
            r = width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    grey = np.asarray(big.resize((size, size), Image.Resampling.BOX))
    rgba = np.empty((size, size, 4), np.uint8)
    rgba[:, :, :3] = grey[:, :, None]
    rgba[:, :, 3] = 255
    return rgba
