"""Train live: train the tutorial's CNN in the background and watch it learn."""

import streamlit as st

from cnnviz import nn
from cnnviz.data import list_datasets
from cnnviz.errors import InputError
from cnnviz.plots import predict as predict_plots
from cnnviz.plots import training as plots
from cnnviz.training import PRESETS, TrainingConfig, TrainingWorker
from cnnviz.ui import layout, models, state

layout.header(
    "Train live",
    "Train the tutorial's network (Conv2D → MaxPooling2D → Dense softmax) right here, in NumPy. "
    "It trains in the background: switch pages and draw with it while it learns.",
)

# ----------------------------------------------------------------------------- settings
ARCHITECTURES = {"Tutorial network": "tutorial", "Stronger network": "strong"}
OPTIMIZERS = {"SGD": "sgd", "Adam": "adam"}
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 1000.0]
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256]
TRAIN_SIZES = [500, 1000, 3000, 10000, 30000, "all"]
TEST_SIZES = [500, 1000, 2000, "all"]
PRESET_NAMES = [*PRESETS, "Custom"]
DATASETS = list(list_datasets()) or ["MNIST"]

# widget key -> (config field, config value -> widget value, widget value -> config value)
FIELDS = {
    "train_dataset": ("dataset", lambda v: v, lambda v: v),
    "train_architecture": (
        "architecture",
        lambda v: next(k for k, a in ARCHITECTURES.items() if a == v),
        lambda v: ARCHITECTURES[v],
    ),
    "train_filters": ("filters", int, int),
    "train_optimizer": (
        "optimizer",
        lambda v: next(k for k, o in OPTIMIZERS.items() if o == v),
        lambda v: OPTIMIZERS[v],
    ),
    "train_learning_rate": ("learning_rate", float, float),
    "train_batch_size": ("batch_size", int, int),
    "train_epochs": ("epochs", int, int),
    "train_train_size": (
        "train_size",
        lambda v: "all" if v is None else v,
        lambda v: None if v == "all" else int(v),
    ),
    "train_test_size": (
        "test_size",
        lambda v: "all" if v is None else v,
        lambda v: None if v == "all" else int(v),
    ),
    "train_seed": ("seed", int, int),
}


def apply_config(config: TrainingConfig) -> None:
    for key, (field, to_widget, _) in FIELDS.items():
        st.session_state[key] = to_widget(getattr(config, field))


def on_preset() -> None:
    name = st.session_state["train_preset"]
    if name in PRESETS:
        apply_config(PRESETS[name])


def on_setting() -> None:
    st.session_state["train_preset"] = "Custom"


def read_config() -> TrainingConfig:
    values = {
        field: from_widget(st.session_state[key]) for key, (field, _, from_widget) in FIELDS.items()
    }
    return TrainingConfig(**values)


# Widgets lose their values when the person visits another page: restore them from the
# settings saved on the last run of this page.
saved = st.session_state.get(state.TRAIN_SETTINGS)
if "train_preset" not in st.session_state:
    if saved:
        for key, value in saved.items():
            st.session_state[key] = value
    else:
        st.session_state["train_preset"] = "Quick demo"
        apply_config(PRESETS["Quick demo"])
if st.session_state.get("train_dataset") not in DATASETS:
    st.session_state["train_dataset"] = DATASETS[0]

worker: TrainingWorker | None = st.session_state.get(state.TRAINER)
running = worker is not None and worker.alive

with st.expander("Settings", expanded=worker is None):
    st.radio(
        "Preset",
        PRESET_NAMES,
        key="train_preset",
        on_change=on_preset,
        horizontal=True,
        disabled=running,
        help="Quick demo: 3000 images, 2 epochs, done in seconds. Tutorial recipe: the "
        "tutorial's Keras settings (SGD 0.001, batch size 1, 30 epochs, 60000 images).",
    )
    c1, c2, c3, c4 = st.columns(4)
    c1.selectbox("Dataset", DATASETS, key="train_dataset", on_change=on_setting, disabled=running)
    c1.selectbox(
        "Network",
        list(ARCHITECTURES),
        key="train_architecture",
        on_change=on_setting,
        disabled=running,
    )
    c2.slider(
        "Filters in the first conv layer",
        1,
        32,
        key="train_filters",
        on_change=on_setting,
        disabled=running,
    )
    c2.radio(
        "Optimizer",
        list(OPTIMIZERS),
        key="train_optimizer",
        on_change=on_setting,
        horizontal=True,
        disabled=running,
    )
    c3.select_slider(
        "Learning rate",
        LEARNING_RATES,
        key="train_learning_rate",
        on_change=on_setting,
        disabled=running,
        help="Too large and the loss explodes: the run then stops itself.",
    )
    c3.select_slider(
        "Batch size", BATCH_SIZES, key="train_batch_size", on_change=on_setting, disabled=running
    )
    c4.slider("Epochs", 1, 30, key="train_epochs", on_change=on_setting, disabled=running)
    c4.select_slider(
        "Training images",
        TRAIN_SIZES,
        key="train_train_size",
        on_change=on_setting,
        disabled=running,
    )
    c1.select_slider(
        "Test images",
        TEST_SIZES,
        key="train_test_size",
        on_change=on_setting,
        disabled=running,
        help="Also the validation data, as in the tutorial.",
    )
    c2.number_input("Seed", 0, 10_000, key="train_seed", on_change=on_setting, disabled=running)

