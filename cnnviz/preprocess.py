"""Any drawing or upload -> the 28x28 image MNIST would have made.

MNIST's digits were made in a fixed way: the ink is bright on a black background, each digit
was scaled so that its longer side fits a 20 x 20 box (keeping the aspect ratio, anti-aliased),
and it was placed in a 28 x 28 field with its centre of mass at the centre. A network trained
on MNIST only understands digits made the same way, so :func:`to_mnist` repeats that recipe
for anything a user gives it:

1. read the input (PIL image, file bytes, uploaded file, or NumPy array), respecting the
   EXIF orientation of photos and taking the first frame of an animation;
2. fill transparent areas and convert to grayscale (float, 0 = black, 1 = white), and
   enlarge a small picture smoothly so a stroke one blurred pixel wide becomes a real stroke;
3. make the ink bright: dark ink on light paper is inverted;
4. remove the background (measured along the edges and from below, so a digit that fills
   its frame is fine): uneven lighting and paper noise become 0, the ink is stretched to 1;
5. crop to the ink's bounding box;
6. scale the longer side to 20 pixels (thin strokes are thickened first so they survive);
7. place it in 28 x 28 with its centre of mass at the centre.

>>> img28 = to_mnist(open("digit.jpg", "rb").read())    # float32 (28, 28) in [0, 1]
>>> x = to_model_input(img28)                            # float32 (1, 28, 28, 1), img28 - 0.5

Anything unusable (not an image, damaged, enormous, blank ...) raises
:class:`cnnviz.errors.InputError` with one sentence for the user; no other exception leaves
:func:`to_mnist`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from cnnviz.errors import InputError

# --- The MNIST recipe ------------------------------------------------------------------------
SIZE = 28  # side of the final image
BOX = 20  # the digit's longer side after scaling
# Where MNIST puts the centre of mass, in (row, column) array indices. Measured on the training
# set: the mean is (13.99, 14.00) with a spread of 0.3 px, i.e. the pixel at index 14.
CENTRE = (14.0, 14.0)

# --- Safety limits for uploads ---------------------------------------------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 25_000_000  # formats decoded at full size (PNG, GIF, BMP, WebP, TIFF)
MAX_PIXELS_JPEG = 64_000_000  # JPEG is decoded at 1/2 .. 1/8 size with Image.draft
LOSSY_FORMATS = ("JPEG", "MPO", "WEBP")  # their compression leaves faint ringing around strokes
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")  # JPEG includes MPO

# --- Cleaning --------------------------------------------------------------------------------
WORK_SIZE = 1024  # longer side the input is reduced to before any heavy step
MIN_CONTRAST = 0.04  # ink must differ from the background by ~10 grey levels out of 255
MIN_INK = 2.5 / 255  # residual below this (on a noise-free background) is not ink
BORDER = 0.03  # the background is measured along the edges, this fraction of the side deep
SMALL = SIZE  # pictures smaller than MNIST's own are enlarged smoothly ...
ENLARGED = 128  # ... by a whole factor, to a longer side of at least this
BLUR_MIN = 64  # noisy pictures at least this many pixels high and wide are smoothed a little
FAINT = 0.05  # ... nor, in JPEG/WebP files, anything under this fraction of the ink's contrast
MIN_STROKE = 1.0  # strokes thinner than this (pixels, in the 20 px box) get thickened ...
TARGET_STROKE = 2.0  # ... to a usual MNIST width (MNIST: 5% of digits are below 1.6, median 2.4)

_FORMAT_LIST = "PNG, JPEG, GIF, BMP or WebP"
_NOT_AN_IMAGE = f"This file is not an image that can be read; upload a {_FORMAT_LIST} picture."
_DAMAGED = "The image file is damaged or incomplete; save it again and upload the new file."
# Only the catch-all around the pipeline says this; the tests check that no input reaches it.
UNEXPECTED = "This image could not be processed; save it as a PNG or JPEG and try again."
_BLANK = "The image is blank (all one colour, or an empty canvas); draw or upload a digit."
_TOO_LARGE = (
    "The image is too large to open safely (over {millions} million pixels); "
    "make it smaller and try again."
)


@dataclass(frozen=True, eq=False)
class Step:
    """One stage of the pipeline, for showing students: a float image in [0, 1] and a note.

    ``image`` is (H, W) float32; ``note`` is one sentence saying what happened at this stage.
    """

    title: str
    image: np.ndarray
    note: str


# =============================================================================================
# Public functions
# =============================================================================================


def to_mnist(image, return_steps: bool = False):
    """Turn a drawing or an upload into a 28x28 MNIST-style digit.

    ``image`` may be a PIL image, encoded file bytes (PNG, JPEG, GIF, BMP, WebP), a file-like
    object with ``.read()`` (a Streamlit ``UploadedFile``), a path, or a NumPy array of shape
    (H, W), (H, W, 1), (H, W, 2) (grey + alpha), (H, W, 3) (RGB) or (H, W, 4) (RGBA, such as
    streamlit-drawable-canvas's ``image_data``) of any numeric dtype: uint8 (0..255), uint16
    (0..65535), bool, or float in [0, 1] or [0, 255] (other ranges are stretched min..max).

    Returns float32 (28, 28) in [0, 1], ink bright on black. With ``return_steps=True``
    returns ``(image28, steps)`` where ``steps`` is a list of :class:`Step` (see
    :func:`describe_steps`). Raises :class:`InputError` (one sentence) for unusable input.
    """
    steps = _run_safely(image)
    return (steps[-1].image, steps) if return_steps else steps[-1].image


def describe_steps(image) -> list[Step]:
    """The intermediate images of :func:`to_mnist`, in order, each with a one-sentence note.

    Titles: "Grayscale" (H, W), "Enlarged smoothly" (only when the longer side is under 28 px:
    H and W become k H and k W, k >= 128 / max(H, W)), "Ink bright on dark", "Background
    removed" (both H, W), "Cropped to the ink" (h, w), "Scaled to 20 pixels" (<= 20, <= 20) and
    "Centred in 28 x 28" (28, 28). H, W are at most 1024 (large inputs are reduced first). All
    float32 in [0, 1].
    """
    return _run_safely(image)


def to_model_input(img28) -> np.ndarray:
    """A (28, 28) image in [0, 1] -> float32 (1, 28, 28, 1) = img28 - 0.5, the network's input.

    This is the tutorial's scaling ``x / 255 - 0.5`` for an image already divided by 255.
    """
    arr = np.asarray(img28)
    if arr.shape == (SIZE, SIZE, 1):
        arr = arr[:, :, 0]
    if arr.shape != (SIZE, SIZE) or arr.dtype.kind not in "biuf":
        raise InputError(
            f"The model needs a 28 x 28 image of numbers, but got shape {arr.shape} "
            f"of {arr.dtype}; pass the result of to_mnist."
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InputError("The image contains NaN or infinite values; pass the result of to_mnist.")
    return (arr - np.float32(0.5)).reshape(1, SIZE, SIZE, 1)


# =============================================================================================
# The pipeline
# =============================================================================================


def _run_safely(image) -> list[Step]:
    """Run the pipeline; whatever goes wrong reaches the caller as one InputError."""
    try:
        with np.errstate(all="ignore"):
            return _run(image)
    except InputError:
        raise
    except MemoryError as exc:
        raise InputError("The image is too large to process; upload a smaller picture.") from exc
    except Exception as exc:  # the last guard for the app: a bug still reaches it as a sentence
        raise InputError(UNEXPECTED) from exc


def _run(image) -> list[Step]:
    gray, alpha, lossy = _load(image)
    gray, fill_note = _composite(gray, alpha)
    steps = [Step("Grayscale", gray, fill_note)]

    factor = -(-ENLARGED // max(gray.shape)) if max(gray.shape) < SMALL else 1  # ceiling
    if factor > 1:
        h, w = gray.shape
        gray = _enlarge(gray, factor)
        note = (
            f"A small picture ({h} x {w}) was enlarged {factor} times with smooth "
            "interpolation so its strokes can be measured."
        )
        steps.append(Step("Enlarged smoothly", gray, note))

    ink, inverted = _ink_bright(gray)
    note = (
        "Dark ink on light paper, so the image was inverted to make the ink bright."
        if inverted
        else "The ink is already brighter than the background, so nothing was inverted."
    )
    steps.append(Step("Ink bright on dark", ink, note))

    narrow = factor > 1 and 4 * min(gray.shape) <= max(gray.shape)  # a tiny 1 cut tight
    clean = _remove_background(ink, FAINT if lossy else 0.0, tile=64 * factor, all_ink=narrow)
    clean = _keep_main_strokes(clean)
    steps.append(
        Step(
            "Background removed",
            clean,
            "Paper, shading and noise set to 0, specks dropped, and the ink stretched to 1.",
        )
    )

    crop = _crop_to_ink(clean)
    steps.append(
        Step(
            "Cropped to the ink",
            crop,
            f"Cut to the ink's bounding box, {crop.shape[0]} x {crop.shape[1]} pixels.",
        )
    )

    thick, grown = _thicken(crop)
    small = _scale_to_box(thick)
    note = f"Longer side scaled to {BOX} pixels keeping the aspect ratio (anti-aliased)."
    if grown:
        note = note[:-1] + f", after thickening the thin strokes by {grown} pixels."
    steps.append(Step(f"Scaled to {BOX} pixels", small, note))

    steps.append(
        Step(
            f"Centred in {SIZE} x {SIZE}",
            _centre(small),
            "Moved so that its centre of mass sits at the centre of the field, as in MNIST.",
        )
    )
    return steps


# ---------------------------------------------------------------------------------------------
# 1. Reading: anything -> grey (H, W) and alpha (H, W) or None, float32 in [0, 1], <= WORK_SIZE
# ---------------------------------------------------------------------------------------------


def _load(image) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Grey (H, W), alpha (H, W) or None, and whether the file was lossy (JPEG, WebP)."""
    if isinstance(image, np.ndarray | np.generic | list | tuple):
        return *_array_channels(np.asarray(image)), False
    if isinstance(image, Image.Image):
        im, fmt = _prepare_pil(image, opened_here=False), image.format
    else:
        opened = _decode(_read_bytes(image))
        im, fmt = _prepare_pil(opened, opened_here=True), opened.format
    return *_pil_channels(im), fmt in LOSSY_FORMATS


def _read_bytes(source) -> bytes:
    """The encoded bytes of bytes, a file-like object (an upload) or a path."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if hasattr(source, "read") or hasattr(source, "getvalue"):
        return _read_file_like(source)
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as f:
                return f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InputError("The image file could not be opened; check its name.") from exc
    raise InputError(
        f"Cannot read a digit from a {type(source).__name__}; pass an image file, "
        "its bytes, a PIL image or a NumPy array."
    )


def _read_file_like(f) -> bytes:
    """All bytes of an uploaded file, wherever its read position is."""
    if hasattr(f, "getvalue"):  # BytesIO, Streamlit's UploadedFile
        data = f.getvalue()
    else:
        try:
            f.seek(0)
        except Exception:
            pass  # not seekable (a pipe): read from where it is
        data = f.read(MAX_FILE_BYTES + 1)
    if isinstance(data, str):
        raise InputError(_NOT_AN_IMAGE)
    return bytes(data)


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" in head


def _decode(data: bytes) -> Image.Image:
    """Encoded bytes -> a PIL image, checking size limits before any pixel is decoded."""
    if len(data) == 0:
        raise InputError(f"The file is empty; choose a {_FORMAT_LIST} image.")
    if len(data) > MAX_FILE_BYTES:
        raise InputError("The file is larger than 64 MB; upload a smaller picture.")
    if _looks_like_svg(data):
        raise InputError("SVG drawings cannot be read; export the drawing as PNG and upload that.")
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_TOO_LARGE.format(millions=MAX_PIXELS // 1_000_000)) from exc
    except UnidentifiedImageError as exc:
        raise InputError(_NOT_AN_IMAGE) from exc
    except Exception as exc:
        raise InputError(_DAMAGED) from exc
    return im


def _prepare_pil(im: Image.Image, opened_here: bool) -> Image.Image:
    """Size check, first frame, cheap JPEG reduction, full decode, EXIF orientation."""
    width, height = im.size
    if width == 0 or height == 0:
        raise InputError("The image has no pixels (zero width or height); draw or upload a digit.")
    limit = MAX_PIXELS_JPEG if im.format in ("JPEG", "MPO") else MAX_PIXELS
    if width * height > limit:
        raise InputError(_TOO_LARGE.format(millions=limit // 1_000_000))
    try:
        if opened_here and getattr(im, "n_frames", 1) > 1:
            im.seek(0)  # an animation: its first frame
        if opened_here and im.format in ("JPEG", "MPO"):
            im.draft(None, (WORK_SIZE, WORK_SIZE))  # decode at 1/2, 1/4 or 1/8 size: cheap
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_TOO_LARGE.format(millions=limit // 1_000_000)) from exc
    except Exception as exc:
        raise InputError(_DAMAGED) from exc
    try:
        upright = ImageOps.exif_transpose(im)  # a phone photo stored sideways
    except Exception:
        upright = None  # broken EXIF data: use the pixels as stored
    return upright if upright is not None else im


def _pil_channels(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoded PIL image of any mode -> grey and alpha arrays (see :func:`_array_channels`)."""
    if im.mode.startswith("I;16"):  # 16-bit PNG: always 0..65535
        return _array_channels(np.asarray(im).astype(np.float32) / 65535.0)
    if im.mode in ("I", "F"):  # 32-bit int or float: judged by their values
        return _array_channels(np.asarray(im))
    if im.mode in ("P", "PA"):  # palette: colours (and maybe transparency) from the palette
        transparent = im.mode == "PA" or im.has_transparency_data
        im = im.convert("RGBA" if transparent else "RGB")
    elif im.mode in ("LA", "La"):
        im = im.convert("LA")
    elif im.mode in ("RGBA", "RGBa"):
        im = im.convert("RGBA")
    elif im.mode != "L":
        im = im.convert("L" if im.mode == "1" else "RGB")  # CMYK, YCbCr, LAB, HSV ...
    if max(im.size) > WORK_SIZE:  # reduce before anything heavy (alpha is premultiplied)
        scale = WORK_SIZE / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    return _array_channels(np.asarray(im))


def _array_channels(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate an image array and return grey (H, W) and alpha (H, W) or None in [0, 1].

    Accepts (H, W), (H, W, 1), (H, W, 2) grey + alpha, (H, W, 3) RGB, (H, W, 4) RGBA.
    """
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"The array holds {arr.dtype} values; pass an image array of numbers "
            "(uint8, uint16, float or bool)."
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4))):
        raise InputError(
            "An image array must have shape (H, W), (H, W, 3) or (H, W, 4), "
            f"but this one has shape {arr.shape}."
        )
    if arr.size == 0:
        raise InputError("The image has no pixels (zero width or height); draw or upload a digit.")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise InputError(_TOO_LARGE.format(millions=MAX_PIXELS // 1_000_000))
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("The array contains NaN or infinite values; replace them with numbers.")

    unit = _to_unit(arr)
    if unit.ndim == 2:
        unit = unit[:, :, None]
    channels = unit.shape[2]
    alpha = unit[:, :, -1] if channels in (2, 4) else None
    if channels >= 3:  # ITU-R 601 luma, as PIL's convert("L")
        gray = 0.299 * unit[:, :, 0] + 0.587 * unit[:, :, 1] + 0.114 * unit[:, :, 2]
    else:
        gray = unit[:, :, 0]
    return _reduce(gray.astype(np.float32), alpha)


def _to_unit(arr: np.ndarray) -> np.ndarray:
    """Numbers of any dtype -> float32 in [0, 1], reading the scale from the dtype and values."""
    if arr.dtype.kind == "b":
        return arr.astype(np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    if arr.dtype.kind in "iu":
        if lo >= 0 and hi <= 1:
            return arr.astype(np.float32)  # a 0/1 mask
        if lo >= 0 and hi <= 255:
            return arr.astype(np.float32) / 255
        if lo >= 0 and hi <= 65535:
            return arr.astype(np.float32) / 65535
    elif lo >= 0 and hi <= 1:
        return arr.astype(np.float32)
    elif lo >= 0 and hi <= 255:
        return arr.astype(np.float32) / 255
    # Any other range (negative, huge): stretch min..max. Halving first avoids overflow.
    span = hi / 2 - lo / 2
    if not span > 0:  # a constant outside the usual ranges
        return np.zeros(arr.shape, np.float32)
    return np.clip((arr.astype(np.float64) / 2 - lo / 2) / span, 0, 1).astype(np.float32)


def _reduce(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Average blocks of f x f pixels so the longer side is at most WORK_SIZE (alpha-weighted).

    A few rows or columns at the bottom/right edge that do not fill a whole block are dropped.
    """
    f = -(-max(gray.shape) // WORK_SIZE)  # ceiling division
    if f <= 1:
        return gray, alpha
    fy, fx = min(f, gray.shape[0]), min(f, gray.shape[1])
    ny, nx = gray.shape[0] // fy, gray.shape[1] // fx

    def block_mean(a: np.ndarray) -> np.ndarray:
        return a[: ny * fy, : nx * fx].reshape(ny, fy, nx, fx).mean(axis=(1, 3), dtype=np.float32)

    if alpha is None:
        return block_mean(gray), None
    weight = block_mean(alpha)
    gray = block_mean(gray * alpha) / np.maximum(weight, 1e-12)  # un-premultiply
    return np.where(weight > 0, gray, 0).astype(np.float32), weight


# ---------------------------------------------------------------------------------------------
# 2. Transparency and grayscale
# ---------------------------------------------------------------------------------------------


def _composite(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Fill transparent areas with a colour that makes sense; returns grey (H, W) and a note.

    A drawing canvas gives coloured strokes on a transparent background, and a transparent PNG
    may carry dark ink: when little of the image is opaque, the opaque part is the ink, so the
    transparent part gets the colour that contrasts most with it (white behind dark ink, black
    behind light ink). When most of it is opaque, the opaque part is the paper and transparent
    margins get the paper's colour.
    """
    if alpha is None or alpha.min() >= 254.5 / 255:
        return np.clip(gray, 0, 1), "Converted to grayscale (0 = black, 1 = white)."
    if alpha.max() < 0.5 / 255:
        raise InputError(
            "The image is fully transparent, like an empty canvas; draw a digit first."
        )
    opaque = alpha > 0.5
    if alpha.mean() <= 0.5:
        ink_level = float((gray * alpha).sum() / alpha.sum())
        fill = 1.0 if ink_level < 0.5 else 0.0
        note = (
            f"Transparent background filled with {'white' if fill else 'black'} "
            f"behind the {'dark' if fill else 'light'} ink, then converted to grayscale."
        )
    else:
        fill = float(np.median(gray[opaque]))
        note = "Transparent margins filled with the paper's colour, then converted to grayscale."
    out = alpha * gray + (1 - alpha) * fill
    return np.clip(out, 0, 1).astype(np.float32), note


def _enlarge(gray: np.ndarray, factor: int) -> np.ndarray:
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


def _ink_bright(gray: np.ndarray) -> tuple[np.ndarray, bool]:
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


def _remove_background(
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
        raise InputError(_BLANK)
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


def _keep_main_strokes(ink: np.ndarray) -> np.ndarray:
    """Drop specks: connected pieces holding less than 1% of the largest piece's ink."""
    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return ink
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], mass >= 0.01 * mass.max()])
    return np.where(keep[labels], ink, 0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# 5-7. Crop, scale to the 20 px box, centre in 28 x 28
# ---------------------------------------------------------------------------------------------


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every non-zero pixel, (h, w)."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise InputError(_BLANK)
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


def _thicken(crop: np.ndarray) -> tuple[np.ndarray, int]:
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
    return _crop_to_ink(thick), grow


def _scale_to_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is BOX px, keeping the aspect ratio; the ink's peak becomes 1."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    small = Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small, dtype=np.float32), 0, 1)
    peak = small.max()
    if peak <= 0:
        raise InputError(_BLANK)
    return small / peak


def _centre(small: np.ndarray) -> np.ndarray:
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
