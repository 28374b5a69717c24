"""Pooling: shrink a feature map by keeping one number per window (max, average or min)."""

import streamlit as st

from cnnviz import lessons, ops
from cnnviz.errors import InputError
from cnnviz.i18n import N_, _
from cnnviz.plots import heatmaps
from cnnviz.plots.heatmaps import Box
from cnnviz.ui import conv_settings, layout, state, stepper, views

# Radio values (English ids, shown translated with format_func=_).
FROM_CONV = views.FROM_CONV
MODES = {N_("max"): "max", N_("average"): "avg", N_("min"): "min"}
GRADIENTS = {N_("all ones"): "ones", N_("random whole numbers"): "random"}
# The names of lessons.POOL_EXAMPLES, for the catalog.
EXAMPLE_NAMES = (N_("4x4 example (like the tutorial)"), N_("6x6 example"))
WINDOW_METRIC = {
    "max": N_("max of this window"),
    "average": N_("average of this window"),
    "min": N_("min of this window"),
}

layout.header(
    _("Pooling"),
    _(
        "Neighbouring pixels of a feature map hold nearly the same numbers. Pooling cuts the map "
        "into windows of size × size (they do not overlap) and keeps **one** number per window: "
        "the **max**, the **average** or the **min**. A 2×2 max pooling halves the height and "
        "the width."
    ),
)

conv_output = st.session_state.get(state.LAST_CONV_OUTPUT)
sources = ([FROM_CONV] if conv_output is not None else []) + list(lessons.POOL_EXAMPLES)
controls = st.columns([1.4, 1, 1])
with controls[0]:
    source = st.radio(_("Input"), sources, key="pool.input", format_func=_)
    if conv_output is None:
        st.caption(_("Tip: run a filter on the Convolution page and its output appears here."))
with controls[1]:
    mode_label = st.radio(
        _("Pooling"), tuple(MODES), horizontal=True, key="pool.mode", format_func=_
    )
with controls[2]:
    size = st.radio(_("Size"), (2, 3), horizontal=True, key="pool.size")
mode = MODES[mode_label]

if source == FROM_CONV:
    x = conv_output
    st.caption(
        _("From the Convolution page: {description}.").format(
            description=conv_settings.describe(st.session_state.get(state.LAST_CONV_DESCRIPTION))
        )
    )
else:
    x = lessons.POOL_EXAMPLES[source]
channel = 0
if x.ndim == 3:
    channel = st.number_input(_("Channel"), 0, x.shape[2] - 1, 0, key="pool.channel")

try:
    pooled = ops.pool2d(x, size, mode)
except InputError as error:
    st.error(str(error))
    st.stop()

plane = x if x.ndim == 2 else x[:, :, channel]
out_plane = pooled if pooled.ndim == 2 else pooled[:, :, channel]
channels = 1 if x.ndim == 2 else x.shape[2]
h, w = x.shape[:2]
st.latex(  # two lines, so a phone shows all of it
    rf"\begin{{aligned}}(H, W, C) &= ({h}, {w}, {channels}) \\ \longrightarrow\; "
    rf"\left(\lfloor H/{size} \rfloor, \lfloor W/{size} \rfloor, C\right) &= "
    rf"({out_plane.shape[0]}, {out_plane.shape[1]}, {channels})\end{{aligned}}"
)
if h % size or w % size:
    st.caption(
        _(
            "{h}×{w} does not divide by {size}: the last rows/columns that do not fill a whole "
            "window are dropped (as Keras does)."
        ).format(h=h, w=w, size=size)
    )

# --- step through the windows ----------------------------------------------------------------
st.divider()
st.header(_("Step through the windows"))
out_shape = out_plane.shape
stepper.keep_inside("pool", out_shape)

playing = stepper.play_toggle("pool", _("▶ Play: step through every window"))
kind = "signed" if plane.min() < 0 else "positive"