st.session_state[state.TRAIN_SETTINGS] = {
    key: st.session_state[key] for key in ["train_preset", *FIELDS]
}


# ----------------------------------------------------------------------------- controls
def new_worker(paused: bool) -> None:
    old = st.session_state.get(state.TRAINER)
    if old is not None:
        old.stop()
    try:
        fresh = TrainingWorker(read_config(), owner_alive=layout.session_alive_probe())
    except InputError as exc:
        st.session_state["train_error"] = str(exc)
        return
    st.session_state.pop("train_error", None)
    st.session_state[state.TRAINER] = fresh
    if paused:
        fresh.step()
    else:
        fresh.start()


def on_start() -> None:
    new_worker(paused=False)


def on_step() -> None:
    current = st.session_state.get(state.TRAINER)
    if current is None or not current.alive:
        new_worker(paused=True)
    else:
        current.step()


# A click on a button drawn before a Reset (a stale page, a double click) finds no run: ignore it.
def on_pause() -> None:
    if (current := st.session_state.get(state.TRAINER)) is not None:
        current.pause()


def on_resume() -> None:
    if (current := st.session_state.get(state.TRAINER)) is not None:
        current.resume()


def on_stop() -> None:
    if (current := st.session_state.get(state.TRAINER)) is not None:
        current.stop()


def on_reset() -> None:
    current = st.session_state.pop(state.TRAINER, None)
    if current is not None:
        current.stop()


def on_use() -> None:
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    st.session_state[state.SESSION_MODEL] = current.model
    st.session_state[state.CURRENT_MODEL_CHOICE] = models.SESSION_LABEL


paused = running and worker.paused
b1, b2, b3, b4, b5 = st.columns(5)
b1.button(
    "Start",
    icon=":material/play_arrow:",
    on_click=on_start,
    disabled=running,
    type="primary",
    width="stretch",
)
if paused:
    b2.button("Resume", icon=":material/resume:", on_click=on_resume, width="stretch")
else:
    b2.button(
        "Pause", icon=":material/pause:", on_click=on_pause, disabled=not running, width="stretch"
    )
b3.button(
    "One batch",
    icon=":material/skip_next:",
    on_click=on_step,
    disabled=running and not paused,
    width="stretch",
    help="Pause, then train exactly one more batch.",
)
b4.button("Stop", icon=":material/stop:", on_click=on_stop, disabled=not running, width="stretch")
b5.button(
    "Reset",
    icon=":material/restart_alt:",
    on_click=on_reset,
    disabled=worker is None,
    width="stretch",
)

if "train_error" in st.session_state:
    st.error(st.session_state["train_error"])
if worker is None:
    st.info(
        "Choose a preset (or your own settings) and press **Start**; **Step one batch** "
        "trains a single batch at a time so you can watch each update."
    )
    st.stop()


# ----------------------------------------------------------------------------- live view
names = models.class_names_of(worker.model)
PLOT_CONFIG = {"displayModeBar": False}


def heavy_figures(current: TrainingWorker, s) -> dict:
    """Filters, sample and feature-map figures, rebuilt only when the worker published new
    ones (building figures holds Python's lock, which the training thread also needs)."""
    cache = st.session_state.setdefault("train_figures", {})
    stamp = (id(current), s.heavy_version)
    if cache.get("stamp") == stamp:
        return cache
    cache.clear()
    cache["stamp"] = stamp
    if s.filters is not None:
        cache["filters"] = plots.filters_grid(
            s.filters[:, :, :16], title="Learned filters of the first layer"
        )
    if s.sample_maps:
        cache["image"] = predict_plots.image_figure(s.sample_image / 255.0, height=240)
        if s.sample_probs is not None:
            cache["probs"] = predict_plots.probability_bars(s.sample_probs, names, height=240)
        name, fmap = s.sample_maps[0]
        cache["maps"] = predict_plots.feature_map_grid(
            fmap, title=layout.layer_caption(name, fmap.shape), columns=8, max_maps=16
        )
    return cache


