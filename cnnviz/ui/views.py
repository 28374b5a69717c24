"""What each page's link holds: its query parameters (docs/links.md), built from
:mod:`cnnviz.ui.links`' kinds. A page draws its controls inside
``with links.view("convolution", views.CONVOLUTION):``."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import filters, lessons
from cnnviz.i18n import N_
from cnnviz.ui import (
    classroom,
    conv_settings,
    inputs,
    links,
    models,
    softmax_parts,
    state,
    train_settings,
)
from cnnviz.ui.links import CannotTravel, Param, among, choice, integer, position

NO_DRAWING = N_(
    "This link was made with a drawing or an upload, and those cannot travel in a link: draw "
    "the digit again on Draw & predict, or pick an MNIST digit."
)
NO_MODEL = N_(
    "This link used a model trained or uploaded in another browser, which cannot travel in a "
    "link; a bundled network is shown instead."
)
NO_CONV_OUTPUT = N_(
    "This link pooled the output of the Convolution page in another browser; open the "
    "Convolution page here first. The tutorial-like example is shown instead."
)


def slug(name: str) -> str:
    """ "Vertical Sobel" -> "vertical-sobel"."""
    return name.lower().replace(" ", "-")


def _mnist_index(text: str, prefix: str, count: int) -> int:
    if not text.startswith(prefix):
        raise ValueError(text)
    index = int(text[len(prefix) :])
    if not 0 <= index < count:
        raise ValueError(text)
    return index


# --- the current input and the model, shared by Draw & predict and Softmax & backprop ----------


def _current_input_text() -> str | None:
    source = st.session_state.get(state.CURRENT_IMAGE_SOURCE)
    if not source or st.session_state.get(state.CURRENT_IMAGE) is None:
        return None
    index = inputs.mnist_index(source)
    return f"test:{index}" if index is not None else "drawing"


def _use_current_input(text: str) -> None:
    """``test:42`` makes MNIST test digit 42 the current input; ``drawing`` keeps this
    browser's drawing or upload (there is none in a new browser: CannotTravel)."""
    if text == "drawing":
        if _current_input_text() != "drawing":
            raise CannotTravel(NO_DRAWING)
        return
    index = _mnist_index(text, "test:", 10_000)
    if inputs.mnist_index(st.session_state.get(state.CURRENT_IMAGE_SOURCE) or "") != index:
        inputs.use_mnist_digit(index)


def _apply_current_input(text: str | None) -> None:
    if text is not None:  # no input in the link: keep this browser's
        _use_current_input(text)


CURRENT_INPUT = Param("input", _current_input_text, _apply_current_input)

MODEL_SLUGS = {
    "tutorial": "Tutorial network",
    "strong": "Stronger network",
    "session": models.SESSION_LABEL,  # only where it was trained or uploaded
    "upload": models.UPLOADED_LABEL,
}


def _model_text() -> str | None:
    choice_ = st.session_state.get(state.CURRENT_MODEL_CHOICE)
    return next((text for text, label in MODEL_SLUGS.items() if label == choice_), None)


def _apply_model(text: str | None) -> None:
    if text is None:
        return  # keep this browser's model
    label = MODEL_SLUGS[text]
    if label not in models.model_options():  # a bundled file missing, another browser's model
        raise CannotTravel(NO_MODEL)
    st.session_state[state.CURRENT_MODEL_CHOICE] = label


MODEL = Param("model", _model_text, _apply_model)

DRAW_PREDICT = (CURRENT_INPUT, MODEL)

# --- Convolution ---------------------------------------------------------------------------


def _conv_input_text() -> str | None:
    source = st.session_state.get("conv.input")
    if source == conv_settings.TUTORIAL:
        return "tutorial"
    if source == conv_settings.DIGIT:
        return f"mnist:{int(st.session_state.get('conv.mnist_index', 0))}"
    if source == conv_settings.DRAWING:
        return _current_input_text() or "drawing"
    return None


def _apply_conv_input(text: str | None) -> None:
    st.session_state.pop("conv.mnist_index", None)
    if text is None:
        st.session_state.pop("conv.input", None)
    elif text == "tutorial":
        st.session_state["conv.input"] = conv_settings.TUTORIAL
    elif text.startswith("mnist:"):
        st.session_state["conv.mnist_index"] = _mnist_index(text, "mnist:", 60_000)
        st.session_state["conv.input"] = conv_settings.DIGIT
    else:
        _use_current_input(text)
        st.session_state["conv.input"] = conv_settings.DRAWING


