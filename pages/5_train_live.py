"""Train live: train the tutorial's CNN in the background and watch it learn."""

import streamlit as st

from cnnviz import i18n, nn
from cnnviz.i18n import N_, _
from cnnviz.plots import predict as predict_plots
from cnnviz.plots import training as plots
from cnnviz.training import TrainingWorker
from cnnviz.ui import language, layout, models, state, train_controls, train_settings, viewport

layout.header(
    _("Train live"),
    _(
        "Train the tutorial's network (Conv2D → MaxPooling2D → Dense softmax) right here, in "
        "NumPy. It trains in the background: switch pages and draw with it while it learns."
    ),
)

# A run's status (cnnviz.training.Snapshot.status) as the progress bar names it.
STATUS = {
    "ready": N_("Ready"),
    "running": N_("Running"),
    "paused": N_("Paused"),
    "stopping": N_("Stopping"),
    "finished": N_("Finished"),
    "stopped": N_("Stopped"),
    "diverged": N_("Diverged"),
    "failed": N_("Failed"),
}

worker: TrainingWorker | None = st.session_state.get(state.TRAINER)
running = worker is not None and worker.alive
train_settings.settings_form(disabled=running, expanded=worker is None)


train_controls.controls(worker)
if state.TRAIN_ERROR in st.session_state:
    template, params = st.session_state[state.TRAIN_ERROR]
    st.error(_(template).format(**params) if params else _(template))
if worker is None:
    st.info(
        _(
            "Choose a preset (or your own settings) and press **Start**; **One batch** "
            "trains a single batch at a time so you can watch each update."
        )
    )
    st.stop()


# ----------------------------------------------------------------------------- live view
names = [_(name) for name in models.class_names_of(worker.model)]  # in the reader's language


def heavy_figures(current: TrainingWorker, s) -> dict:
    """Filters, sample and feature-map figures, rebuilt only when the worker published new
    ones (building figures holds Python's lock, which the training thread also needs)."""
    cache = st.session_state.setdefault(state.TRAIN_FIGURES, {})
    # the figures carry words, and on a phone are built for its width
    stamp = (id(current), s.heavy_version, i18n.language(), viewport.width(880))
    if cache.get("stamp") == stamp:
        return cache
    cache.clear()
    cache["stamp"] = stamp
    if s.filters is not None:
        cache["filters"] = plots.filters_grid(
            s.filters[:, :, :16],
            title=_("Learned filters of the first layer"),
            columns=4 if viewport.narrow() else 8,
            width_px=viewport.width(880),
        )
    if s.sample_maps:
        cache["image"] = predict_plots.image_figure(s.sample_image / 255.0, height=240)
        if s.sample_probs is not None:
            cache["probs"] = predict_plots.probability_bars(s.sample_probs, names, height=240)
        name, fmap = s.sample_maps[0]
        cache["maps"] = predict_plots.feature_map_grid(
            fmap,
            title=layout.layer_caption(name, fmap.shape),
            columns=4 if viewport.narrow() else 8,
            max_maps=16,
            width_px=viewport.width(880),
        )
    return cache


@st.fragment(run_every=0.5 if running else None)
def live_view() -> None:
    language.restore()
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    status = _(STATUS[s.status]) if s.status in STATUS else s.status.capitalize()
    text = _("**{status}** · epoch {epoch}/{epochs} · batch {batch}/{steps}").format(
        status=status, epoch=s.epoch, epochs=s.epochs, batch=s.batch, steps=s.steps_per_epoch
    )
    st.progress(s.progress, text=text)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Samples / s"), f"{s.samples_per_second:,.0f}")
    m2.metric(_("Time left"), layout.seconds_text(s.seconds_left) if not s.done else "—")
    m3.metric(_("Loss (this epoch)"), f"{s.batch_curve[-1][1]:.4f}" if s.batch_curve else "—")
    m4.metric(_("Accuracy (this epoch)"), f"{s.batch_curve[-1][2]:.1%}" if s.batch_curve else "—")
    if s.done and running:
        st.rerun()  # the run just ended: redraw the whole page with the results


@st.fragment(run_every=1.0 if running else None)
def curves_view() -> None:
    """The curves and the epoch log, once a second: every redraw of a chart costs the browser
    far more than a number does, and the browser shares the machine with the training (on a
    2-core laptop, curves redrawn twice a second slowed training from 80% to 74% of its
    headless speed: bench/app_training_speed.py)."""
    language.restore()
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    layout.chart(
        plots.training_curves(s.batch_curve, s.history), key="live_curves", width="stretch"
    )
    st.markdown(_("**Epoch log**"))
    st.code(  # the log lines stay as Keras prints them; only the placeholder is translated
        "\n".join(s.log[-12:]) or _("(the log starts with the first epoch)"),
        language=None,
        wrap_lines=True,
    )


@st.fragment(run_every=3.0 if running else None)
def learned_view() -> None:
    """Filters and one digit's feature maps: they change slowly, so every 3 s is enough."""
    language.restore()
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    s = current.snapshot()
    figures = heavy_figures(current, s)
    if "filters" in figures:
        layout.chart(figures["filters"], width="stretch")
    if "maps" in figures:
        st.markdown(
            _("**One test digit through the network** (true label: {label})").format(
                label=names[s.sample_label]
            )
        )
        img_col, probs_col = st.columns([1, 2.5])
        layout.chart(figures["image"], width="stretch", where=img_col)
        if "probs" in figures:
            layout.chart(figures["probs"], width="stretch", where=probs_col)
        layout.chart(figures["maps"], width="stretch")


live_view()
curves_view()
learned_view()


# ----------------------------------------------------------------------------- results
def results() -> None:
    """The finished run's message, test scores, the model's buttons, confusions and mistakes."""
    snap = worker.snapshot()
    if snap.status in ("diverged", "failed"):
        st.error(snap.shown_message())
    elif snap.status in ("finished", "stopped"):
        st.success(snap.shown_message())
    result = snap.result
    if result is None:
        return
    st.subheader(_("Results on the test images"))
    r1, r2, r3 = st.columns([1, 1, 2])
    r1.metric(_("Test accuracy"), f"{result.test_accuracy:.2%}")
    r2.metric(_("Test loss"), f"{result.test_loss:.4f}")
    use_done = st.session_state.get(state.SESSION_MODEL) is worker.model
    r3.button(
        _("Using this model on the other pages")
        if use_done
        else _("Use this model on the other pages"),
        on_click=train_controls.on_use,
        disabled=use_done,
        type="primary",
        width="stretch",
    )
    r3.download_button(
        _("Download the model (.npz)"),
        icon=":material/download:",
        data=nn.to_bytes(worker.model),
        # i18n: a file name: ASCII letters, digits and dashes only (no diacritics).
        file_name=_("cnnviz-model.npz"),
        mime="application/octet-stream",
        width="stretch",
    )
    conf_col, miss_col = st.columns([1.15, 1], gap="large")
    confusion = plots.confusion_figure(result.confusion, names)
    layout.chart(confusion, width="stretch", where=conf_col)
    if not result.misclassified:
        miss_col.success(_("No test image was misclassified."))
        return
    true = [t for _, t, _ in result.misclassified][:18]
    pred = [p for _, _, p in result.misclassified][:18]
    gallery = plots.misclassified_gallery(
        result.test_images[:18], true, pred, names, columns=6, width_px=400
    )
    layout.chart(gallery, width="stretch", where=miss_col)


if not running:
    results()
