"""The current input shared by the pages: a drawing, an uploaded image or an MNIST test digit.

Whatever the person gave last becomes the current input, stored as the 28x28 image MNIST would
have made (``st.session_state[state.CURRENT_IMAGE]``, float32 in [0, 1], ink bright), with a
short description of where it came from and its true label when known.

A drawing or upload that cannot be used shows one ``st.error``/``st.info`` line and leaves the
previous input in place.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image, ImageOps

from cnnviz import preprocess
from cnnviz.data import load_dataset
from cnnviz.errors import InputError
from cnnviz.i18n import N_, _
from cnnviz.texts import Text
from cnnviz.ui import state

IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]
CANVAS_PX = 280
NO_INPUT = N_("Draw a digit, upload an image or pick a random MNIST test digit to begin.")

# Where the current input came from, stored in the session in English (the same text in every
# language: tests and other pages read it); :func:`source_text` shows it in the reader's language.
DRAWING = N_("drawing")
UPLOAD = N_("upload: {name}")
MNIST_DIGIT = N_("MNIST test digit #{index}")
_UPLOAD_PREFIX = UPLOAD.split("{", 1)[0]
_MNIST_PREFIX = MNIST_DIGIT.split("{", 1)[0]


def source_text(source: str | None) -> str:
    """The stored (English) description of the current input in the current language:
    "drawing", "upload: a.png", "MNIST test digit #7" (anything else is shown as it is)."""
    if not source:
        return ""
    if source == DRAWING:
        return _(DRAWING)
    if source.startswith(_UPLOAD_PREFIX):
        return _(UPLOAD).format(name=source[len(_UPLOAD_PREFIX) :])
    if source.startswith(_MNIST_PREFIX):
        return _(MNIST_DIGIT).format(index=source[len(_MNIST_PREFIX) :])
    return source


def mnist_index(source: str | None) -> int | None:
    """The index of the MNIST test digit a stored source names ("MNIST test digit #7" -> 7),
    else None (a drawing, an upload, nothing)."""
    if not source or not source.startswith(_MNIST_PREFIX):
        return None
    try:
        return int(source[len(_MNIST_PREFIX) :])
    except ValueError:
        return None


@st.cache_resource(show_spinner=False)  # the spinner is in mnist_test_set, in the reader's language
def _mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    _unused, (x_test, y_test) = load_dataset("MNIST")  # shared with training runs, read once
    return x_test, y_test


def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (uint8 (10000, 28, 28)) and labels, once per process."""
    with st.spinner(_("Loading the MNIST test set…")):
        return _mnist_test_set()


def current_image() -> tuple[np.ndarray | None, str, int | None]:
    """(image (28, 28) float32 in [0, 1] or None, where it came from, true label or None)."""
    return (
        st.session_state.get(state.CURRENT_IMAGE),
        st.session_state.get(state.CURRENT_IMAGE_SOURCE, ""),
        st.session_state.get(state.CURRENT_LABEL),
    )


def set_current_image(
    image: np.ndarray, source: str, label: int | None = None, steps: list | None = None
) -> None:
    """Make ``image`` (28, 28) in [0, 1] the current input of every page; ``steps`` is how it
    was made (see :func:`recipe_steps`), None for an MNIST digit."""
    st.session_state[state.CURRENT_IMAGE] = np.asarray(image, dtype=np.float32)
    st.session_state[state.CURRENT_IMAGE_SOURCE] = source
    st.session_state[state.CURRENT_LABEL] = label
    st.session_state[state.CURRENT_STEPS] = steps


def image_key(image: np.ndarray) -> str:
    """A short fingerprint of an input image, to notice that the current input changed."""
    return hashlib.md5(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()


THUMB_PX = 240  # the longer side of a step's picture kept in the session (a few KB each)


def _thumbnail(image) -> np.ndarray:
    """A step's float image in [0, 1] (or a PIL image) -> uint8, longer side <= THUMB_PX."""
    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.clip(np.rint(np.asarray(image) * 255), 0, 255).astype(np.uint8))
    image = image.copy()
    image.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.BOX)
    return np.asarray(image)