def kernel_text(kernel) -> str:
    """Nine numbers, row by row, each as short as it reads and still exact."""
    return ",".join(
        links.number_text(v) if float(links.number_text(v)) == v else repr(float(v))
        for v in np.asarray(kernel, dtype=float).ravel()
    )


def _kernel_text() -> str | None:
    if st.session_state.get("conv.filter") != conv_settings.CUSTOM:
        return None
    kernel = st.session_state.get(conv_settings.KERNEL_NOW)
    return None if kernel is None else kernel_text(kernel)


def _apply_kernel(text: str | None) -> None:
    kernel = None
    if text is not None:
        values = [float(part) for part in text.split(",")]
        kernel = filters.validate_kernel(np.array(values).reshape(3, 3))  # 9 finite numbers
    conv_settings.start_kernel(kernel)


FILTER_SLUGS = {slug(name): name for name in filters.FILTERS} | {"custom": conv_settings.CUSTOM}
CONVOLUTION = (
    Param("input", _conv_input_text, _apply_conv_input),
    choice("filter", "conv.filter", FILTER_SLUGS),
    Param("kernel", _kernel_text, _apply_kernel),
    choice("padding", "conv.padding", {"valid": "valid", "same": "same"}),
    choice("pad", "conv.pad_value", {text: text for text in conv_settings.PAD_VALUES}),
    choice("stride", "conv.stride", {"1": 1, "2": 2}),
    position("pos", "conv"),
)

# --- Pooling -------------------------------------------------------------------------------

FROM_CONV = N_("Output of the Convolution page")  # the Pooling page's first input
POOL_INPUTS = dict(zip(("4x4", "6x6"), lessons.POOL_EXAMPLES, strict=True))


def _pool_input_text() -> str | None:
    source = st.session_state.get("pool.input")
    if source == FROM_CONV:
        return "conv"
    return next((text for text, name in POOL_INPUTS.items() if name == source), None)


def _apply_pool_input(text: str | None) -> None:
    if text is None:
        st.session_state.pop("pool.input", None)
    elif text == "conv":
        if st.session_state.get(state.LAST_CONV_OUTPUT) is None:
            raise CannotTravel(NO_CONV_OUTPUT)
        st.session_state["pool.input"] = FROM_CONV
    else:
        st.session_state["pool.input"] = POOL_INPUTS[text]


POOLING = (
    Param("input", _pool_input_text, _apply_pool_input),
    choice("mode", "pool.mode", {"max": "max", "average": "average", "min": "min"}),
    choice("size", "pool.size", {"2": 2, "3": 3}),
    position("pos", "pool"),
    choice("grad", "pool.grad", {"ones": "all ones", "random": "random whole numbers"}),
)

# --- Softmax & backprop --------------------------------------------------------------------


def _label_text() -> str | None:
    label = st.session_state.get("softmax.label")
    return None if label is None else str(int(label))


def _apply_label(text: str | None) -> None:
    """The true label for the current input (applied after ``input``, so it is not reset to
    the new input's own label)."""
    image = st.session_state.get(state.CURRENT_IMAGE)
    if text is None or image is None:
        st.session_state.pop("softmax.label_for", None)
        return
    label = int(text)
    if not 0 <= label <= 9:
        raise ValueError(text)
    st.session_state["softmax.label"] = label
    st.session_state["softmax.label_for"] = inputs.image_key(image)


SOFTMAX = (
    CURRENT_INPUT,
    MODEL,
    Param("label", _label_text, _apply_label),
    among("lr", "softmax.lr", softmax_parts.LEARNING_RATES),
)

# --- Train live ----------------------------------------------------------------------------

PRESET_SLUGS = {"quick-demo": "Quick demo", "tutorial": "Tutorial recipe"}


def _preset_text() -> str | None:
    label = st.session_state.get(state.TRAIN_PRESET)
    if label == train_settings.CUSTOM:
        return "custom"
    return next((text for text, name in PRESET_SLUGS.items() if name == label), None)


