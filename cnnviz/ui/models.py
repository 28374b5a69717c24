"""The model picker shared by the pages: bundled nets, this session's trained net, an upload.

Pages call :func:`model_picker` (draws the picker, returns the chosen model) or
:func:`current_model` (no widgets: the model the picker chose last, for pages that only
read it). The choice lives in ``st.session_state[state.CURRENT_MODEL_CHOICE]`` so every page
uses the same model.

>>> name, model = model_picker()          # in a page
>>> if model is None: st.info(NO_MODEL)   # nothing to run yet
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from cnnviz import nn, preprocess
from cnnviz.data import load_dataset
from cnnviz.errors import InputError
from cnnviz.i18n import N_, _
from cnnviz.nn import inspect, npz
from cnnviz.nn.recipes import PRESETS, build_model, take_subset
from cnnviz.ui import state

# The picker's choices are these English labels (kept in the session and compared in code);
# model_label shows them in the reader's language. The bundled ones are named in nn.recipes.
SESSION_LABEL = N_("Trained in this session")
UPLOADED_LABEL = N_("Uploaded .npz")
QUICK_LABEL = N_("Quick model (trained at start-up)")
BUNDLED_LABELS = (N_("Tutorial network"), N_("Stronger network"))  # nn.recipes.BUNDLED's names
NO_MODEL = N_(
    "No model is available yet: train one on the Train live page, or upload a .npz model "
    "saved by cnnviz."
)


def model_label(choice: str | None) -> str:
    """A picker choice (an English label) in the current language."""
    return _(choice) if choice else ""


@st.cache_resource(show_spinner=False)  # load_bundled shows the spinner in the reader's language
def _load_bundled(path: str) -> nn.Sequential:
    return nn.load_model(path)


def load_bundled(path: str) -> nn.Sequential:
    """A bundled model, loaded once per process.

    Shared by every session: read it, never train it (copy it first with ``model.copy()``).
    """
    with st.spinner(_("Loading a bundled model…")):
        return _load_bundled(path)


def quick_model() -> nn.Sequential:
    """A tutorial network trained with the "quick demo" recipe (a few seconds), for when no
    model is bundled; trained once per process."""
    with st.spinner(_("No bundled model found: training a small one (a few seconds)…")):
        return _quick_model()


@st.cache_resource(show_spinner=False)  # quick_model shows the spinner in the reader's language
def _quick_model() -> nn.Sequential:
    recipe = PRESETS["quick demo"]
    (x_train, y_train), _test = load_dataset(recipe.dataset)
    x, y = take_subset(x_train, y_train, recipe.train_size, np.random.default_rng(recipe.seed))
    model = build_model(recipe)
    model.fit(
        nn.ScaledImages(x),
        y.astype(np.int64),
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        verbose=0,
        seed=recipe.seed,
    )
    return model


def _session_model() -> nn.Sequential | None:
    """The model trained in this session: the finished one, or a copy of a run in progress."""
    model = st.session_state.get(state.SESSION_MODEL)
    if model is not None:
        return model
    worker = st.session_state.get(state.TRAINER)
    if worker is not None and getattr(worker, "alive", False):
        return worker.model_copy()
    return None


def model_options() -> dict[str, object]:
    """label -> a loader returning the model; only the choices available right now."""
    options: dict[str, object] = {}
    bundled = nn.bundled_models()
    for label, path in bundled.items():
        options[label] = lambda p=path: load_bundled(str(p))
    if st.session_state.get(state.SESSION_MODEL) is not None or getattr(
        st.session_state.get(state.TRAINER), "alive", False
    ):
        options[SESSION_LABEL] = _session_model
    if st.session_state.get(state.UPLOADED_MODEL) is not None:
        options[UPLOADED_LABEL] = lambda: st.session_state.get(state.UPLOADED_MODEL)
    if not bundled:
        options[QUICK_LABEL] = quick_model
    return options


def current_model() -> tuple[str | None, nn.Sequential | None]:
    """(label, model) the picker chose last (the first available one by default); no widgets."""
    options = model_options()
    if not options:
        return None, None
    choice = st.session_state.get(state.CURRENT_MODEL_CHOICE)
    if choice not in options:
        choice = next(iter(options))
    return choice, options[choice]()


def _on_pick(widget_key: str) -> None:
    st.session_state[state.CURRENT_MODEL_CHOICE] = st.session_state[widget_key]


def model_picker(where=None, key: str = "model_picker") -> tuple[str | None, nn.Sequential | None]:
    """Draw the model picker (a select box and a .npz uploader) in ``where`` (default: the page).

    Returns (label, model), or (None, None) when no model is available. A bad upload shows one
    st.error line and keeps the previous choice.
    """
    where = where or st
    box = where.container()
    _upload_box(where.expander(_("Upload a model (.npz)")), key=f"{key}_upload")
    options = model_options()
    if not options:
        box.info(_(NO_MODEL))
        return None, None
    labels = list(options)
    choice = st.session_state.get(state.CURRENT_MODEL_CHOICE)
    if choice not in labels:
        choice = labels[0]
        st.session_state[state.CURRENT_MODEL_CHOICE] = choice
    widget_key = f"{key}_select"
    if st.session_state.get(widget_key) not in labels or st.session_state[widget_key] != choice:
        st.session_state[widget_key] = choice
    box.selectbox(
        _("Model"),
        labels,
        format_func=model_label,
        key=widget_key,
        on_change=_on_pick,
        args=(widget_key,),
        help=_(
            "The bundled networks were trained on MNIST; train your own on the Train live page."
        ),
    )
    try:
        model = options[choice]()
    except InputError as exc:  # a bundled file that cannot be read
        box.error(str(exc))
        return None, None
    if choice == QUICK_LABEL:
        box.caption(
            _("No bundled model was found, so a small one was trained when the app started.")
        )
    return choice, model


def _upload_box(where, key: str) -> None:
    """A .npz uploader; a new good file becomes the current model, a bad one shows st.error."""
    upload = where.file_uploader(_("A model saved by cnnviz (.npz)"), type=["npz"], key=key)
    if upload is None:
        return
    seen_key = f"{key}_seen"
    if st.session_state.get(seen_key) == upload.file_id:
        return  # already loaded (or already refused) on an earlier run
    st.session_state[seen_key] = upload.file_id
    data = upload.getvalue()
    try:
        model = nn.load_model(data)
        _check_mnist_shaped(model)
    except InputError as exc:
        where.error(f"{Path(upload.name).name}: {exc}")
        return
    except Exception:  # a damaged file the loader did not foresee (e.g. a corrupt zlib stream)
        where.error(f"{Path(upload.name).name}: {_(npz.DAMAGED)}")
        return
    st.session_state[state.UPLOADED_MODEL] = model
    st.session_state[state.CURRENT_MODEL_CHOICE] = UPLOADED_LABEL


def _check_mnist_shaped(model: nn.Sequential) -> None:
    shape = tuple(model.layers[0].input_shape or ())
    if shape != (28, 28, 1):
        raise InputError(
            "This model takes images shaped {shape}; cnnviz needs 28x28 grey images.",
            shape=str(shape),
        )
    if tuple(model.layers[-1].output_shape or ()) != (10,):
        raise InputError("This model does not have 10 outputs, one per digit.")
    if getattr(model.layers[-1], "activation", None) != "softmax":
        raise InputError("This model does not end with a softmax, so it gives no probabilities.")


def analyse(
    model: nn.Sequential, image: np.ndarray
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Run the current input through ``model`` (a pure trace: shared models need no lock).

    image: (28, 28) float32 in [0, 1] (ink bright). Returns (probabilities (10,),
    [(layer name, output (H, W, C))] for every conv / pooling layer).
    """
    x = preprocess.to_model_input(image)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        trace = model.trace(x)
    probs = np.array(trace.output[0], dtype=np.float64)
    if not np.all(np.isfinite(probs)):
        raise InputError(
            "This model's outputs are not finite numbers (its weights are too large); "
            "choose or train another model."
        )
    return probs, inspect.maps_of(trace)


def class_names_of(model: nn.Sequential | None) -> list[str]:
    """The model's class names (saved by the Train live page), else the digits 0-9."""
    metadata = getattr(model, "metadata", None)
    names = metadata.get("class_names") if isinstance(metadata, dict) else None
    if isinstance(names, (list, tuple)) and len(names) == 10:  # an uploaded file may hold anything
        return [str(name)[:40] for name in names]
    return [str(d) for d in range(10)]
