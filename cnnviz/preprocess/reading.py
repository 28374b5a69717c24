"""Reading a person's input: file bytes, an upload, a path, a PIL image or a NumPy array ->
grey (H, W) and alpha (H, W) or None, float32 in [0, 1], the longer side at most WORK_SIZE.

Sizes are checked before any pixel is decoded (decompression bombs), JPEGs are decoded at a
reduced size, photos are turned upright by their EXIF orientation, and an animation gives its
first frame. Anything unreadable raises :class:`cnnviz.errors.InputError` (one sentence).
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnviz.errors import InputError
from cnnviz.i18n import N_

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 25_000_000  # formats decoded at full size (PNG, GIF, BMP, WebP, TIFF)
MAX_PIXELS_JPEG = 64_000_000  # JPEG is decoded at 1/2 .. 1/8 size with Image.draft
LOSSY_FORMATS = ("JPEG", "MPO", "WEBP")  # their compression leaves faint ringing around strokes
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")  # JPEG includes MPO
WORK_SIZE = 1024  # longer side the input is reduced to before any heavy step

_NOT_AN_IMAGE = N_(
    "This file is not an image that can be read; upload a PNG, JPEG, GIF, BMP or WebP picture."
)
_DAMAGED = N_("The image file is damaged or incomplete; save it again and upload the new file.")
_TOO_LARGE = N_(
    "The image is too large to open safely (over {millions} million pixels); "
    "make it smaller and try again."
)


def load(image) -> tuple[np.ndarray, np.ndarray | None, bool]:
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
        "Cannot read a digit from a {kind}; pass an image file, "
        "its bytes, a PIL image or a NumPy array.",
        kind=type(source).__name__,
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
        raise InputError("The file is empty; choose a PNG, JPEG, GIF, BMP or WebP image.")
    if len(data) > MAX_FILE_BYTES:
        raise InputError("The file is larger than 64 MB; upload a smaller picture.")
    if _looks_like_svg(data):
        raise InputError("SVG drawings cannot be read; export the drawing as PNG and upload that.")
    try:
        im = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_TOO_LARGE, millions=MAX_PIXELS // 1_000_000) from exc
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
        raise InputError(_TOO_LARGE, millions=limit // 1_000_000)
    try:
        if opened_here and getattr(im, "n_frames", 1) > 1:
            im.seek(0)  # an animation: its first frame
        if opened_here and im.format in ("JPEG", "MPO"):
            im.draft(None, (WORK_SIZE, WORK_SIZE))  # decode at 1/2, 1/4 or 1/8 size: cheap
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(_TOO_LARGE, millions=limit // 1_000_000) from exc
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
            "The array holds {dtype} values; pass an image array of numbers "
            "(uint8, uint16, float or bool).",
            dtype=arr.dtype,
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4))):
        raise InputError(
            "An image array must have shape (H, W), (H, W, 3) or (H, W, 4), "
            "but this one has shape {shape}.",
            shape=arr.shape,
        )
    if arr.size == 0:
        raise InputError("The image has no pixels (zero width or height); draw or upload a digit.")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise InputError(_TOO_LARGE, millions=MAX_PIXELS // 1_000_000)
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
