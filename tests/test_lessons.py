"""cnnviz.lessons against independent oracles: the tutorial's own numbers, scipy's correlate2d,
slow loops written from the definitions in this file, and finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import correlate2d

from cnnviz import lessons, nn
from cnnviz.data import mnist
from cnnviz.errors import InputError

SOBEL_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
SOBEL_H = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)


# --- the tutorial's numbers --------------------------------------------------------------------


def test_tutorial_image_is_figure_5():
    assert lessons.TUTORIAL_IMAGE.tolist() == [
        [0, 50, 0, 29],
        [0, 80, 31, 2],
        [33, 90, 0, 75],
        [0, 9, 0, 95],
    ]


def test_sobel_edges_on_tutorial_image_give_29_and_minus_192():
    edges = lessons.sobel_edges(lessons.TUTORIAL_IMAGE)
    assert edges.vertical[0].tolist() == [29, -192]  # the tutorial's Figure 9
    np.testing.assert_allclose(
        edges.vertical, correlate2d(lessons.TUTORIAL_IMAGE, SOBEL_V, "valid")
    )
    np.testing.assert_allclose(
        edges.horizontal, correlate2d(lessons.TUTORIAL_IMAGE, SOBEL_H, "valid")
    )
    np.testing.assert_allclose(edges.magnitude, np.sqrt(edges.vertical**2 + edges.horizontal**2))


def test_fully_connected_1000x1000_is_ten_to_the_twelve():
    counts = lessons.layer_param_counts(1000, 1000)
    assert counts.fully_connected == 10**12
    assert counts.inputs == counts.units == 10**6


def test_conv_layer_of_8_filters_has_72_parameters():
    assert lessons.conv_param_count(3, 8) == 3 * 3 * 8 == 72
    assert lessons.layer_param_counts(28, 28, feature_maps=8).convolutional == 72
    assert lessons.conv_param_count(3, 8, bias=True) == 80


def test_filter_bank_on_a_digit_is_26x26x8_with_72_parameters():
    (x_train, _), _ = mnist.load_data_shared()
    image = x_train[0].astype(float)
    names = [
        "Vertical Sobel",
        "Horizontal Sobel",
        "Vertical Scharr",
        "Horizontal Scharr",
        "Vertical Prewitt",
        "Horizontal Prewitt",
        "Laplacian",
        "Sharpen",
    ]
    bank = lessons.filter_bank(image, names)
    assert bank.volume.shape == (26, 26, 8)
    assert bank.params == 72
    for f in range(8):
        np.testing.assert_allclose(
            bank.volume[:, :, f], correlate2d(image, bank.kernels[f], "valid")
        )


# --- parameter counts against a slow construction ----------------------------------------------


def _count_weights_by_construction(h, w, c, f, k):
    """Build the three layers' weight lists with loops, as a student would draw them."""
    pixels = [(r, col, ch) for r in range(h) for col in range(w) for ch in range(c)]
    neurons = [(r, col, m) for r in range(h) for col in range(w) for m in range(f)]
    dense = sum(1 for _ in neurons for _ in pixels)
    local = 0
    shared = set()
    for _r, _col, m in neurons:
        for dr in range(k):
            for dc in range(k):
                for ch in range(c):
                    local += 1  # every neuron owns its patch weights
                    shared.add((m, dr, dc, ch))  # a feature map shares one filter
    return dense, local, len(shared)


@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    k=st.sampled_from([1, 3, 5]),
)
def test_layer_param_counts_match_a_slow_construction(h, w, c, f, k):
    counts = lessons.layer_param_counts(h, w, c, f, k)
    assert (counts.fully_connected, counts.locally_connected, counts.convolutional) == (
        _count_weights_by_construction(h, w, c, f, k)
    )


def test_layer_param_counts_reject_nonsense():
    with pytest.raises(InputError, match="height"):
        lessons.layer_param_counts(0, 10)
    with pytest.raises(InputError, match="feature maps"):
        lessons.layer_param_counts(10, 10, feature_maps=1.5)


# --- stepping through positions ----------------------------------------------------------------


@given(rows=st.integers(1, 7), cols=st.integers(1, 7))
def test_stepping_forward_visits_every_position_in_row_major_order(rows, cols):
    expected = [(r, c) for r in range(rows) for c in range(cols)]
    seen, position = [], (0, 0)
    for _ in range(rows * cols):
        seen.append(position)
        position = lessons.step_position(*position, (rows, cols), 1)
    assert seen == expected
    assert position == (0, 0)  # wraps around after the last one


@given(rows=st.integers(1, 7), cols=st.integers(1, 7), r=st.integers(0, 6), c=st.integers(0, 6))
def test_previous_undoes_next(rows, cols, r, c):
    r, c = min(r, rows - 1), min(c, cols - 1)
    forward = lessons.step_position(r, c, (rows, cols), 1)
    assert lessons.step_position(*forward, (rows, cols), -1) == (r, c)


