"""Cleaning a grey picture: transparency filled, small pictures enlarged, the ink made bright,
the background (uneven light, paper, noise) set to 0 and the ink stretched to 1, specks dropped.

The background is measured along the picture's edges and from below (the darkest levels up),
so a digit that fills its frame is cleaned like one with a margin.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.texts import Text

MIN_CONTRAST = 0.04  # ink must differ from the background by ~10 grey levels out of 255
MIN_INK = 2.5 / 255  # residual below this (on a noise-free background) is not ink
BORDER = 0.03  # the background is measured along the edges, this fraction of the side deep
BLUR_MIN = 64  # noisy pictures at least this many pixels high and wide are smoothed a little
FAINT = 0.05  # in JPEG/WebP files, ink under this fraction of the ink's contrast is dropped

BLANK = N_("The image is blank (all one colour, or an empty canvas); draw or upload a digit.")


def composite(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, Text]:
    """Fill transparent areas with a colour that makes sense; returns grey (H, W) and a note.

    A drawing canvas gives coloured strokes on a transparent background, and a transparent PNG
    may carry dark ink: when little of the image is opaque, the opaque part is the ink, so the
    transparent part gets the colour that contrasts most with it (white behind dark ink, black
    behind light ink). When most of it is opaque, the opaque part is the paper and transparent
    margins get the paper's colour.
    """
    if alpha is None or alpha.min() >= 254.5 / 255:
        return np.clip(gray, 0, 1), Text(N_("Converted to grayscale (0 = black, 1 = white)."))
    if alpha.max() < 0.5 / 255:
        raise InputError(
            "The image is fully transparent, like an empty canvas; draw a digit first."
        )
    opaque = alpha > 0.5
    if alpha.mean() <= 0.5:
        ink_level = float((gray * alpha).sum() / alpha.sum())
        fill = 1.0 if ink_level < 0.5 else 0.0
        if fill:
            note = Text(
                N_(
                    "Transparent background filled with white behind the dark ink, "
                    "then converted to grayscale."
                )
            )
        else:
            note = Text(
                N_(
                    "Transparent background filled with black behind the light ink, "
                    "then converted to grayscale."
                )
            )
    else:
        fill = float(np.median(gray[opaque]))
        note = Text(
            N_("Transparent margins filled with the paper's colour, then converted to grayscale.")
        )
    out = alpha * gray + (1 - alpha) * fill
    return np.clip(out, 0, 1).astype(np.float32), note


def enlarge(gray: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge ``factor`` times (bicubic): a blurred one-pixel stroke becomes a smooth ridge
    a few pixels wide whose background and core can be told apart."""
    h, w = gray.shape
    big = Image.fromarray(gray.astype(np.float32)).resize(
        (w * factor, h * factor), Image.Resampling.BICUBIC
    )
    return np.clip(np.asarray(big, dtype=np.float32), 0, 1)


