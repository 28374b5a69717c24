"""Helpers for driving the Draw & predict page with Streamlit's AppTest, shared by
tests/test_app_inputs.py (a person's drawings and uploads) and tests/test_model_files.py (model
files uploaded in the model picker); ``metric`` also by tests/test_app_train.py.

The fixtures these helpers are used with, ``mnist_test`` and ``bundled``, are in conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import nn
from cnnviz.ui import state

ROOT = Path(__file__).resolve().parent.parent
DRAW = str(ROOT / "pages" / "1_draw_predict.py")
BUNDLED = "Tutorial network"

# The tests that predict with the bundled tutorial model (the page's default) need its file.
needs_bundled_model = pytest.mark.skipif(
    BUNDLED not in nn.bundled_models(), reason="the bundled tutorial model is missing"
)


def bundled_gets_right(model, x_test, y_test, index: int) -> int:
    """The true label of MNIST test digit ``index``, after checking the bundled model (run
    directly on the digit, scaled x/255 - 0.5) gets it right: the precondition of every
    "the right digit is predicted" case."""
    direct = int(model.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax())
    assert direct == int(y_test[index]), f"pick another digit: the model misreads #{index}"
    return int(y_test[index])


def draw_page(x_test=None, y_test=None, previous: int | None = None) -> AppTest:
    """The Draw & predict page with the bundled model; ``previous`` = an MNIST test digit
    already made the current input."""
    at = AppTest.from_file(DRAW, default_timeout=90)
    if previous is not None:
        at.session_state[state.CURRENT_IMAGE] = x_test[previous].astype(np.float32) / 255.0
        at.session_state[state.CURRENT_IMAGE_SOURCE] = f"MNIST test digit #{previous}"
        at.session_state[state.CURRENT_LABEL] = int(y_test[previous])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0].value if found else None


def messages(at: AppTest) -> list[str]:
    """Every st.error and st.info line on the page (main area and sidebar)."""
    return [e.value for e in at.error] + [i.value for i in at.info]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="image_upload").upload(name, data, "application/octet-stream")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