def _apply_preset(text: str | None) -> None:
    """Every setting from the preset first (the Quick demo's for ``custom``); the settings in
    the link then change it."""
    label = "Quick demo" if text in (None, "custom") else PRESET_SLUGS[text]
    train_settings.apply_config(train_settings.preset(label))
    st.session_state[state.TRAIN_PRESET] = train_settings.CUSTOM if text == "custom" else label


def _train_setting(param: Param) -> Param:
    """A custom setting: in the URL only for ``preset=custom``; a value makes it custom."""

    def read():
        if st.session_state.get(state.TRAIN_PRESET) != train_settings.CUSTOM:
            return None
        return param.read()

    def apply(text):
        if text is not None:
            param.apply(text)
            st.session_state[state.TRAIN_PRESET] = train_settings.CUSTOM

    return Param(param.name, read, apply)


def _by_value(labels: dict[str, str]) -> dict[str, str]:
    """{"Tutorial network": "tutorial"} -> {"tutorial": "Tutorial network"}."""
    return {value: label for label, value in labels.items()}


def _datasets() -> dict[str, str]:
    from cnnviz.data import list_datasets

    return {name: name for name in list_datasets()}


def _dataset_param() -> Param:
    def read():
        return st.session_state.get("train_dataset")

    def apply(text):
        if text is not None:
            st.session_state["train_dataset"] = _datasets()[text]

    return Param("dataset", read, apply)


TRAIN_LIVE = (
    Param("preset", _preset_text, _apply_preset),
    *(
        _train_setting(param)
        for param in (
            _dataset_param(),
            choice(
                "net", "train_architecture", {v: k for k, v in train_settings.ARCHITECTURES.items()}
            ),
            integer("filters", "train_filters", 1, 32),
            choice("opt", "train_optimizer", _by_value(train_settings.OPTIMIZERS)),
            among("lr", "train_learning_rate", train_settings.LEARNING_RATES),
            among("batch", "train_batch_size", train_settings.BATCH_SIZES),
            integer("epochs", "train_epochs", 1, 30),
            among("train", "train_train_size", train_settings.TRAIN_SIZES),
            among("test", "train_test_size", train_settings.TEST_SIZES),
            integer("seed", "train_seed", 0, 10_000),
        )
    ),
)

# --- Why convolution -----------------------------------------------------------------------

WHY_CONVOLUTION = (
    integer("h", "why.height", 1, 100_000),
    integer("w", "why.width", 1, 100_000),
    among("c", "why.channels", [1, 3]),
    integer("f", "why.maps", 1, 512),
    among("k", "why.kernel", [3, 5, 7]),
    integer("dx", "why.dx", -8, 8),
    integer("dy", "why.dy", -8, 8),
)

# --- Class ---------------------------------------------------------------------------------


def _apply_room(text: str | None) -> None:
    """A room code from a link; whether the room exists is the page's to say (one sentence)."""
    if text is None:
        st.session_state.pop(state.CLASS_ROOM, None)
        return
    code = classroom.clean_code(text)
    if st.session_state.get(state.CLASS_ROOM) != code:
        classroom.leave()
    st.session_state[state.CLASS_ROOM] = code


def _apply_host(text: str | None) -> None:
    """The host token from the lecturer's link, kept in the session only (the page checks it
    with the store). It is read from a link but never written back to the address, which the
    projector shows to the whole hall (docs/links.md)."""
    if text is None or not st.session_state.get(state.CLASS_ROOM):
        st.session_state.pop(state.CLASS_HOST, None)
    elif len(text) > 200:
        raise ValueError(text)
    else:
        st.session_state[state.CLASS_HOST] = text


CLASS = (
    Param("room", lambda: st.session_state.get(state.CLASS_ROOM), _apply_room),
    Param("host", lambda: None, _apply_host),
)

# url_path of a page (cnnviz.ui.registry) -> its parameters; pages not named have none.
BY_PAGE = {
    "draw_predict": DRAW_PREDICT,
    "convolution": CONVOLUTION,
    "pooling": POOLING,
    "softmax_backprop": SOFTMAX,
    "train_live": TRAIN_LIVE,
    "why_convolution": WHY_CONVOLUTION,
    "class": CLASS,
}
