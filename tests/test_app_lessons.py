"""AppTest runs of the lesson pages (Overview, Convolution, Pooling, Softmax & backprop, Why
convolution): each page runs without an exception before anything is drawn, and the key
interactions give the numbers an independent oracle (the tutorial, scipy) expects.

On the Convolution page, bad kernel cells are named (one error, nothing computed) and huge
values still compute, checked against scipy.signal.correlate2d."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate2d
from streamlit.testing.v1 import AppTest

from cnnviz.data import mnist
from cnnviz.ui import state

pytest.importorskip("plotly")

TUTORIAL = np.array([[0, 50, 0, 29], [0, 80, 31, 2], [33, 90, 0, 75], [0, 9, 0, 95]], float)
APP = str(Path(__file__).resolve().parent.parent / "app.py")
SOBEL_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
SOBEL_H = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)


def open_page(path: str, **session) -> AppTest:
    """Run app.py (st.navigation), then switch to ``path`` with ``session`` preset."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rerun_ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def mnist_test_digit(index=0):
    _, (x_test, y_test) = mnist.load_data_shared()
    return x_test[index].astype(np.float32) / 255.0, int(y_test[index])


# --- Overview -----------------------------------------------------------------------------------


def test_overview_shows_the_mnist_summary_and_a_card_per_page():
    at = open_page("pages/0_overview.py")
    code = "\n".join(c.value for c in at.code)
    assert "Train: X=(60000, 28, 28), y=(60000,)" in code
    assert "Test: X=(10000, 28, 28), y=(10000,)" in code
    links = at.get("page_link")
    assert len(links) == 8  # every page but the Overview itself
    text = " ".join(m.value for m in at.markdown)
    assert "1,000,000,000,000" in text and "72" in text


# --- Convolution --------------------------------------------------------------------------------


def conv_value(at: AppTest) -> tuple[str, str]:
    (label, value) = next((k, v) for k, v in metrics(at).items() if k.startswith("Sum"))
    return label, value


def test_convolution_steps_through_the_tutorial_example():
    at = open_page("pages/2_convolution.py")
    assert at.radio(key="conv.input").value == "Tutorial 4×4 example"
    assert conv_value(at) == ("Sum = output (0, 0)", "29")
    rerun_ok(at.button(key="conv.next").click().run())
    assert conv_value(at) == ("Sum = output (0, 1)", "-192")
    rerun_ok(at.button(key="conv.next").click().run())
    expected = correlate2d(TUTORIAL, SOBEL_V, "valid")
    assert conv_value(at) == ("Sum = output (1, 0)", str(int(expected[1, 0])))
    rerun_ok(at.button(key="conv.prev").click().run())
    rerun_ok(at.button(key="conv.prev").click().run())
    rerun_ok(at.button(key="conv.prev").click().run())  # wraps to the last position
    assert conv_value(at) == ("Sum = output (1, 1)", str(int(expected[1, 1])))
    np.testing.assert_allclose(at.session_state[state.LAST_CONV_OUTPUT], expected)
    assert metrics(at)["Parameters (3 × 3 × F)"] == "3 × 3 × 8 = 72"


def test_convolution_padding_and_pad_value():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.radio(key="conv.padding").set_value("same").run())
    same0 = correlate2d(np.pad(TUTORIAL, 1), SOBEL_V, "valid")
    assert conv_value(at)[1] == str(int(same0[0, 0]))  # 180
    assert metrics(at)["Output volume (H × W × F)"] == "4 × 4 × 8"
    rerun_ok(at.radio(key="conv.pad_value").set_value("255").run())
    white = correlate2d(np.pad(TUTORIAL, 1, constant_values=255), SOBEL_V, "valid")
    assert conv_value(at)[1] == str(int(white[0, 0]))  # -585
    np.testing.assert_allclose(at.session_state[state.LAST_CONV_OUTPUT], white)
    rerun_ok(at.radio(key="conv.padding").set_value("valid").run())
    assert metrics(at)["Output volume (H × W × F)"] == "2 × 2 × 8"


