"""Convolution: slide a 3x3 filter over an image, one window at a time, as the tutorial does."""

import pandas as pd
import streamlit as st

from cnnviz import filters, lessons, ops
from cnnviz.i18n import N_, _
from cnnviz.plots import heatmaps
from cnnviz.plots.heatmaps import Box
from cnnviz.ui import layout, state, stepper, viewport
from cnnviz.ui.conv_settings import conv_settings

BANK_DEFAULT = list(filters.FILTERS)[:6] + ["Laplacian", "Sharpen"]  # 8 filters, like the tutorial

layout.header(
    _("Convolution"),
    _(
        "Put a small grid of numbers (the **filter**) on the image, multiply each pixel by the "
        "filter value above it and add the products: that sum is **one** output pixel. "
        "Slide, repeat."
    ),
)
st.caption(
    _(
        "Pixel values here are whole numbers 0 (black) … 255 (white), as in the tutorial; the "
        "network itself sees x/255 − 0.5."
    )
)

# --- 1. Input and filter ---------------------------------------------------------------------
chosen = conv_settings()
image, kernel, padding, pad_value, stride = (
    chosen.image,
    chosen.kernel,
    chosen.padding,
    chosen.pad_value,
    chosen.strides,
)
output = ops.conv2d(image, kernel, padding, pad_value, stride)
padded = ops.pad(image, padding, pad_value, kernel_size=3, strides=stride)
st.session_state[state.LAST_CONV_OUTPUT] = output
# English ids, not a sentence: the Pooling page words it in its reader's language.
st.session_state[state.LAST_CONV_DESCRIPTION] = chosen.description

left, right = st.columns([1.4, 1])
with left:
    st.subheader(_("Input: {h}×{w}").format(h=image.shape[0], w=image.shape[1]))
    layout.chart(
        heatmaps.heatmap(image, kind="image", colorbar_title=_("pixel"), max_px=320),
        key="conv.fig_input",
    )
with right:
    st.subheader(_("Filter: 3×3"))
    layout.chart(
        heatmaps.heatmap(kernel, kind="signed", colorbar_title=_("weight"), max_px=180),
        key="conv.fig_kernel",
    )
    st.caption(_("Blue: negative weights, red: positive, white: 0."))

# --- 2. Slide the filter ---------------------------------------------------------------------
st.divider()
st.header(_("Slide the filter, one position at a time"))
out_shape = output.shape
stepper.keep_inside("conv", out_shape)

playing = stepper.play_toggle("conv", _("▶ Play: step through every position"))


@st.fragment(run_every=0.8 if playing else None)
def step_view():
    row, col = stepper.tick("conv", out_shape, playing)
    trace = ops.conv_trace(image, kernel, row, col, padding, pad_value, stride)

    figs = st.columns([1.15, 1])
    with figs[0]:
        if padding == "same":
            st.subheader(_("Padded input: {h}×{w}").format(h=padded.shape[0], w=padded.shape[1]))
            top = ops.same_padding(image.shape[0], 3, stride)[0]
            left = ops.same_padding(image.shape[1], 3, stride)[0]
            original = Box(top, left, *image.shape[:2], color="#4a90e2", dash="dash", line_width=3)
            boxes = [original, Box(trace.top, trace.left, 3, 3)]
        else:
            st.subheader(
                _("Input, no padding: {h}×{w}").format(h=padded.shape[0], w=padded.shape[1])
            )
            boxes = [Box(trace.top, trace.left, 3, 3)]
        layout.chart(
            heatmaps.heatmap(
                padded, kind="image", colorbar_title=_("pixel"), boxes=boxes, max_px=300
            ),
            key="conv.fig_padded",
        )
        st.caption(
            _("Orange box: the 3×3 window the filter sees.")
            + (
                " " + _("Dashed blue: the original image; outside it is padding.")
                if padding == "same"
                else ""
            )
        )
    with figs[1]:
        st.subheader(_("Output: {h}×{w}").format(h=out_shape[0], w=out_shape[1]))
        layout.chart(
            heatmaps.heatmap(
                output,
                kind="signed",
                colorbar_title=_("output"),
                boxes=[Box(row, col, 1, 1)],
                max_px=260,
                clickable=True,
            ),
            key="conv.fig_output",
            on_select=lambda: stepper.clicked("conv", out_shape),
            selection_mode="points",
        )
        st.caption(_("Orange: the output pixel being computed. Click a cell to explain it."))

    st.subheader(_("How output pixel ({row}, {col}) is made").format(row=row, col=col))
    parts = st.columns([1, 0.15, 1, 0.15, 1])
    small = dict(max_px=140, show_colorbar=False)
    with parts[0]:
        st.markdown(_("**image window**"))
        layout.chart(heatmaps.heatmap(trace.window, kind="image", **small), key="conv.fig_window")
    parts[1].markdown("## ×")
    with parts[2]:
        st.markdown(_("**filter**"))
        layout.chart(
            heatmaps.heatmap(trace.kernel, kind="signed", **small), key="conv.fig_trace_kernel"
        )
    parts[3].markdown("## =")
    with parts[4]:
        st.markdown(_("**products**"))
        layout.chart(
            heatmaps.heatmap(trace.products, kind="signed", **small), key="conv.fig_products"
        )
    sums = st.columns([1, 2.2])
    with sums[0]:
        st.metric(
            _("Sum = output ({row}, {col})").format(row=row, col=col),
            heatmaps.format_number(trace.total),
        )
        st.caption(
            _("Adding up the products: {sum}").format(sum=lessons.sum_expression(trace.products))
        )
    table = pd.DataFrame(
        [[heatmaps.format_number(v) for v in item] for item in trace.table()],
        columns=[_("Image value"), _("Filter value"), _("Result")],
    )
    table.loc[len(table)] = ["", _("Sum"), heatmaps.format_number(trace.total)]
    with sums[1].expander(_("The tutorial's table: image value × filter value"), expanded=True):
        st.dataframe(table, hide_index=True, width=420, key="conv.table")