def test_step_from_the_tutorial_first_pixel_goes_to_the_second():
    assert lessons.step_position(0, 0, (2, 2)) == (0, 1)
    assert lessons.step_position(0, 1, (2, 2)) == (1, 0)
    assert lessons.step_position(0, 0, (2, 2), -1) == (1, 1)


def test_clamp_position_keeps_positions_inside_a_smaller_output():
    assert lessons.clamp_position(25, 3, (2, 2)) == (1, 1)
    assert lessons.clamp_position(-1, 0, (4, 4)) == (0, 0)


@given(n=st.integers(3, 40), padding=st.sampled_from(["valid", "same"]), s=st.integers(1, 3))
def test_output_size_counts_the_window_positions(n, padding, s):
    # Keras's "same": ceil(n / s) outputs, the padding that needs split with the odd one after
    total = max((-(-n // s) - 1) * s + 3 - n, 0) if padding == "same" else 0
    positions = len([start for start in range(0, n + total, s) if start + 3 <= n + total])
    explained = lessons.output_size_explained(n, 3, padding, s)
    assert explained.out == positions
    assert (explained.p, explained.p_after) == (total // 2, total - total // 2)
    assert f"= {positions}" in explained.latex()
    if s == 1:  # the formula students know: p on each side, 1 for "same"
        assert explained.p == explained.p_after == (1 if padding == "same" else 0)
    conv = nn.Conv2D(1, 3, strides=s, padding=padding)
    conv.build((n, n, 1))
    assert conv.output_shape[0] == positions  # the engine agrees


def test_output_size_formula_for_stride_2_on_an_even_size():
    explained = lessons.output_size_explained(28, 3, "same", 2)
    assert (explained.p, explained.p_after, explained.out) == (0, 1, 14)
    assert r"\frac{28 + 0 + 1 - 3}{2}" in explained.latex()


def test_output_size_formula_for_the_tutorial():
    explained = lessons.output_size_explained(28, 3, "valid", 1)
    assert explained.out == 26
    assert r"\frac{28 + 2\cdot0 - 3}{1}" in explained.latex()


def test_to_pixel_values_uses_the_0_255_scale():
    assert lessons.to_pixel_values(np.array([[0.0, 0.2, 1.0]])).tolist() == [[0, 51, 255]]
    with pytest.raises(InputError):
        lessons.to_pixel_values(np.zeros(3))


# --- translation --------------------------------------------------------------------------------


def _shift_reference(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = image[r - dy, c - dx]
    return out


@given(dy=st.integers(-6, 6), dx=st.integers(-6, 6))
def test_shift_image_moves_pixels_without_wrapping(dy, dx):
    image = np.arange(30, dtype=float).reshape(5, 6) + 1
    np.testing.assert_array_equal(
        lessons.shift_image(image, dy, dx), _shift_reference(image, dy, dx)
    )


@given(dy=st.integers(-5, 5), dx=st.integers(-5, 5))
def test_feature_maps_shift_with_the_digit(dy, dx):
    (x_train, _), _ = mnist.load_data_shared()
    image = x_train[0].astype(float)  # a digit with a black border
    demo = lessons.translation_demo(image, np.stack([SOBEL_V, SOBEL_H]), dy, dx)
    assert demo.mismatch == 0
    for f, kernel in enumerate((SOBEL_V, SOBEL_H)):
        expected = correlate2d(_shift_reference(image, dy, dx), kernel, "same")
        np.testing.assert_allclose(demo.shifted_maps[:, :, f], expected)
        moved = _shift_reference(correlate2d(image, kernel, "same"), dy, dx)
        inner = (slice(8, 20), slice(8, 20))  # well inside: the digit and its maps moved intact
        np.testing.assert_allclose(demo.shifted_maps[inner][:, :, f], moved[inner])


# --- pooling helpers ----------------------------------------------------------------------------


def test_pool_windows_tile_the_input_once():
    covered = np.zeros((6, 6), int)
    for top, left in lessons.pool_windows((3, 3), 2):
        covered[top : top + 2, left : left + 2] += 1
    assert (covered == 1).all()


def test_upstream_gradient():
    assert (lessons.upstream_gradient((2, 3)) == 1).all()
    a = lessons.upstream_gradient((4, 4), "random", seed=3)
    b = lessons.upstream_gradient((4, 4), "random", seed=3)
    np.testing.assert_array_equal(a, b)
    assert set(np.abs(a).ravel()) <= {1, 2, 3}
    with pytest.raises(InputError):
        lessons.upstream_gradient((2, 2), "zeros")


def test_pool_examples_are_small_grids():
    for example in lessons.POOL_EXAMPLES.values():
        assert example.ndim == 2 and example.shape[0] in (4, 6)


# --- one training step, dissected ---------------------------------------------------------------


@pytest.fixture(scope="module")
def digit():
    (x_train, y_train), _ = mnist.load_data_shared()
    return x_train[0].astype(np.float32) / 255.0, int(y_train[0])


def _loss(model, image01, label):
    """The loss written from the tutorial: -log softmax(model(x))[label], x = image - 0.5."""
    x = (image01.astype(np.float64) - 0.5).reshape(1, 28, 28, 1)
    probs = np.asarray(model.forward(x), dtype=np.float64)[0]
    return -np.log(probs[label])


def test_dissect_step_leaves_the_shared_model_unchanged(digit):
    image, label = digit
    model = nn.tutorial_model(seed=1)
    before = [w.copy() for w in model.get_weights()]
    lessons.dissect_step(model, image, label, learning_rate=0.5)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_dissect_step_softmax_and_loss(digit):
    image, label = digit
    model = nn.tutorial_model(seed=1)
    step = lessons.dissect_step(model, image, label, learning_rate=0.01)
    assert [layer.kind for layer in step.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert step.layers[2].output.shape == (13 * 13 * 8,)
    probs = np.exp(step.softmax.logits - step.softmax.logits.max())
    probs /= probs.sum()
    np.testing.assert_allclose(step.softmax.probs, probs, rtol=1e-6)
    assert step.softmax.loss == pytest.approx(_loss(model, image, label), rel=1e-4)
    assert step.loss == pytest.approx(step.softmax.loss, rel=1e-4)
    onehot = np.eye(10)[label]
    np.testing.assert_allclose(step.softmax.grad_logits, probs - onehot, atol=1e-6)


def _float64_copy(model):
    copy = model.copy()
    for layer in copy.layers:
        for key in layer.params:
            layer.params[key] = layer.params[key].astype(np.float64)
    return copy


def test_filter_gradients_match_finite_differences(digit):
    image, label = digit
    model = nn.tutorial_model(seed=2)
    step = lessons.dissect_step(model, image, label, learning_rate=0.01)
    # Central differences in float64 (the layers keep float64 weights float64): their error is
    # ~eps^2 and rounding ~1e-16 / eps, both far below 1e-6; eps is small enough that no
    # pooling window's maximum changes hands. The analytic gradient is float32, summed over
    # 26 x 26 positions: a relative error of a few 1e-6 (measured: at most 6e-6).
    eps = 1e-5
    for f, r, c in [(0, 0, 0), (3, 1, 2), (7, 2, 1), (5, 0, 1)]:
        plus, minus = _float64_copy(model), _float64_copy(model)
        plus.layers[0].params["kernel"][r, c, 0, f] += eps
        minus.layers[0].params["kernel"][r, c, 0, f] -= eps
        numeric = (_loss(plus, image, label) - _loss(minus, image, label)) / (2 * eps)
        assert step.kernel_grads[f, r, c] == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_pooling_gradient_goes_only_to_the_max_positions(digit):
    image, label = digit
    step = lessons.dissect_step(nn.tutorial_model(seed=3), image, label)
    conv_out = step.layers[0].output  # (26, 26, 8)
    pool = step.layers[1]
    expected = np.zeros_like(conv_out)
    for i in range(13):
        for j in range(13):
            for f in range(8):
                window = conv_out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, f]
                r, c = np.unravel_index(np.argmax(window), (2, 2))
                expected[2 * i + r, 2 * j + c, f] = pool.grad_output[i, j, f]
    np.testing.assert_allclose(pool.grad_input, expected, rtol=1e-5, atol=1e-8)


def test_one_sgd_step_moves_the_filters_and_lowers_the_loss(digit):
    image, label = digit
    step = lessons.dissect_step(nn.tutorial_model(seed=4), image, label, learning_rate=0.005)
    np.testing.assert_allclose(
        step.kernels_after, step.kernels_before - 0.005 * step.kernel_grads, rtol=1e-6
    )
    assert step.kernels_before.shape == (8, 3, 3)
    assert step.loss_after < step.loss
    assert step.probs_after[label] > step.softmax.probs[label]
    assert step.loss_after == pytest.approx(-np.log(step.probs_after[label]))


def test_dissect_step_rejects_a_bad_label(digit):
    image, _ = digit
    with pytest.raises(InputError, match="0 to 9"):
        lessons.dissect_step(nn.tutorial_model(seed=0), image, 12)


def test_sum_expression_reads_like_the_tutorial():
    products = np.array([[0, 0, 0], [0, 0, 62], [-33, 0, 0]], float)  # the tutorial's Figure 8
    assert lessons.sum_expression(products) == "62 − 33 = 29"
    assert lessons.sum_expression(np.zeros((3, 3))) == "0"
    assert lessons.sum_expression(np.array([-1.5, -2.0])) == "−1.50 − 2 = −3.50"


def test_output_size_formula_is_two_lines_symbols_then_numbers():
    text = lessons.output_size_explained(28, 3, "valid", 1).latex("rows")
    assert text.startswith(r"\begin{aligned}\text{rows: }") and text.endswith(r"\end{aligned}")
    symbols, numbers = text.split(r" \\ ")  # a phone shows each line whole
    assert r"\frac{n + 2p - k}{s}" in symbols and "28" not in symbols
    assert r"\frac{28 + 2\cdot0 - 3}{1}" in numbers and numbers.endswith(r"= 26\end{aligned}")
