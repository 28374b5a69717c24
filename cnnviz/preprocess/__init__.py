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

The steps live in three modules, in the order they run: ``reading`` (step 1), ``cleaning``
(steps 2-4) and ``shaping`` (steps 5-7); this module runs them and keeps each step's picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.preprocess.cleaning import (
    FAINT,
    composite,
    enlarge,
    ink_bright,
    keep_main_strokes,
    remove_background,
)
from cnnviz.preprocess.reading import WORK_SIZE, load
from cnnviz.preprocess.shaping import BOX, SIZE, centre, crop_to_ink, scale_to_box, thicken
from cnnviz.texts import Text

__all__ = [
    "BOX",
    "SIZE",
    "UNEXPECTED",
    "WORK_SIZE",
    "Step",
    "describe_steps",
    "to_mnist",
    "to_model_input",
]

SMALL = SIZE  # pictures smaller than MNIST's own are enlarged smoothly ...
ENLARGED = 128  # ... by a whole factor, to a longer side of at least this
# Only the catch-all around the pipeline says this; the tests check that no input reaches it.
UNEXPECTED = N_("This image could not be processed; save it as a PNG or JPEG and try again.")


@dataclass(frozen=True, eq=False)
class Step:
    """One stage of the pipeline, for showing students: a float image in [0, 1] and a note.

    ``image`` is (H, W) float32; ``note`` is one sentence saying what happened at this stage.
    ``title`` and ``note`` are English; ``title_text`` and ``note_text`` are the same as
    :class:`cnnviz.texts.Text` (template + parameters), kept as they are and shown in the
    reader's language with ``str()`` (see :meth:`heading` and :meth:`caption`).
    """

    title_text: Text
    image: np.ndarray
    note_text: Text

    @property
    def title(self) -> str:
        return self.title_text.english

    @property
    def note(self) -> str:
        return self.note_text.english

    def heading(self) -> str:
        """The title in the current language."""
        return str(self.title_text)

    def caption(self) -> str:
        """The note in the current language."""
        return str(self.note_text)


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
            "The model needs a 28 x 28 image of numbers, but got shape {shape} "
            "of {dtype}; pass the result of to_mnist.",
            shape=arr.shape,
            dtype=arr.dtype,
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
    gray, alpha, lossy = load(image)
    gray, fill_note = composite(gray, alpha)
    steps = [Step(Text(N_("Grayscale")), gray, fill_note)]

    factor = -(-ENLARGED // max(gray.shape)) if max(gray.shape) < SMALL else 1  # ceiling
    if factor > 1:
        h, w = gray.shape
        gray = enlarge(gray, factor)
        note = Text(
            N_(
                "A small picture ({h} x {w}) was enlarged {factor} times with smooth "
                "interpolation so its strokes can be measured."
            ),
            h=h,
            w=w,
            factor=factor,
        )
        steps.append(Step(Text(N_("Enlarged smoothly")), gray, note))

    ink, inverted = ink_bright(gray)
    note = Text(
        N_("Dark ink on light paper, so the image was inverted to make the ink bright.")
        if inverted
        else N_("The ink is already brighter than the background, so nothing was inverted.")
    )
    steps.append(Step(Text(N_("Ink bright on dark")), ink, note))

    narrow = factor > 1 and 4 * min(gray.shape) <= max(gray.shape)  # a tiny 1 cut tight
    clean = remove_background(ink, FAINT if lossy else 0.0, tile=64 * factor, all_ink=narrow)
    clean = keep_main_strokes(clean)
    removed = N_("Paper, shading and noise set to 0, specks dropped, and the ink stretched to 1.")
    steps.append(Step(Text(N_("Background removed")), clean, Text(removed)))

    crop = crop_to_ink(clean)
    cut = N_("Cut to the ink's bounding box, {height} x {width} pixels.")
    size = dict(height=crop.shape[0], width=crop.shape[1])
    steps.append(Step(Text(N_("Cropped to the ink")), crop, Text(cut, **size)))

    thick, grown = thicken(crop)
    small = scale_to_box(thick)
    if grown:
        note = Text(
            N_(
                "Longer side scaled to {box} pixels keeping the aspect ratio (anti-aliased), "
                "after thickening the thin strokes by {grown} pixels."
            ),
            box=BOX,
            grown=grown,
        )
    else:
        note = Text(
            N_("Longer side scaled to {box} pixels keeping the aspect ratio (anti-aliased)."),
            box=BOX,
        )
    steps.append(Step(Text(N_("Scaled to {box} pixels"), box=BOX), small, note))

    moved = N_("Moved so that its centre of mass sits at the centre of the field, as in MNIST.")
    steps.append(
        Step(Text(N_("Centred in {size} x {size}"), size=SIZE), centre(small), Text(moved))
    )
    return steps