@st.fragment(run_every=0.5 if running else None)
def live_view() -> None:
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    step_text = f"epoch {s.epoch}/{s.epochs} · batch {s.batch}/{s.steps_per_epoch}"
    st.progress(s.progress, text=f"**{s.status.capitalize()}** · {step_text}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Samples / s", f"{s.samples_per_second:,.0f}")
    m2.metric("Time left", layout.seconds_text(s.seconds_left) if not s.done else "—")
    m3.metric("Loss (this epoch)", f"{s.batch_curve[-1][1]:.4f}" if s.batch_curve else "—")
    m4.metric("Accuracy (this epoch)", f"{s.batch_curve[-1][2]:.1%}" if s.batch_curve else "—")
    if s.done and running:
        st.rerun()  # the run just ended: redraw the whole page with the results


@st.fragment(run_every=1.0 if running else None)
def curves_view() -> None:
    """The curves and the epoch log, once a second: every redraw of a chart costs the browser
    far more than a number does, and the browser shares the machine with the training (on a
    2-core laptop, curves redrawn twice a second slowed training from 80% to 74% of its
    headless speed: bench/app_training_speed.py)."""
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    st.plotly_chart(
        plots.training_curves(s.batch_curve, s.history),
        width="stretch",
        config=PLOT_CONFIG,
        key="live_curves",
    )
    st.markdown("**Epoch log**")
    st.code(
        "\n".join(s.log[-12:]) or "(the log starts with the first epoch)",
        language=None,
        wrap_lines=True,
    )


@st.fragment(run_every=3.0 if running else None)
def learned_view() -> None:
    """Filters and one digit's feature maps: they change slowly, so every 3 s is enough."""
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    figures = heavy_figures(current, s)
    if "filters" in figures:
        st.plotly_chart(figures["filters"], width="stretch", config=PLOT_CONFIG)
    if "maps" in figures:
        st.markdown(f"**One test digit through the network** (true label: {names[s.sample_label]})")
        img_col, probs_col = st.columns([1, 2.5])
        img_col.plotly_chart(figures["image"], width="stretch", config=PLOT_CONFIG)
        if "probs" in figures:
            probs_col.plotly_chart(figures["probs"], width="stretch", config=PLOT_CONFIG)
        st.plotly_chart(figures["maps"], width="stretch", config=PLOT_CONFIG)


live_view()
curves_view()
learned_view()

# ----------------------------------------------------------------------------- results
if running:
    st.stop()
snap = worker.snapshot()
if snap.status == "diverged":
    st.error(snap.message)
elif snap.status == "failed":
    st.error(snap.message)
elif snap.status in ("finished", "stopped"):
    st.success(snap.message)
result = snap.result
if result is None:
    st.stop()

st.subheader("Results on the test images")
r1, r2, r3 = st.columns([1, 1, 2])
r1.metric("Test accuracy", f"{result.test_accuracy:.2%}")
r2.metric("Test loss", f"{result.test_loss:.4f}")
with r3:
    use_done = st.session_state.get(state.SESSION_MODEL) is worker.model
    st.button(
        "Using this model on the other pages" if use_done else "Use this model on the other pages",
        on_click=on_use,
        disabled=use_done,
        type="primary",
        width="stretch",
    )
    st.download_button(
        "Download the model (.npz)",
        icon=":material/download:",
        data=nn.to_bytes(worker.model),
        file_name="cnnviz-model.npz",
        mime="application/octet-stream",
        width="stretch",
    )
conf_col, miss_col = st.columns([1.15, 1], gap="large")
conf_col.plotly_chart(
    plots.confusion_figure(result.confusion, names), width="stretch", config=PLOT_CONFIG
)
if result.misclassified:
    true = [t for _, t, _ in result.misclassified]
    pred = [p for _, _, p in result.misclassified]
    miss_col.plotly_chart(
        plots.misclassified_gallery(
            result.test_images[:18], true[:18], pred[:18], names, columns=6, width_px=400
        ),
        width="stretch",
        config=PLOT_CONFIG,
    )
else:
    miss_col.success("No test image was misclassified.")
