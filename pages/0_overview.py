"""Overview: what a convolutional neural network is, the MNIST data, and a map of the app."""

import streamlit as st

from cnnviz import lessons
from cnnviz.data import mnist
from cnnviz.i18n import _, number
from cnnviz.plots import lessons as charts
from cnnviz.ui import layout
from cnnviz.ui.registry import PAGES

layout.header(
    _("How a convolutional neural network sees a digit"),
    _(
        "This app follows the tutorial *Basic CNN*: a small network, **Conv 3×3 (8 filters) → "
        "MaxPooling 2×2 → Dense (10, softmax)**, learns to read handwritten digits. Each page "
        "opens up one part of it."
    ),
)

tutorial = lessons.layer_param_counts(1000, 1000)
steps = st.columns(2) + st.columns(2)
with steps[0].container(border=True):
    st.markdown("##### " + _("1. Too many parameters"))
    st.markdown(
        _(
            "A 1000×1000 image has 10⁶ pixels. A fully-connected layer of 10⁶ neurons needs "
            "10⁶ × 10⁶ = **{weights}** weights: too slow, too much memory, and it overfits."
        ).format(weights=number(tutorial.fully_connected))
    )
with steps[1].container(border=True):
    st.markdown("##### " + _("2. Feature localization"))
    st.markdown(
        _(
            "A pixel is related to the pixels **around** it. So each neuron only needs to look "
            "at a small patch (3×3): a *locally connected* layer."
        )
    )
with steps[2].container(border=True):
    st.markdown("##### " + _("3. Independence of location"))
    st.markdown(
        _(
            "An edge or a curve means the same thing **wherever** it is in the image, so the "
            "same detector can be used at every position."
        )
    )
with steps[3].container(border=True):
    st.markdown("##### " + _("4. Shared parameters"))
    st.markdown(
        _(
            "Sliding one small filter over the whole image shares its weights everywhere: "
            "8 filters of 3×3 = **{weights}** weights. That is a convolution layer."
        ).format(weights=number(lessons.conv_param_count(3, 8)))
    )

st.divider()
st.header(_("The data: MNIST"))
(x_train, y_train), (x_test, y_test) = mnist.load_data_shared()
left, right = st.columns([1.2, 1])
with left:
    st.markdown(
        _(
            "{total} handwritten digits, 28×28 grey pixels (0 = black, 255 = white), centred in "
            "the image; {train} to train on and {test} to test. Loaded as in the tutorial:"
        ).format(total=number(70_000), train=number(60_000), test=number(10_000))
    )
    st.code(
        f"Train: X={x_train.shape}, y={y_train.shape}\nTest: X={x_test.shape}, y={y_test.shape}",
        language=None,
    )
    st.markdown(_("The first 9 training images, as the tutorial plots them:"))
with right:
    layout.chart(
        charts.digit_grid(x_train[:9], y_train[:9], columns=3, cell_px=130),
        key="overview.fig_digits",
    )

st.divider()
st.header(_("The pages"))
lessons_pages = PAGES[1:]  # every page but this one
for start in range(0, len(lessons_pages), 3):
    cards = st.columns(3)
    for card, info in zip(cards, lessons_pages[start : start + 3], strict=False):
        with card.container(border=True):
            st.markdown(f"#### {info.icon} {_(info.title)}")
            st.markdown(_(info.summary))
            st.page_link(
                info.path,
                label=_("Open {page}").format(page=_(info.title)),
                icon=":material/arrow_forward:",
            )
