"""Shaping the cleaned ink like MNIST: crop to the ink, thicken thin strokes, scale the longer
side to 20 pixels, and place it in 28 x 28 with its centre of mass at the centre."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from cnnviz.errors import InputError
from cnnviz.preprocess.cleaning import BLANK

SIZE = 28  # side of the final image
BOX = 20  # the digit's longer side after scaling
# Where MNIST puts the centre of mass, in (row, column) array indices. Measured on the training
# set: the mean is (13.99, 14.00) with a spread of 0.3 px, i.e. the pixel at index 14.
CENTRE = (14.0, 14.0)
MIN_STROKE = 1.0  # strokes thinner than this (pixels, in the 20 px box) get thickened ...
TARGET_STROKE = 2.0  # ... to a usual MNIST width (MNIST: 5% of digits are below 1.6, median 2.4)


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every non-zero pixel, (h, w)."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise InputError(BLANK)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _stroke_width(ink: np.ndarray) -> float:
    """Average stroke width in pixels: 2 x area / perimeter (a stroke is long and thin).

    The perimeter counts pixel edges between ink and background, times pi/4 because edge
    counting overestimates the length of slanted borders by 4/pi on average.
    """
    mask = np.pad(ink > 0.5, 1)
    edges = np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    edges += np.count_nonzero(mask[1:, :] != mask[:-1, :])
    if edges == 0:
        return 0.0
    return 2 * float(ink.sum()) / (edges * np.pi / 4)


def thicken(crop: np.ndarray) -> tuple[np.ndarray, int]:
    """Widen strokes that would be thinner than MIN_STROKE px after scaling to the 20 px box.

    Returns the (possibly) thickened crop and how many pixels the strokes grew. Growing by g
    pixels also grows the box by g, so g solves (w + g) * BOX / (L + g) = TARGET_STROKE.
    """
    longest = max(crop.shape)
    width = _stroke_width(crop)
    if width * BOX / longest >= MIN_STROKE:
        return crop, 0
    grow = round((TARGET_STROKE * longest / BOX - width) / (1 - TARGET_STROKE / BOX))
    if grow < 1:
        return crop, 0
    # Paint a round pen of diameter `grow` along the strokes: every pixel within grow / 2 of
    # the strokes' core takes the value of the nearest core pixel.
    padded = np.pad(crop, grow)
    core = padded >= 0.5 * padded.max()
    distance, (iy, ix) = ndimage.distance_transform_edt(~core, return_indices=True)
    thick = np.maximum(padded, np.where(distance <= grow / 2, padded[iy, ix], 0))
    return crop_to_ink(thick), grow


def scale_to_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is BOX px, keeping the aspect ratio; the ink's peak becomes 1."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    small = Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small, dtype=np.float32), 0, 1)
    peak = small.max()
    if peak <= 0:
        raise InputError(BLANK)
    return small / peak


def centre(small: np.ndarray) -> np.ndarray:
    """Paste into a SIZE x SIZE black field so the centre of mass lands on CENTRE (whole px)."""
    cy, cx = ndimage.center_of_mass(small)
    top, left = round(CENTRE[0] - cy), round(CENTRE[1] - cx)
    out = np.zeros((SIZE, SIZE), np.float32)
    h, w = small.shape
    # The part of `small` that falls inside the field (nothing is lost unless it is lopsided).
    y0, x0 = max(0, -top), max(0, -left)
    y1, x1 = min(h, SIZE - top), min(w, SIZE - left)
    out[top + y0 : top + y1, left + x0 : left + x1] = small[y0:y1, x0:x1]
    return np.clip(out, 0, 1)
