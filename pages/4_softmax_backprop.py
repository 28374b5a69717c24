"""Softmax & backprop: one training step of the current model on the current input, dissected."""

import streamlit as st

from cnnviz import lessons
from cnnviz.errors import InputError
from cnnviz.i18n import _, number
from cnnviz.plots import heatmaps
from cnnviz.plots import lessons as charts
from cnnviz.ui import inputs, layout, models, viewport
from cnnviz.ui.softmax_parts import layers_table, step_settings

layout.header(
    _("Softmax & backprop"),
    _(
        "Follow **one** training step of the network on **one** image: forward to the softmax "
        "probabilities and the loss, then the gradients flowing back through Dense → pooling → "
        "conv, and the filters after one SGD step. Everything is computed on a **copy** of the "
        "model: the model you use on the other pages does not change."
    ),
)

image, source, known_label = inputs.current_image()
top = st.columns([1, 1.6])
with top[1]:
    name, model = models.model_picker(key="softmax.model")
if image is None:
    inputs.ask_for_input(top[0], key="softmax.random")
    st.stop()
if model is None:
    st.stop()

with top[0]:
    layout.chart(
        heatmaps.heatmap(
            lessons.to_pixel_values(image), kind="image", max_px=200, show_colorbar=False
        ),
        key="softmax.fig_input",
    )
    st.caption(
        _("Input: {source} (the model sees x/255 − 0.5)").format(
            source=inputs.source_text(source) or _("drawing")
        )
    )
    inputs.random_digit_button(key="softmax.random")
with top[1]:
    label, learning_rate = step_settings(model, image, known_label)

try:
    step = lessons.dissect_step(model, image, label, learning_rate)
except InputError as error:
    st.error(str(error))
    st.stop()

# --- forward ---------------------------------------------------------------------------------
st.divider()
st.header(_("Forward: from pixels to a probability per digit"))
layers_table(step, name)
width = viewport.width(heatmaps.CONTENT_WIDTH)  # a phone: its own, else the page's
flat = step.first("Flatten")
if flat is not None:
    vector = step.layers[flat].output
    layout.chart(
        charts.vector_strip(
            vector,
            title=_("Flattened: {count} numbers in one row").format(count=vector.size),
            width=width,
        ),
        key="softmax.fig_flat",
    )
    st.caption(
        _("Flatten lays the pooled feature maps out as one long vector for the Dense layer.")
    )

trace = step.softmax
layout.chart(
    charts.softmax_pipeline(trace, width=width),
    key="softmax.fig_pipeline",
)
cols = st.columns(3)
cols[0].metric(_("Prediction"), step.predicted)
cols[1].metric(_("p(true label {n})").format(n=trace.label), f"{trace.probs[trace.label]:.4g}")
cols[2].metric(_("Cross-entropy loss"), f"{trace.loss:.4g}")
st.latex(
    rf"L = -\log p_{{{trace.label}}} = -\log {trace.probs[trace.label]:.4f} = {trace.loss:.4f}"
)

# --- backward --------------------------------------------------------------------------------
st.divider()
st.header(_("Backward: the gradients, layer by layer"))
st.markdown(
    _(
        "For softmax with cross-entropy the gradient at the logits is simply "
        "**p − onehot(label)**: push the true class up, every other class down."
    )
)
layout.chart(
    charts.class_bars(
        trace.grad_logits, trace.label, "dL/dlogits = p − onehot", yaxis=_("gradient")
    ),
    key="softmax.fig_grad_logits",
)

pool = step.first("MaxPooling2D")
if pool is None:
    pool = step.first("AveragePooling2D")