def test_convolution_filter_preset_change():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.selectbox(key="conv.filter").set_value("Horizontal Sobel").run())
    expected = correlate2d(TUTORIAL, SOBEL_H, "valid")
    assert conv_value(at)[1] == str(int(expected[0, 0]))  # -113
    np.testing.assert_allclose(at.session_state[state.LAST_CONV_OUTPUT], expected)


def test_convolution_custom_kernel_names_a_bad_cell():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.selectbox(key="conv.filter").set_value("Custom 3×3 (type it)").run())
    assert conv_value(at)[1] == "29"  # starts from the vertical Sobel filter
    at.session_state["conv.custom_kernel"] = {
        "edited_rows": {1: {"col 3": "abc"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    rerun_ok(at.run())
    assert [e.value for e in at.error] == [
        "Row 2, column 3 is not a number ('abc'); type a number such as -1, 0.5, 1e3 or 1/9."
    ]


def test_convolution_on_an_mnist_digit_gives_the_26x26x8_volume():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.radio(key="conv.input").set_value("MNIST digit").run())
    assert metrics(at)["Output volume (H × W × F)"] == "26 × 26 × 8"
    (x_train, _), _ = mnist.load_data_shared()
    expected = correlate2d(x_train[0].astype(float), SOBEL_V, "valid")
    np.testing.assert_allclose(at.session_state[state.LAST_CONV_OUTPUT], expected)
    rerun_ok(at.radio(key="conv.stride").set_value(2).run())
    assert at.session_state[state.LAST_CONV_OUTPUT].shape == (13, 13)
    rerun_ok(at.number_input(key="conv.mnist_index").set_value(7).run())
    np.testing.assert_allclose(
        at.session_state[state.LAST_CONV_OUTPUT],
        correlate2d(x_train[7].astype(float), SOBEL_V, "valid")[::2, ::2],
    )


def test_convolution_without_a_drawing_prompts_instead_of_failing():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.radio(key="conv.input").set_value("Current drawing / upload").run())
    assert any("Draw & predict" in i.value for i in at.info)


def test_convolution_uses_the_current_drawing():
    image, _ = mnist_test_digit(3)
    at = open_page("pages/2_convolution.py", **{state.CURRENT_IMAGE: image})
    assert at.radio(key="conv.input").value == "Current drawing / upload"
    expected = correlate2d(np.rint(image.astype(float) * 255), SOBEL_V, "valid")
    np.testing.assert_allclose(at.session_state[state.LAST_CONV_OUTPUT], expected)


# --- Convolution: the kernel's cells ------------------------------------------------------------


def convolution_page(edits: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/2_convolution.py").run()
    at.selectbox(key="conv.filter").set_value("Custom 3×3 (type it)").run()
    assert not at.exception, [e.value for e in at.exception]
    if edits:
        at.session_state["conv.custom_kernel"] = {
            "edited_rows": edits,
            "added_rows": [],
            "deleted_rows": [],
        }
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


BAD_CELLS = [
    ("", 0, 1, "Row 1, column 1 is empty"),
    ("   ", 2, 2, "Row 3, column 2 is empty"),
    ("abc", 1, 3, "Row 2, column 3 is not a number"),
    ("nan", 0, 2, "Row 1, column 2 is NaN"),
    ("inf", 2, 3, "Row 3, column 3 is infinite"),
    ("-inf", 1, 1, "Row 2, column 1 is infinite"),
    ("1e999", 1, 2, "Row 2, column 2 is"),
]


@pytest.mark.parametrize(
    "text, row, col, says", BAD_CELLS, ids=[c[0] or "empty" for c in BAD_CELLS]
)
def test_bad_kernel_cell_is_named(text, row, col, says):
    at = convolution_page({row: {f"col {col}": text}})
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(says), errors
    assert not at.metric  # nothing computed with a bad kernel


@pytest.mark.parametrize("big", ["1e30", "-3e300", "1.7e308"])
def test_huge_kernel_values_still_compute_and_display(big):
    at = convolution_page({0: {"col 1": big}, 2: {"col 3": big}})
    assert not at.error
    kernel = np.array(SOBEL_V, float)
    kernel[0, 0] = kernel[2, 2] = float(big)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = correlate2d(TUTORIAL, kernel, "valid")
    output = at.session_state[state.LAST_CONV_OUTPUT]
    np.testing.assert_allclose(output, expected, rtol=1e-12)
    shown = next(m.value for m in at.metric if m.label.startswith("Sum"))
    assert shown  # a number (possibly inf when the sum overflows) is on screen
    assert float(shown.replace(",", "").replace("−", "-")) == pytest.approx(expected[0, 0])


# --- Pooling ------------------------------------------------------------------------------------


def test_pooling_example_modes_sizes_and_steps():
    at = open_page("pages/3_pooling.py")
    example = np.array([[1, 4, 2, 7], [9, 3, 0, 5], [6, 2, 8, 1], [3, 7, 4, 6]], float)
    assert metrics(at)["max of this window"] == "9"
    rerun_ok(at.button(key="pool.next").click().run())
    assert metrics(at)["max of this window"] == str(int(example[0:2, 2:4].max()))
    rerun_ok(at.radio(key="pool.mode").set_value("average").run())
    assert metrics(at)["average of this window"] == f"{example[0:2, 2:4].mean():.2f}"
    rerun_ok(at.radio(key="pool.mode").set_value("min").run())
    assert metrics(at)["min of this window"] == str(int(example[0:2, 2:4].min()))
    rerun_ok(at.radio(key="pool.size").set_value(3).run())  # 4x4 -> 1x1, position clamped
    assert metrics(at)["min of this window"] == str(int(example[0:3, 0:3].min()))


def heatmap_values(at: AppTest, key: str) -> np.ndarray:
    """The numbers of the first heatmap in the Plotly chart with widget key ``key``."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    z = json.loads(chart.proto.spec)["data"][0]["z"]
    if isinstance(z, dict):  # Plotly's typed array: base64 bytes with dtype and shape
        return np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"]).reshape(
            [int(n) for n in str(z["shape"]).split(",")]
        )
    return np.asarray(z, float)


def test_pooling_6x6_min_pooling_routes_the_gradient_to_each_minimum():
    at = open_page("pages/3_pooling.py")
    rerun_ok(at.radio(key="pool.input").set_value("6x6 example").run())
    rerun_ok(at.radio(key="pool.size").set_value(3).run())
    rerun_ok(at.radio(key="pool.mode").set_value("min").run())
    rerun_ok(at.radio(key="pool.grad").set_value("random whole numbers").run())
    x = heatmap_values(at, "pool.fig_input")
    assert x.shape == (6, 6)
    windows = x.reshape(2, 3, 2, 3).transpose(0, 2, 1, 3).reshape(2, 2, 9)
    np.testing.assert_array_equal(heatmap_values(at, "pool.fig_output"), windows.min(axis=2))
    assert metrics(at)["min of this window"] == str(int(x[0:3, 0:3].min()))
    grad_out = heatmap_values(at, "pool.fig_grad_out")
    assert grad_out.shape == (2, 2) and np.all(grad_out != 0) and np.all(np.abs(grad_out) <= 3)
    assert len({float(v) for v in grad_out.ravel()}) > 1  # random, not all ones
    # By hand: each window passes its gradient to the cell holding its minimum, 0 elsewhere.
    expected = np.zeros((6, 6))
    for i in range(2):
        for j in range(2):
            r, c = divmod(int(np.argmin(windows[i, j])), 3)
            expected[3 * i + r, 3 * j + c] = grad_out[i, j]
    np.testing.assert_array_equal(heatmap_values(at, "pool.fig_grad_in"), expected)


def test_pooling_takes_the_convolution_output():
    at = open_page("pages/2_convolution.py")
    rerun_ok(at.radio(key="conv.input").set_value("MNIST digit").run())
    at.switch_page("pages/3_pooling.py")
    rerun_ok(at.run())
    assert at.radio(key="pool.input").value == "Output of the Convolution page"
    conv = at.session_state[state.LAST_CONV_OUTPUT]
    assert metrics(at)["max of this window"] == str(int(conv[0:2, 0:2].max()))
    latex = " ".join(x.value for x in at.get("latex"))
    assert "(26, 26, 1)" in latex and "(13, 13, 1)" in latex


# --- Softmax & backprop -------------------------------------------------------------------------


def test_softmax_page_prompts_before_any_input():
    at = open_page("pages/4_softmax_backprop.py")
    assert at.info, "expected a prompt to draw or pick a digit"
    rerun_ok(at.button(key="softmax.random").click().run())
    assert "Cross-entropy loss" in metrics(at)


def test_softmax_page_true_label_and_learning_rate():
    image, label = mnist_test_digit(0)
    at = open_page(
        "pages/4_softmax_backprop.py",
        **{
            state.CURRENT_IMAGE: image,
            state.CURRENT_LABEL: label,
            state.CURRENT_IMAGE_SOURCE: "MNIST test digit #0",
        },
    )
    assert at.selectbox(key="softmax.label").value == label
    first = metrics(at)
    p_true = float(first[f"p(true label {label})"])
    assert float(first["Cross-entropy loss"]) == pytest.approx(-np.log(p_true), abs=2e-3)
    other = (label + 1) % 10
    rerun_ok(at.selectbox(key="softmax.label").set_value(other).run())
    changed = metrics(at)
    p_other = float(changed[f"p(true label {other})"])
    assert float(changed["Cross-entropy loss"]) == pytest.approx(-np.log(p_other), rel=1e-2)
    assert float(changed["Loss after the step (same image)"]) < float(
        changed["Loss before the step"]
    )
    # A wrong label gives a loss near 20 and a steep gradient: a longer step along it lowers
    # the loss further (0.001 -> 0.005 -> 0.01), and the loss before the step stays the same.
    after = []
    for rate in (0.001, 0.005, 0.01):
        rerun_ok(at.select_slider(key="softmax.lr").set_value(rate).run())
        now = metrics(at)
        assert now["Loss before the step"] == changed["Loss before the step"]
        after.append(float(now["Loss after the step (same image)"]))
    assert float(changed["Loss before the step"]) > after[0] > after[1] > after[2] >= 0


# --- Why convolution ----------------------------------------------------------------------------


def test_why_convolution_counts_and_translation():
    at = open_page("pages/6_why_convolution.py")
    text = " ".join(m.value for m in at.markdown)
    assert "1,000,000,000,000" in text
    rerun_ok(at.button(key="why.preset_mnist").click().run())
    text = " ".join(m.value for m in at.markdown)
    assert "= **72**" in text
    assert at.number_input(key="why.height").value == 28
    rerun_ok(at.slider(key="why.dx").set_value(-3).run())
    rerun_ok(at.slider(key="why.dy").set_value(5).run())
    assert "is 0." in at.success[0].value


def test_softmax_page_explains_a_model_of_another_shape():
    from cnnviz import nn
    from cnnviz.ui import models

    image, label = mnist_test_digit(1)
    at = open_page(
        "pages/4_softmax_backprop.py",
        **{
            state.CURRENT_IMAGE: image,
            state.CURRENT_LABEL: label,
            state.SESSION_MODEL: nn.strong_model(seed=0),
            state.CURRENT_MODEL_CHOICE: models.SESSION_LABEL,
        },
    )
    captions = " ".join(c.value for c in at.caption)
    assert "not the tutorial's shape" in captions
    assert "Conv2D → MaxPooling2D → Conv2D" in captions
    assert float(metrics(at)["Loss after the step (same image)"]) < float(
        metrics(at)["Loss before the step"]
    )
