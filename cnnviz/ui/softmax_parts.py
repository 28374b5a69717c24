"""Parts of the Softmax & backprop page: its controls (the true label of the current input,
the SGD step's learning rate; widget keys start with ``softmax.``) and the table of layers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import lessons
from cnnviz.i18n import _
from cnnviz.ui import inputs, models

LEARNING_RATES = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]


def step_settings(model, image: np.ndarray, known_label: int | None) -> tuple[int, float]:
    """The label selectbox and the learning-rate slider; returns (label, learning rate)."""
    # A new input starts from its own true label; a drawing or upload has none, so it starts
    # from the network's guess, and the page says that this is an assumption.
    guessed = known_label is None
    start_label = lessons.predicted_label(model, image) if guessed else int(known_label)
    if st.session_state.get("softmax.label_for") != inputs.image_key(image):
        st.session_state["softmax.label"] = start_label
    st.session_state["softmax.label_for"] = inputs.image_key(image)
    label = st.selectbox(
        _("True label (the digit this image really is)"),
        list(range(10)),
        index=start_label,
        key="softmax.label",
    )
    if guessed:
        st.caption(
            _(
                "Nobody told the network which digit this is, so the true label starts at its "
                "own guess, **{label}**: an assumption. If you meant another digit, choose it."
            ).format(label=start_label)
        )
    learning_rate = st.select_slider(
        _("Learning rate η for the SGD step"), LEARNING_RATES, value=0.1, key="softmax.lr"
    )
    return int(label), float(learning_rate)


def layers_table(step: lessons.TrainingStep, name: str) -> None:
    """Every layer of the dissected step (kind, output shape, parameters) and whether the
    network has the tutorial's shape."""
    st.dataframe(
        [
            {
                _("layer"): layer.name,
                _("kind"): layer.kind,
                _("output shape"): " × ".join(str(s) for s in layer.output_shape),
                _("parameters"): layer.param_count,
            }
            for layer in step.layers
        ],
        hide_index=True,
        key="softmax.layers",
    )
    architecture = " → ".join(layer.kind for layer in step.layers)
    if architecture == "Conv2D → MaxPooling2D → Flatten → Dense":
        st.caption(
            _("{name}: {architecture}, the tutorial's network.").format(
                name=models.model_label(name), architecture=architecture
            )
        )
    else:
        st.caption(
            _(
                "{name}: {architecture}. This is not the tutorial's shape, so the sections below "
                "follow the first convolution and the first pooling layer; every layer's "
                "gradient is computed the same way, from the last layer back to the first."
            ).format(name=models.model_label(name), architecture=architecture)
        )