step_view()

# --- 3. Output size --------------------------------------------------------------------------
st.divider()
st.header(_("How big is the output?"))
st.markdown(
    _(
        "n = input size, k = filter size, p = padding on each side, s = stride (⌊ ⌋ rounds "
        "down). Same padding keeps ⌈n / s⌉ outputs, as Keras does: with stride 2 on an even size "
        "it pads p₁ = 0 before (top/left) and p₂ = 1 after (bottom/right):"
    )
)
for axis, n in ((N_("rows"), image.shape[0]), (N_("columns"), image.shape[1])):
    explained = lessons.output_size_explained(n, 3, padding, stride)
    st.latex(explained.latex(_(axis)))


def response_grid(maps, titles, columns: int, max_px: int, key: str) -> None:
    """Filter responses side by side on one signed colour scale (fewer a row on a phone)."""
    width = viewport.width(heatmaps.CONTENT_WIDTH)
    grid = heatmaps.heatmap_grid(
        maps,
        titles,
        kind="signed",
        columns=heatmaps.grid_columns(columns, width),
        max_px=max_px,
        colorbar_title=_("response"),
        max_width=width,
    )
    layout.chart(grid, key=key)


# --- 4. Sobel pair ---------------------------------------------------------------------------
st.divider()
st.header(_("Edges: both Sobel filters and the edge strength"))
st.markdown(
    _(
        "The **vertical** Sobel filter responds where brightness changes from left to right "
        "(vertical edges), the **horizontal** one where it changes from top to bottom. "
        "Combined, √(gx² + gy²) is the edge strength. Same padding and stride as above."
    )
)
edges = lessons.sobel_edges(image, padding, pad_value, stride)
response_grid(
    [edges.vertical, edges.horizontal, edges.magnitude],
    [_("vertical Sobel (gx)"), _("horizontal Sobel (gy)"), _("edge strength")],
    columns=3,
    max_px=230,
    key="conv.fig_sobel",
)

# --- 5. Many filters at once -----------------------------------------------------------------
st.divider()
st.header(_("A conv layer: many filters at once"))
chosen = st.multiselect(
    _("Filters in the layer"),
    list(filters.FILTERS),
    default=BANK_DEFAULT,
    key="conv.bank",
    format_func=_,
)
if not chosen:
    st.info(_("Choose at least one filter to build a layer."))
else:
    bank = lessons.filter_bank(image, chosen, padding, pad_value, stride)
    h, w, f = bank.volume.shape
    cols = st.columns(2)
    cols[0].metric(_("Output volume (H × W × F)"), f"{h} × {w} × {f}")
    cols[1].metric(_("Parameters (3 × 3 × F)"), f"3 × 3 × {f} = {bank.params}")
    st.caption(
        _(
            "The tutorial's layer: 8 filters on a 28×28 digit with valid padding give a 26×26×8 "
            "volume and 3 × 3 × 8 = 72 parameters. Each map below is one slice of the volume; "
            "all share one colour scale."
        )
    )
    maps = [bank.volume[:, :, i] for i in range(f)]
    response_grid(maps, [_(name) for name in chosen], columns=4, max_px=170, key="conv.fig_bank")

st.divider()
st.markdown(_("The output of your filter above is ready on the next page:"))
st.page_link(
    "pages/3_pooling.py", label=_("Pool it on the Pooling page"), icon=":material/grid_view:"
)
