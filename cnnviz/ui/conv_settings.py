"""The Convolution page's controls: which image, which filter (a preset or one typed in),
padding, pad value and stride. Widget keys start with ``conv.``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnnviz import filters, lessons
from cnnviz.data import mnist
from cnnviz.errors import InputError
from cnnviz.i18n import N_, _
from cnnviz.plots import heatmaps
from cnnviz.ui import inputs, state

# Radio / select box values (English ids, shown translated with format_func=_).
TUTORIAL = N_("Tutorial 4×4 example")
DIGIT = N_("MNIST digit")
DRAWING = N_("Current drawing / upload")
CUSTOM = N_("Custom 3×3 (type it)")
PAD_VALUES = {"0": 0.0, "255": 255.0, N_("mean"): "mean"}
# The typed-in kernel: where it starts (a link's, else the vertical Sobel filter), how many times
# a link replaced it (a new editor each time: an editor's edits cannot be set from code), and
# the last valid one (for the URL).
KERNEL_START = "conv.kernel_start"
KERNEL_GENERATION = "conv.kernel_generation"
KERNEL_NOW = "conv.kernel_now"


def start_kernel(kernel: np.ndarray | None) -> None:
    """Start the typed-in kernel's editor again from ``kernel`` (None: the vertical Sobel)."""
    st.session_state[KERNEL_START] = None if kernel is None else np.asarray(kernel, dtype=float)
    st.session_state[KERNEL_GENERATION] = st.session_state.get(KERNEL_GENERATION, 0) + 1
    st.session_state.pop(KERNEL_NOW, None)


@dataclass(frozen=True)
class ConvSettings:
    image: np.ndarray  # (H, W) pixel values 0..255
    kernel: np.ndarray  # (3, 3)
    padding: str  # "valid" or "same"
    pad_value: float | str  # 0, 255 or "mean"
    strides: int
    description: dict  # English ids of the choices, for session_state: see describe()

    @property
    def image_label(self) -> str:
        """E.g. "the tutorial's 4×4 image", in the current language."""
        return image_label(self.description)

    @property
    def filter_label(self) -> str:
        """E.g. "the Vertical Sobel filter", in the current language."""
        return filter_label(self.description)


def image_label(description: dict) -> str:
    source = description.get("source")
    if source == TUTORIAL:
        return _("the tutorial's 4×4 image")
    if source == DIGIT:
        return _("MNIST training image {index} (label {label})").format(
            index=description["index"], label=description["label"]
        )
    return _("your input ({source})").format(
        source=inputs.source_text(description.get("drawing")) or _("drawing")
    )


def filter_label(description: dict) -> str:
    name = description.get("filter")
    if name == CUSTOM:
        return _("your filter")
    return _("the {name} filter").format(name=_(name))


def describe(description: dict | str | None) -> str:
    """The stored description of the Convolution page's output (``description`` of
    ConvSettings, kept in session_state as English ids) as one phrase in the current language:
    "the Vertical Sobel filter over the tutorial's 4×4 image, valid padding, stride 1"."""
    if not isinstance(description, dict):
        return str(description or "")
    return _("{filter} over {image}, {padding} padding, stride {stride}").format(
        filter=filter_label(description),
        image=image_label(description),
        padding=description["padding"],
        stride=description["stride"],
    )


def conv_settings() -> ConvSettings:
    """Draw the controls and return what they chose; stops the page (with one sentence) when
    the chosen input is missing or a typed kernel cell is not a number."""
    has_drawing = st.session_state.get(state.CURRENT_IMAGE) is not None
    controls = st.columns([1.1, 1.1, 1.0])
    with controls[0]:
        source = st.radio(
            _("Input image"),
            (TUTORIAL, DIGIT, DRAWING),
            index=2 if has_drawing else 0,
            key="conv.input",
            format_func=_,
        )
        if source == DIGIT:
            index = st.number_input(
                _("Training image number"), 0, 59_999, value=0, step=1, key="conv.mnist_index"
            )
    with controls[1]:
        filter_name = st.selectbox(
            _("Filter"),
            [*filters.FILTERS, CUSTOM],
            index=0,
            key="conv.filter",
            format_func=_,
            help=_("The tutorial's vertical Sobel filter comes first."),
        )
        stride = st.radio(
            _("Stride"),
            (1, 2),
            horizontal=True,
            key="conv.stride",
            help=_("How far the filter moves."),
        )
    with controls[2]:
        padding = st.radio(
            _("Padding"),
            ("valid", "same"),
            horizontal=True,
            key="conv.padding",
            help=_(
                "valid: only where the filter fits (smaller output); same: add a border so the "
                "output keeps the input's size."
            ),
        )
        pad_label = st.radio(
            _("Pad value"),
            tuple(PAD_VALUES),
            horizontal=True,
            key="conv.pad_value",
            format_func=_,
            disabled=padding == "valid",
            help=_(
                "What fills the border for same padding: 0 (black), 255 (white) or the image's "
                "mean pixel value."
            ),
        )
    pad_value = PAD_VALUES[pad_label]

    description = {"source": source, "filter": filter_name, "padding": padding, "stride": stride}
    if source == TUTORIAL:
        image = lessons.TUTORIAL_IMAGE
    elif source == DIGIT:
        (x_train, y_train), _test = mnist.load_data_shared()
        image = x_train[int(index)].astype(float)
        description.update(index=int(index), label=int(y_train[int(index)]))
    else:
        if not has_drawing:
            st.info(
                _(
                    "Nothing drawn yet. Draw a digit (or upload a picture) on **Draw & predict**, "
                    "or choose the tutorial example or an MNIST digit above."
                )
            )
            st.page_link(
                "pages/1_draw_predict.py", label=_("Go to Draw & predict"), icon=":material/draw:"
            )
            st.stop()
        image = lessons.to_pixel_values(st.session_state[state.CURRENT_IMAGE])
        description["drawing"] = st.session_state.get(state.CURRENT_IMAGE_SOURCE)

    if filter_name == CUSTOM:
        st.markdown(_("**Type your own 3×3 filter** (numbers such as `-1`, `0.5` or `1/9`):"))
        import pandas as pd  # only for the typed-in kernel (the Pooling page imports us too)

        first = st.session_state.get(KERNEL_START)
        if first is None:
            first = filters.FILTERS["Vertical Sobel"]
        start = pd.DataFrame(
            [[_cell(v) for v in row] for row in first], columns=["col 1", "col 2", "col 3"]
        )
        # The columns keep their English names (the editor's stored edits refer to them); only
        # their headings are translated.
        headings = {
            f"col {i}": st.column_config.Column(_("col {number}").format(number=i))
            for i in (1, 2, 3)
        }
        generation = st.session_state.get(KERNEL_GENERATION, 0)
        edited = st.data_editor(
            start,
            key="conv.custom_kernel" + (f"_{generation}" if generation else ""),
            hide_index=True,
            width=360,
            column_config=headings,
        )
        try:
            kernel = filters.validate_kernel(edited)
        except InputError as error:
            st.error(str(error))
            st.stop()
        st.session_state[KERNEL_NOW] = kernel
    else:
        kernel = filters.get_filter(filter_name)
    return ConvSettings(image, kernel, padding, pad_value, stride, description)


def _cell(value: float) -> str:
    """A kernel value as the editor shows it: short, yet exact (a link's 1/9 stays 1/9)."""
    short = heatmaps.format_number(value)
    try:
        return short if float(short) == value else repr(float(value))
    except ValueError:
        return repr(float(value))