# ---------------------------------------------------------------------------------------------
# 3. Ink bright on dark
# ---------------------------------------------------------------------------------------------


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels of a band along the image's four edges, BORDER of the shorter side deep.

    Even when the ink fills the picture (a digit cropped tight), its strokes touch the edges
    at only a few places, so most of this band is background; a band a few pixels deep also
    outvotes a thin line along an edge (a scanner's shadow).
    """
    h, w = image.shape
    d = max(1, round(BORDER * min(h, w)))
    if 2 * d >= min(h, w):
        return image.ravel()
    inner = image[d:-d]
    return np.concatenate([image[:d].ravel(), image[-d:].ravel(), inner[:, :d].ravel(),
                           inner[:, -d:].ravel()])  # fmt: skip


def ink_bright(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Invert dark-on-light images so the ink is bright. Returns (ink (H, W), inverted?).

    The background is the median grey along the image's edges (see :func:`_border`). The ink
    is whichever extreme lies further from it: far darker -> dark ink, far brighter -> light
    ink. If both are about as far (tiny specks only), light paper means dark ink.
    """
    background = float(np.median(_border(gray)))
    darkest, brightest = np.percentile(gray, [0.05, 99.95])
    darker, brighter = background - darkest, brightest - background
    if abs(darker - brighter) < 0.05:
        inverted = background > 0.5
    else:
        inverted = darker > brighter
    ink = 1 - gray if inverted else gray
    return ink.astype(np.float32), inverted


# ---------------------------------------------------------------------------------------------
# 4. Background, noise and contrast
# ---------------------------------------------------------------------------------------------


def _background_map(ink: np.ndarray, tile: int = 64) -> np.ndarray:
    """Estimate the background level everywhere (H, W), following uneven lighting.

    Cut the image into tiles of at least ``tile`` px (up to 8 x 8; an enlarged picture passes
    64 px of the original, so it has one level) and take a low percentile in each
    (the paper: ink covers only part of a tile). Light changes slowly across a page, so fit a
    smooth surface to those levels (a quadratic, or a plane for few tiles), leaving out tiles
    that lie well above it (mostly ink), and evaluate it at every pixel.
    """
    h, w = ink.shape
    ny, nx = int(np.clip(h // tile, 1, 8)), int(np.clip(w // tile, 1, 8))
    if ny * nx == 1:
        return np.full(ink.shape, np.percentile(ink, 10), np.float32)
    row_tiles = np.array_split(np.arange(h), ny)
    col_tiles = np.array_split(np.arange(w), nx)
    level = np.array(
        [
            [np.percentile(ink[r[0] : r[-1] + 1, c[0] : c[-1] + 1], 10) for c in col_tiles]
            for r in row_tiles
        ]
    ).ravel()
    # Tile centres and pixel positions on a -1..1 scale, so the fit is well conditioned.
    y = (np.array([r.mean() for r in row_tiles]) / max(h - 1, 1)) * 2 - 1
    x = (np.array([c.mean() for c in col_tiles]) / max(w - 1, 1)) * 2 - 1
    ty, tx = np.repeat(y, nx), np.tile(x, ny)

    def terms(yy, xx):
        flat = [np.ones_like(yy * xx), xx, yy]
        if min(ny, nx) >= 3:
            flat += [xx * xx, xx * yy, yy * yy]
        return flat

    design = np.stack(terms(ty, tx), axis=1)
    keep = np.ones(level.size, bool)
    for _ in range(3):  # fit, drop tiles far above the fit (ink), fit again
        coef, *_ = np.linalg.lstsq(design[keep], level[keep], rcond=None)
        residual = level - design @ coef
        spread = 1.4826 * np.median(np.abs(residual[keep]))
        keep = residual <= max(3 * spread, 0.02)
        if keep.sum() < design.shape[1]:
            break
    py = (np.arange(h) / max(h - 1, 1) * 2 - 1)[:, None]
    px = (np.arange(w) / max(w - 1, 1) * 2 - 1)[None, :]
    surface = sum(c * t for c, t in zip(coef, terms(py, px), strict=True))
    return np.broadcast_to(surface, (h, w)).astype(np.float32)


def _level_and_noise(r: np.ndarray) -> tuple[float, float]:
    """The background's level and noise (1.4826 x median absolute deviation), from below.

    Ink only lies above the background, and fills most of a tight crop's edges (see
    :func:`_border`) with its faint rim, so start at their 10th percentile and rise to the
    median of the edge pixels at most 3 x noise over the level (noise measured under it, where
    no ink is) until it settles. Unless the background is clean and the picture small, each
    step is at least the noise between neighbours (:func:`_pixel_noise`), to cross coarse noise.
    """
    band = _border(r)
    level = float(np.percentile(band, 10))
    noise = 1.4826 * float(np.median(level - band[band <= level]))
    step = _pixel_noise(r) if noise > 0 or min(r.shape) >= BLUR_MIN else 0.0
    for _ in range(30):
        risen = float(np.median(band[band <= level + 3 * max(noise, step)]))
        if risen <= level + 0.01 * noise:
            break
        level = risen
        noise = 1.4826 * float(np.median(level - band[band <= level]))
    whole = 1.4826 * float(np.median(level - r[r <= level]))  # more pixels: a steadier figure
    return level, max(noise, whole)


def _pixel_noise(r: np.ndarray) -> float:
    """Noise from neighbours: median |difference| / 0.954 (Gaussian), rows or columns,
    whichever is smaller; flat paper and flat ink give 0, only edges differ."""
    diffs = [np.abs(np.diff(r, axis=a)) for a in (0, 1) if r.shape[a] > 1]
    return min((float(np.median(d)) / 0.954 for d in diffs), default=0.0)


def remove_background(
    ink: np.ndarray, faint: float = 0.0, tile: int = 64, all_ink: bool = False
) -> np.ndarray:
    """Background -> 0, ink core -> 1, with a threshold above the noise (H, W) float32.

    ``faint``: also drop ink fainter than this fraction of the ink's contrast (for JPEG).
    ``all_ink``: if no background is found, take the darkest pixel as the background (a tiny
    picture of a 1 cut tight, a stroke from edge to edge, shows no paper at all).
    """
    r = ink - _background_map(ink, tile)
    med, noise = _level_and_noise(r)
    if noise > 2 / 255 and min(r.shape) >= BLUR_MIN:  # a noisy photo: a light blur lowers
        # the noise far more than the ink (a small picture would lose its strokes)
        r = ndimage.gaussian_filter(r, sigma=1.0)
        med, noise = _level_and_noise(r)
    found = _ink_range(r, med, noise)
    if found is None and all_ink:
        med, found = float(r.min()), _ink_range(r, float(r.min()), 0.0)
    if found is None:
        raise InputError(BLANK)
    threshold, peak = found
    # JPEG ringing grows with the ink's contrast: for lossy files drop the faintest part.
    threshold = max(threshold, med + faint * (peak - med))
    return np.clip((r - threshold) / (peak - threshold), 0, 1).astype(np.float32)


def _ink_range(r: np.ndarray, med: float, noise: float) -> tuple[float, float] | None:
    """(threshold, the ink's core level) above a background at ``med``, or None if no ink
    stands out of the noise."""
    threshold = med + max(4 * noise, MIN_INK)
    above = r[r > threshold]
    if above.size == 0:
        return None
    peak = float(np.percentile(above, 90))
    return (threshold, peak) if peak - med >= max(MIN_CONTRAST, 6 * noise) else None


def keep_main_strokes(ink: np.ndarray) -> np.ndarray:
    """Drop specks: connected pieces holding less than 1% of the largest piece's ink."""
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], mass >= 0.01 * mass.max()])
    return np.where(keep[labels], ink, 0).astype(np.float32)
