"""The Convolution page's controls: which image, which filter (a preset or one typed in),
padding, pad value and stride. Widget keys start with ``conv.``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz import filters, lessons
from cnnviz.data import mnist
from cnnviz.errors import InputError
from cnnviz.plots import heatmaps
from cnnviz.ui import state

TUTORIAL = "Tutorial 4×4 example"
DIGIT = "MNIST digit"
DRAWING = "Current drawing / upload"
CUSTOM = "Custom 3×3 (type it)"
PAD_VALUES = {"0": 0.0, "255": 255.0, "mean": "mean"}


@dataclass(frozen=True)
class ConvSettings:
    image: np.ndarray  # (H, W) pixel values 0..255
    image_label: str  # e.g. "the tutorial's 4×4 image"
    kernel: np.ndarray  # (3, 3)
    filter_label: str  # e.g. "the vertical sobel filter"
    padding: str  # "valid" or "same"
    pad_value: float | str  # 0, 255 or "mean"
    strides: int


def conv_settings() -> ConvSettings:
    """Draw the controls and return what they chose; stops the page (with one sentence) when
    the chosen input is missing or a typed kernel cell is not a number."""
    has_drawing = st.session_state.get(state.CURRENT_IMAGE) is not None
    controls = st.columns([1.1, 1.1, 1.0])
    with controls[0]:
        source = st.radio(
            "Input image",
            (TUTORIAL, DIGIT, DRAWING),
            index=2 if has_drawing else 0,
            key="conv.input",
        )
        if source == DIGIT:
            index = st.number_input(
                "Training image number", 0, 59_999, value=0, step=1, key="conv.mnist_index"
            )
    with controls[1]:
        filter_name = st.selectbox(
            "Filter",
            [*filters.FILTERS, CUSTOM],
            index=0,
            key="conv.filter",
            help="The tutorial's vertical Sobel filter comes first.",
        )
        stride = st.radio(
            "Stride", (1, 2), horizontal=True, key="conv.stride", help="How far the filter moves."
        )
    with controls[2]:
        padding = st.radio(
            "Padding",
            ("valid", "same"),
            horizontal=True,
            key="conv.padding",
            help="valid: only where the filter fits (smaller output); same: add a border so the "
            "output keeps the input's size.",
        )
        pad_label = st.radio(
            "Pad value",
            tuple(PAD_VALUES),
            horizontal=True,
            key="conv.pad_value",
            disabled=padding == "valid",
            help="What fills the border for same padding: 0 (black), 255 (white) or the image's "
            "mean pixel value.",
        )
    pad_value = PAD_VALUES[pad_label]

    if source == TUTORIAL:
        image = lessons.TUTORIAL_IMAGE
        image_label = "the tutorial's 4×4 image"
    elif source == DIGIT:
        (x_train, y_train), _ = mnist.load_data_shared()
        image = x_train[int(index)].astype(float)
        image_label = f"MNIST training image {int(index)} (label {int(y_train[int(index)])})"
    else:
        if not has_drawing:
            st.info(
                "Nothing drawn yet. Draw a digit (or upload a picture) on **Draw & predict**, "
                "or choose the tutorial example or an MNIST digit above."
            )
            st.page_link(
                "pages/1_draw_predict.py", label="Go to Draw & predict", icon=":material/draw:"
            )
            st.stop()
        image = lessons.to_pixel_values(st.session_state[state.CURRENT_IMAGE])
        image_label = (
            f"your input ({st.session_state.get(state.CURRENT_IMAGE_SOURCE) or 'drawing'})"
        )

    if filter_name == CUSTOM:
        st.markdown("**Type your own 3×3 filter** (numbers such as `-1`, `0.5` or `1/9`):")
        start = pd.DataFrame(
            [[heatmaps.format_number(v) for v in row] for row in filters.FILTERS["Vertical Sobel"]],
            columns=["col 1", "col 2", "col 3"],
        )
        edited = st.data_editor(start, key="conv.custom_kernel", hide_index=True, width=360)
        try:
            kernel = filters.validate_kernel(edited)
        except InputError as error:
            st.error(str(error))
            st.stop()
        filter_label = "your filter"
    else:
        kernel = filters.get_filter(filter_name)
        filter_label = f"the {filter_name.lower()} filter"
    return ConvSettings(image, image_label, kernel, filter_label, padding, pad_value, stride)