@st.fragment(run_every=0.8 if playing else None)
def step_view():
    row, col = stepper.tick("pool", out_shape, playing)
    trace = ops.pool_trace(x, row, col, size, mode, channel)

    figs = st.columns([1.2, 1])
    with figs[0]:
        st.subheader(_("Input: {h}×{w}").format(h=h, w=w))
        layout.chart(
            heatmaps.heatmap(
                plane,
                kind=kind,
                boxes=[Box(trace.top, trace.left, size, size)],
                marker=trace.chosen,
                max_px=300,
                colorbar_title=_("value"),
            ),
            key="pool.fig_input",
        )
    with figs[1]:
        st.subheader(_("Pooled: {h}×{w}").format(h=out_shape[0], w=out_shape[1]))
        layout.chart(
            heatmaps.heatmap(
                out_plane,
                kind=kind,
                boxes=[Box(row, col, 1, 1)],
                max_px=260,
                zmin=heatmaps.scale_for(kind, plane)["zmin"],
                zmax=heatmaps.scale_for(kind, plane)["zmax"],
                colorbar_title=_("value"),
                clickable=True,
            ),
            key="pool.fig_output",
            on_select=lambda: stepper.clicked("pool", out_shape),
            selection_mode="points",
        )
    chosen = (
        _("The red ring marks the element it keeps, at input ({row}, {col}).").format(
            row=trace.chosen[0], col=trace.chosen[1]
        )
        if trace.chosen
        else _("Average pooling uses every element.")
    )
    st.markdown(
        _(
            "Orange box: window ({row}, {col}) of the input and its output cell (click a pooled "
            "cell to jump to it). **{mode} = {value}**."
        ).format(row=row, col=col, mode=_(mode_label), value=heatmaps.format_number(trace.value))
        + " "
        + chosen
    )
    cols = st.columns([1, 2])
    with cols[0]:
        layout.chart(
            heatmaps.heatmap(
                trace.window,
                kind=kind,
                max_px=150,
                show_colorbar=False,
                marker=None
                if trace.chosen is None
                else (trace.chosen[0] - trace.top, trace.chosen[1] - trace.left),
            ),
            key="pool.fig_window",
        )
    cols[1].metric(_(WINDOW_METRIC[mode_label]), heatmaps.format_number(trace.value))


step_view()

# --- backward --------------------------------------------------------------------------------
st.divider()
st.header(_("Backward: where does the gradient go?"))
st.markdown(
    _(
        "During training a gradient dL/d(output) arrives for every pooled cell. Max (or min) "
        "pooling passes it back **only to the element it chose**, every other input gets 0, as "
        "the tutorial's `MaxPool2.backprop` does. Average pooling shares it equally over the "
        "window."
    )
)
gradient_label = st.radio(
    _("Upstream gradient"), tuple(GRADIENTS), horizontal=True, key="pool.grad", format_func=_
)
grad_out = lessons.upstream_gradient(out_plane.shape, GRADIENTS[gradient_label])
grad_in = ops.pool2d_backward(plane, grad_out, size, mode)
cols = st.columns([1, 1.4])
with cols[0]:
    st.subheader("dL/d(pooled)")
    layout.chart(
        heatmaps.heatmap(grad_out, kind="signed", max_px=220, colorbar_title=_("gradient")),
        key="pool.fig_grad_out",
    )
with cols[1]:
    st.subheader("dL/d(input)")
    corners = lessons.pool_windows(out_shape, size) if out_shape[0] * out_shape[1] <= 64 else []
    windows = [Box(top, left, size, size, color="#9b9b9b", line_width=2) for top, left in corners]
    layout.chart(
        heatmaps.heatmap(
            grad_in, kind="signed", max_px=330, boxes=windows, colorbar_title=_("gradient")
        ),
        key="pool.fig_grad_in",
    )
st.caption(
    _(
        "Grey boxes: the pooling windows. Each window passes its gradient to one cell "
        "(max/min) or spreads it (average)."
    )
)
