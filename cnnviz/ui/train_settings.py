"""The Train live page's settings form: widgets <-> a :class:`TrainingConfig`.

:func:`settings_form` draws the preset radio and the ten settings, keeps them across page
changes (Streamlit forgets the widgets of a page that is not shown), and :func:`read_config`
turns the widgets into the recipe to train. Each setting's widget key starts with ``train_``.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import i18n
from cnnviz.data import list_datasets
from cnnviz.i18n import N_, _
from cnnviz.nn.recipes import PRESETS, TrainingConfig
from cnnviz.ui import state

# The page's presets: label -> the recipe in cnnviz.nn.recipes.PRESETS.
# The labels are the widgets' values (tests set them), shown translated (see _shown).
PRESET_LABELS = {N_("Quick demo"): "quick demo", N_("Tutorial recipe"): "tutorial"}
CUSTOM = N_("Custom")
ARCHITECTURES = {N_("Tutorial network"): "tutorial", N_("Stronger network"): "strong"}
OPTIMIZERS = {"SGD": "sgd", "Adam": "adam"}
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 1000.0]
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256]
TRAIN_SIZES = [500, 1000, 3000, 10000, 30000, "all"]
TEST_SIZES = [500, 1000, 2000, "all"]


def _label_of(choices: dict):
    return lambda value: next(label for label, v in choices.items() if v == value)


def _size_widget(size):
    return "all" if size is None else size


def _shown():
    """The ``format_func`` of a widget whose options are English values: each option in this
    run's language. The language is fixed now, because Streamlit's AppTest calls a widget's
    ``format_func`` again later, from the test's thread (where the language is English)."""
    text = i18n.translations(i18n.language()).gettext
    return lambda value: text(str(value))


def _size_shown():
    """The ``format_func`` of a subset-size slider: "all" translated, numbers as they are."""
    text = _shown()
    return lambda value: text("all") if value == "all" else str(value)


def _size_config(value):
    return None if value == "all" else int(value)


# widget key -> (config field, config value -> widget value, widget value -> config value)
FIELDS = {
    "train_dataset": ("dataset", str, str),
    "train_architecture": ("architecture", _label_of(ARCHITECTURES), ARCHITECTURES.get),
    "train_filters": ("filters", int, int),
    "train_optimizer": ("optimizer", _label_of(OPTIMIZERS), OPTIMIZERS.get),
    "train_learning_rate": ("learning_rate", float, float),
    "train_batch_size": ("batch_size", int, int),
    "train_epochs": ("epochs", int, int),
    "train_train_size": ("train_size", _size_widget, _size_config),
    "train_test_size": ("test_size", _size_widget, _size_config),
    "train_seed": ("seed", int, int),
}


def preset(label: str) -> TrainingConfig:
    """The recipe behind one of the page's preset labels ("Quick demo", "Tutorial recipe")."""
    return PRESETS[PRESET_LABELS[label]]


def apply_config(config: TrainingConfig) -> None:
    """Set every settings widget to ``config``'s value."""
    for key, (field, to_widget, _from_widget) in FIELDS.items():
        st.session_state[key] = to_widget(getattr(config, field))


def read_config() -> TrainingConfig:
    """The recipe the widgets show."""
    values = {
        field: from_widget(st.session_state[key])
        for key, (field, _to_widget, from_widget) in FIELDS.items()
    }
    return TrainingConfig(**values)


def _on_preset() -> None:
    label = st.session_state[state.TRAIN_PRESET]
    if label in PRESET_LABELS:
        apply_config(preset(label))


def _on_setting() -> None:
    st.session_state[state.TRAIN_PRESET] = CUSTOM


def _restore(datasets: list[str]) -> None:
    """Widgets lose their values when the person visits another page: restore them from the
    settings saved on the last run of this page (the Quick demo the first time)."""
    saved = st.session_state.get(state.TRAIN_SETTINGS)
    if state.TRAIN_PRESET not in st.session_state:
        if saved:
            for key, value in saved.items():
                st.session_state[key] = value
        else:
            st.session_state[state.TRAIN_PRESET] = "Quick demo"
            apply_config(preset("Quick demo"))
    if st.session_state.get("train_dataset") not in datasets:
        st.session_state["train_dataset"] = datasets[0]


def settings_form(disabled: bool, expanded: bool) -> None:
    """Draw the preset radio and the settings in an expander (``disabled`` while a run goes)."""
    datasets = list(list_datasets()) or ["MNIST"]
    _restore(datasets)
    change = {"on_change": _on_setting, "disabled": disabled}
    shown, size_shown = _shown(), _size_shown()
    with st.expander(_("Settings"), expanded=expanded):
        st.radio(
            _("Preset"),
            [*PRESET_LABELS, CUSTOM],
            key=state.TRAIN_PRESET,
            on_change=_on_preset,
            format_func=shown,
            horizontal=True,
            disabled=disabled,
            help=_(
                "Quick demo: 3000 images, 2 epochs, done in seconds. Tutorial recipe: the "
                "tutorial's Keras settings (SGD 0.001, batch size 1, 30 epochs, 60000 images)."
            ),
        )
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox(_("Dataset"), datasets, key="train_dataset", format_func=shown, **change)
        c1.selectbox(
            _("Network"), list(ARCHITECTURES), key="train_architecture", format_func=shown, **change
        )
        c2.slider(_("Filters in the first conv layer"), 1, 32, key="train_filters", **change)
        c2.radio(
            _("Optimizer"),
            list(OPTIMIZERS),
            key="train_optimizer",
            horizontal=True,
            format_func=shown,
            **change,
        )
        c3.select_slider(
            _("Learning rate"),
            LEARNING_RATES,
            key="train_learning_rate",
            help=_("Too large and the loss explodes: the run then stops itself."),
            **change,
        )
        c3.select_slider(_("Batch size"), BATCH_SIZES, key="train_batch_size", **change)
        c4.slider(_("Epochs"), 1, 30, key="train_epochs", **change)
        c4.select_slider(
            _("Training images"),
            TRAIN_SIZES,
            key="train_train_size",
            format_func=size_shown,
            **change,
        )
        c1.select_slider(
            _("Test images"),
            TEST_SIZES,
            key="train_test_size",
            format_func=size_shown,
            help=_("Also the validation data, as in the tutorial."),
            **change,
        )
        c2.number_input(_("Seed"), 0, 10_000, key="train_seed", **change)
    st.session_state[state.TRAIN_SETTINGS] = {
        key: st.session_state[key] for key in [state.TRAIN_PRESET, *FIELDS]
    }