if pool is not None:
    layer = step.layers[pool]
    channels = layer.output.shape[-1]
    st.subheader(_("Through the pooling layer ({name})").format(name=layer.name))
    channel = st.columns([1, 2])[0].number_input(
        _("Feature map"),
        0,
        channels - 1,
        0,
        key="softmax.channel",
        help=_("Which of the layer's feature maps to show."),
    )
    st.markdown(
        _(
            "The Dense layer sends a gradient to every pooled number; max pooling routes each "
            "one back to the position that won its window, the others get 0."
        )
    )
    cols = st.columns([1, 1.4])
    with cols[0]:
        st.markdown(
            _("**dL/d(pooled)**: {shape}").format(
                shape=" × ".join(str(s) for s in layer.output_shape)
            )
        )
        layout.chart(
            heatmaps.heatmap(
                layer.grad_output[:, :, channel],
                kind="signed",
                max_px=220,
                colorbar_title=_("gradient"),
            ),
            key="softmax.fig_pool_grad",
        )
    with cols[1]:
        routed = layer.grad_input
        st.markdown(
            _("**routed back, dL/d(conv output)**: {shape}").format(
                shape=" × ".join(map(str, routed.shape))
            )
        )
        layout.chart(
            heatmaps.heatmap(
                routed[:, :, channel], kind="signed", max_px=330, colorbar_title=_("gradient")
            ),
            key="softmax.fig_pool_routed",
        )
else:
    st.info(_("This model has no pooling layer, so there is no routed pooling gradient to show."))

if step.conv_index is not None:
    conv = step.layers[step.conv_index]
    count = step.kernel_grads.shape[0]
    st.subheader(_("Into the filters ({name}): dL/dfilters").format(name=conv.name))
    st.markdown(
        _(
            "Each filter's gradient adds up, over every position, *gradient at that output "
            "pixel × the 3×3 image patch under the filter* (the tutorial's "
            "`d_L_d_filters += d_L_d_out[i, j, f] * im_region`)."
        )
    )
    shown = min(count, 8)
    titles = [_("filter {i}").format(i=i) for i in range(shown)]
    layout.chart(
        heatmaps.heatmap_grid(
            list(step.kernel_grads[:shown]),
            titles,
            kind="signed",
            columns=heatmaps.grid_columns(4, width),
            max_px=150,
            colorbar_title="dL/dw",
            max_width=width,
        ),
        key="softmax.fig_filter_grads",
    )
    if count > shown:
        st.caption(
            _("The first {shown} of {count} filters (first input channel).").format(
                shown=shown, count=count
            )
        )

    # --- one SGD step ------------------------------------------------------------------------
    st.divider()
    st.header(_("One SGD step: w ← w − η · dL/dw"))
    before = [(k, _("before {i}").format(i=i)) for i, k in enumerate(step.kernels_before[:shown])]
    after = [(k, _("after {i}").format(i=i)) for i, k in enumerate(step.kernels_after[:shown])]
    if viewport.narrow():  # a phone: a row per filter, before beside after
        pairs = [panel for pair in zip(before, after, strict=True) for panel in pair]
        caption = _(
            "Left: each filter now; right: the same filter after one step with η = {rate}. "
            "One colour scale for all."
        )
    else:
        pairs = before + after
        caption = _(
            "Top row: the filters now; bottom row: after one step with η = {rate}. "
            "One colour scale for both rows."
        )
    layout.chart(
        heatmaps.heatmap_grid(
            [kernel for kernel, _name in pairs],
            [name for _kernel, name in pairs],
            kind="signed",
            columns=2 if viewport.narrow() else min(shown, 8),
            max_px=100,
            colorbar_title=_("weight"),
            numbers=False,
            max_width=width,
        ),
        key="softmax.fig_before_after",
    )
    st.caption(caption.format(rate=number(learning_rate)))
else:
    st.info(_("This model has no convolution layer, so there are no filters to update."))

cols = st.columns(2)
cols[0].metric(_("Loss before the step"), f"{step.loss:.4g}")
cols[1].metric(
    _("Loss after the step (same image)"),
    f"{step.loss_after:.4g}",
    delta=f"{step.loss_change:.3g}",
    delta_color="inverse",
)
layout.chart(
    charts.before_after_bars(trace.probs, step.probs_after, trace.label),
    key="softmax.fig_probs_after",
)
st.caption(
    _(
        "The step updates every weight (filters and Dense) of the copy, then runs the same image "
        "again: the true class's probability goes up. Too large a learning rate overshoots."
    )
)