def recipe_steps(
    original: Image.Image, size: tuple[int, int], steps: list[preprocess.Step]
) -> list[tuple[Text, np.ndarray, Text, tuple[int, int]]]:
    """The pictures of :func:`preprocess.to_mnist`'s steps, small enough to keep in the
    session, with the original picture first: (title, uint8 thumbnail, note, (height, width)
    of the full-size step). ``size`` is the original's (height, width). Title and note are
    :class:`cnnviz.texts.Text`: kept in English, shown in the reader's language."""
    note = Text(N_("The picture as you gave it."))
    if max(size) > preprocess.WORK_SIZE:
        note = Text(
            N_("The picture as you gave it; it is reduced to {size} pixels first."),
            size=preprocess.WORK_SIZE,
        )
    first = [(Text(N_("Original")), _thumbnail(original), note, tuple(size))]
    return first + [
        (s.title_text, _thumbnail(s.image), s.note_text, s.image.shape[:2]) for s in steps
    ]


def _original_upload(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The upload as a person sees it (upright, first frame, RGB), decoded cheaply, and its
    full (height, width). Only called after ``to_mnist`` accepted the same bytes, so size and
    format are already checked."""
    im = Image.open(io.BytesIO(data))
    width, height = im.size
    im.draft("RGB", (THUMB_PX, THUMB_PX))  # JPEG: decode at 1/8 size
    upright = ImageOps.exif_transpose(im) or im
    if upright.size[0] != im.size[0]:  # turned by its EXIF orientation
        width, height = height, width
    return upright.convert("RGB"), (height, width)


def use_mnist_digit(index: int | None = None) -> None:
    """Make an MNIST test digit the current input (a random one when index is None)."""
    x_test, y_test = mnist_test_set()
    if index is None:
        index = int(np.random.default_rng().integers(len(x_test)))
    image = x_test[index].astype(np.float32) / 255.0
    set_current_image(image, MNIST_DIGIT.format(index=index), int(y_test[index]))


def ask_for_input(where, key: str) -> None:
    """A page that needs an input and has none: say so, offer a random MNIST test digit and a
    link to Draw & predict."""
    with where:
        st.info(_("No input yet.") + " " + _(NO_INPUT))
        random_digit_button(key=key)
        st.page_link(
            "pages/1_draw_predict.py",
            label=_("Draw a digit on Draw & predict"),
            icon=":material/draw:",
        )


def random_digit_button(where=None, key: str = "random_digit") -> None:
    """A "Random MNIST test digit" button."""
    (where or st).button(
        _("Random MNIST test digit"),
        icon=":material/casino:",
        key=key,
        on_click=use_mnist_digit,
        width="stretch",
    )


def upload_input(where=None, key: str = "image_upload") -> None:
    """An image uploader (PNG, JPEG, GIF, BMP, WebP); a new usable file becomes the input."""
    where = where or st
    upload = where.file_uploader(
        _("Upload a picture of a digit"),
        type=IMAGE_TYPES,
        key=key,
        help=_("Dark ink on a light background or light on dark: both work."),
    )
    if upload is None:
        return
    seen_key = f"{key}_seen"
    if st.session_state.get(seen_key) == upload.file_id:
        return  # handled on an earlier run; a later drawing or digit may have replaced it
    st.session_state[seen_key] = upload.file_id
    data = upload.getvalue()
    try:
        image, steps = preprocess.to_mnist(data, return_steps=True)
    except InputError as exc:
        where.error(f"{upload.name}: {exc}")
        return
    try:
        original, size = _original_upload(data)
    except Exception:  # the pipeline read it; a picture for the steps is only a nicety
        original, size = Image.fromarray(np.uint8(steps[0].image * 255)), steps[0].image.shape
    steps = recipe_steps(original, size, steps)
    set_current_image(image, UPLOAD.format(name=upload.name), steps=steps)


def _canvas_failed(where, exc: Exception) -> None:
    where.info(
        _(
            "The drawing canvas could not load here; upload an image or pick a random MNIST "
            "digit instead. ({error})"
        ).format(error=type(exc).__name__)
    )


def use_drawing(image: np.ndarray, steps: list) -> None:
    """The default use of a new drawing: it becomes the current input of every page."""
    set_current_image(image, DRAWING, steps=steps)


def drawing_input(where=None, key: str = "canvas", use=use_drawing) -> None:
    """A 280x280 drawing canvas (white ink on black), brush size and clear; new strokes are
    given to ``use(image (28, 28) float32 in [0, 1], steps)`` (by default they become the current
    input). The canvas's own toolbar (undo, redo, reset) sits below the canvas."""
    where = where or st
    counter_key = f"{key}_generation"  # changing the canvas key remounts it empty ("Clear")
    generation = st.session_state.setdefault(counter_key, 0)
    brush = where.slider(_("Brush size"), 8, 40, 20, key=f"{key}_brush")
    try:
        from streamlit_drawable_canvas import st_canvas

        from cnnviz.ui.canvas_toolbar import keep_toolbar_below_canvas

        with where.container():
            keep_toolbar_below_canvas()  # else it floats over the canvas's top band
            result = st_canvas(
                stroke_width=brush,
                stroke_color="#ffffff",
                background_color="#000000",
                width=CANVAS_PX,
                height=CANVAS_PX,
                drawing_mode="freedraw",
                return_image_data=True,
                key=f"{key}_{generation}",
            )
    except Exception as exc:  # the component could not be registered or rendered here
        _canvas_failed(where, exc)
        return
    caption_col, clear_col = where.columns([3, 1], vertical_alignment="center")
    caption_col.caption(_("Draw with a mouse, pen or finger; undo and redo are under the canvas."))
    if clear_col.button(_("Clear"), key=f"{key}_clear"):
        st.session_state[counter_key] = generation + 1
        st.rerun()  # draw a fresh, empty canvas
    raw = result.image_bytes if result is not None else None
    objects = (result.json_data or {}).get("objects") if result is not None else None
    if raw is None:
        return  # nothing drawn yet on this canvas
    digest = hashlib.md5(raw).hexdigest()
    seen_key = f"{key}_seen"
    if st.session_state.get(seen_key) == digest:
        return  # this drawing is already the input (or was already refused)
    st.session_state[seen_key] = digest
    if not objects:
        where.info(_("The canvas is empty: draw a digit (the previous input is kept)."))
        return
    try:
        image, steps = preprocess.to_mnist(result.image_data, return_steps=True)
    except InputError as exc:
        where.info(_("{error} (The previous input is kept.)").format(error=exc))
        return
    original = np.ascontiguousarray(np.asarray(result.image_data)[:, :, :3], dtype=np.uint8)
    steps = recipe_steps(Image.fromarray(original), original.shape[:2], steps)
    use(image, steps)


def recipe_expander(where=None) -> None:
    """The expander "How your drawing became the 28x28 input": MNIST's own recipe step by
    step for the current drawing or upload (nothing for an MNIST digit, already 28 x 28)."""
    steps = st.session_state.get(state.CURRENT_STEPS)
    source = st.session_state.get(state.CURRENT_IMAGE_SOURCE, "")
    if not steps:
        return
    if source == "drawing":
        label = Text(N_("How your drawing became the 28x28 input"))
    else:
        label = Text(N_("How your picture became the 28x28 input"))
    with (where or st).expander(str(label), icon=":material/steps:"):
        st.markdown(
            str(
                Text(
                    N_(
                        "MNIST's digits were made in a fixed way: ink bright on black, the digit "
                        "scaled so its longer side fits **20 × 20** pixels, then placed in "
                        "**28 × 28** with its centre of mass in the middle. The network only "
                        "understands digits made like that, so your input goes through the same "
                        "recipe:"
                    )
                )
            )
        )
        for number, (title, picture, note, (height, width)) in enumerate(steps):
            if number % 4 == 0:  # a row of four; on a phone the rows stack in order
                columns = st.columns(4)
            with columns[number % 4]:
                st.image(_fit(picture, 160))
                st.markdown(f"**{number + 1}. {title}** ({height} × {width} px)")
                st.caption(str(note))


def _fit(picture: np.ndarray, box: int) -> np.ndarray:
    """A step picture made to fit a ``box`` x ``box`` square: small ones (the 20 px digit, the
    28 x 28 field) enlarged with square pixels so a projector shows each pixel, not a blur."""
    longest = max(picture.shape[:2])
    if longest > box:
        smaller = Image.fromarray(picture)
        smaller.thumbnail((box, box), Image.Resampling.BOX)
        return np.asarray(smaller)
    factor = max(1, box // longest)
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
