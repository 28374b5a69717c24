"""Draw & predict: draw, upload or pick a digit; see what the network sees and thinks."""

import streamlit as st

from cnnviz.errors import InputError
from cnnviz.i18n import _
from cnnviz.plots import predict as plots
from cnnviz.ui import inputs, language, layout, links, models, viewport, views

layout.header(
    _("Draw & predict"),
    _(
        "Draw a digit, upload a picture or pick an MNIST test digit: whatever you give last is "
        "the **current input** of every page. The network sees a 28x28 grey image, like MNIST's."
    ),
)

PAGE = "draw_predict"

with st.sidebar:
    st.subheader(_("Model"))
    model_name, model = models.model_picker(st.sidebar)


@st.fragment
def draw_and_predict() -> None:
    """Everything below the title, as one fragment: a new drawing, upload or digit reruns only
    this part (the sidebar and the title are not sent and drawn again: less for a student's
    browser per prediction), and its end writes the new input into the address."""
    language.restore()  # a fragment's own rerun does not run app.py, which sets it
    try:
        _draw_and_predict()
    finally:  # a fragment's run does not reach app.py's publish: the new input into the URL
        links.publish(PAGE, views.DRAW_PREDICT)


def _draw_and_predict() -> None:
    # On a phone the columns stack in this order: draw, then the prediction and what the model
    # sees right under the canvas, then the other inputs.
    draw_col, seen_col, other_col = st.columns([1.3, 1, 1], gap="medium")
    with draw_col:
        st.subheader(_("Draw"))
        inputs.drawing_input(draw_col)
    with other_col:
        st.subheader(_("…or upload / pick"))
        inputs.upload_input(other_col)
        inputs.random_digit_button(other_col)

    image, source, label = inputs.current_image()
    with seen_col:
        st.subheader(_("What the model sees"))
        verdict_box = st.container()  # the prediction, filled in once the model has run
        if image is None:
            st.info(_(inputs.NO_INPUT))
        else:
            layout.chart(plots.image_figure(image, height=300), width="stretch")
            if label is None:
                st.caption(
                    _("28 x 28 input from {source}").format(source=inputs.source_text(source))
                )
            else:
                st.caption(
                    _("28 x 28 input from {source} (true label: {label})").format(
                        source=inputs.source_text(source), label=label
                    )
                )

    if image is None:
        return
    if model is None:
        st.info(_(models.NO_MODEL))
        return

    try:
        probs, maps = models.analyse(model, image)
    except InputError as exc:  # e.g. an uploaded model whose weights overflow
        st.error(str(exc))
        return
    names = models.class_names_of(model)
    best = int(probs.argmax())

    with verdict_box:
        with st.container(horizontal=True, gap="large"):
            st.metric(
                _("Prediction"), names[best], help=_("The class with the highest probability.")
            )
            st.metric(_("Confidence"), f"{probs[best]:.1%}")
        if label is not None:
            if best == label:
                verdict = _("Correct")
            else:
                verdict = _("Wrong: the true label is {label}").format(label=names[label])
            st.markdown(f":{'green' if best == label else 'red'}[**{verdict}**]")
        st.caption(_("Model: {name}").format(name=models.model_label(model_name)))

    st.html(plots.probability_bars_html(probs, names))  # plain HTML: no Plotly.js per digit

    inputs.recipe_expander()

    st.subheader(_("Feature maps"))
    st.markdown(
        _(
            "Each convolution filter slides over the image and lights up where it finds its "
            "pattern (red positive, blue negative); pooling keeps the strongest response of each "
            "2x2 window."
        )
    )
    # Every layer in one figure, each across the whole width: big enough for a projector; on a
    # phone built for its width, four maps a row (eight would be specks).
    layout.chart(
        plots.feature_maps_figure(
            [(layout.layer_caption(name, fmap.shape), fmap) for name, fmap in maps],
            columns=4 if viewport.narrow() else 8,
            max_maps=16,
            width_px=viewport.width(1100),
        ),
        width="stretch",
    )
    for name, fmap in maps:
        if fmap.shape[2] > 16:
            st.caption(
                _("{layer}: the first 16 of {count} maps.").format(layer=name, count=fmap.shape[2])
            )


draw_and_predict()
