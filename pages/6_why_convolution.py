"""Why convolution: far fewer parameters than a dense layer, and features that move with the
image."""

import streamlit as st

from cnnviz import filters, lessons
from cnnviz.data import mnist
from cnnviz.i18n import _
from cnnviz.plots import heatmaps
from cnnviz.plots import lessons as charts
from cnnviz.ui import inputs, layout, viewport

PRESETS = {
    "tutorial": dict(height=1000, width=1000, channels=1, maps=1, kernel=3),
    "mnist": dict(height=28, width=28, channels=1, maps=8, kernel=3),
}


def _use_preset(name):
    for field, value in PRESETS[name].items():
        st.session_state[f"why.{field}"] = value


layout.header(_("Why convolution?"))

# --- 1. parameter counter --------------------------------------------------------------------
st.header(_("1. Count the weights"))
st.markdown(
    _(
        "A first hidden layer with as many neurons as the image has pixels (× F feature maps). "
        "**Fully connected**: every neuron looks at every pixel. **Locally connected**: each "
        "neuron looks only at its k×k patch (feature localization). **Convolutional**: the "
        "neurons of a feature map also **share** one k×k filter (independence of location). "
        "Biases are not counted."
    )
)
for field, value in PRESETS["tutorial"].items():
    st.session_state.setdefault(f"why.{field}", value)
buttons = st.columns([1.3, 1.3, 1])
buttons[0].button(
    _("Tutorial: 1000×1000 image"),
    key="why.preset_tutorial",
    on_click=_use_preset,
    args=("tutorial",),
    width="stretch",
)
buttons[1].button(
    _("MNIST: 28×28, 8 filters"),
    key="why.preset_mnist",
    on_click=_use_preset,
    args=("mnist",),
    width="stretch",
)
cols = st.columns(5)
height = cols[0].number_input(_("Image height"), 1, 100_000, step=1, key="why.height")
width = cols[1].number_input(_("Image width"), 1, 100_000, step=1, key="why.width")
channels = cols[2].selectbox(_("Channels"), (1, 3), key="why.channels", help=_("1 grey, 3 colour"))
maps = cols[3].number_input(_("Feature maps F"), 1, 512, step=1, key="why.maps")
kernel = cols[4].selectbox(_("Filter size k"), (3, 5, 7), key="why.kernel")

counts = lessons.layer_param_counts(height, width, channels, maps, kernel)
layout.chart(
    charts.param_bars(
        [_("fully connected"), _("locally connected"), _("convolutional")],
        [counts.fully_connected, counts.locally_connected, counts.convolutional],
    ),
    key="why.fig_params",
)
h, w, c, f, k = int(height), int(width), int(channels), int(maps), int(kernel)
st.markdown(
    _(
        "- **Fully connected**: ({h}·{w}·{c} inputs) × ({h}·{w}·{f} neurons) = **{dense}**\n"
        "- **Locally connected**: {h}·{w}·{f} neurons × ({k}·{k}·{c} weights each) = "
        "**{local}**\n"
        "- **Convolutional**: {k}·{k}·{c} weights per filter × {f} filters = **{conv}**, "
        "whatever the image size"
    ).format(
        h=h,
        w=w,
        c=c,
        f=f,
        k=k,
        dense=charts.power_of_ten(counts.fully_connected),
        local=charts.power_of_ten(counts.locally_connected),
        conv=charts.power_of_ten(counts.convolutional),
    )
)

# --- 2. translation --------------------------------------------------------------------------
st.divider()
st.header(_("2. Move the digit, the features move with it"))
image, source, _label = inputs.current_image()
if image is None:
    (x_train, _y), _test = mnist.load_data_shared()
    pixels = x_train[0].astype(float)
    st.caption(
        _(
            "No drawing yet, so this uses the first MNIST training image; draw your own on "
            "Draw & predict."
        )
    )
else:
    pixels = lessons.to_pixel_values(image)
    st.caption(_("Input: {source}.").format(source=inputs.source_text(source) or _("your drawing")))
st.markdown(
    _(
        "The same filter is applied at every position, so shifting the input shifts the feature "
        "maps by exactly the same amount: a vertical stroke is found wherever it is."
    )
)
cols = st.columns(2)
dx = cols[0].slider(_("Shift right (pixels)"), -8, 8, 4, key="why.dx")
dy = cols[1].slider(_("Shift down (pixels)"), -8, 8, 0, key="why.dy")
names = ["Vertical Sobel", "Horizontal Sobel"]
kernels = [filters.FILTERS[name] for name in names]
demo = lessons.translation_demo(pixels, kernels, dy, dx)
for title, img, feature_maps, key in (
    (_("Original"), demo.image, demo.maps, "why.fig_original"),
    (
        _("Shifted by ({dy} down, {dx} right)").format(dy=dy, dx=dx),
        demo.shifted,
        demo.shifted_maps,
        "why.fig_shifted",
    ),
):
    st.subheader(title)
    row = st.columns([1, 2.3])
    with row[0]:
        layout.chart(
            heatmaps.heatmap(img, kind="image", max_px=200, show_colorbar=False), key=f"{key}_image"
        )
    with row[1]:
        layout.chart(
            heatmaps.heatmap_grid(
                [feature_maps[:, :, i] for i in range(len(names))],
                [_("{name} map").format(name=_(name)) for name in names],
                kind="signed",
                columns=heatmaps.grid_columns(2, viewport.width(480), panel_px=150),
                max_px=200,
                max_width=viewport.width(480),
                zmin=-1020,
                zmax=1020,
                colorbar_title=_("response"),
            ),
            key=f"{key}_maps",
        )
st.success(
    _(
        "Shift the original maps by the same amount and they match the shifted image's maps: the "
        "largest difference away from the border is {mismatch}."
    ).format(mismatch=heatmaps.format_number(demo.mismatch))
)
