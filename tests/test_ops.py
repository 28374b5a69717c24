"""Tests for cnnviz.ops against independent oracles.

Oracles: the tutorial's hand-worked numbers, scipy.signal.correlate2d, slow loop references
written below from the tutorial's Conv3x3 / MaxPool2 code, finite differences, and PyTorch
(only if installed).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import correlate2d

from cnnviz import ops
from cnnviz.errors import InputError

# The tutorial's 4x4 image (Hinh 5) and its vertical Sobel filter (Hinh 4).
TUTORIAL_IMAGE = np.array([[0, 50, 0, 29], [0, 80, 31, 2], [33, 90, 0, 75], [0, 9, 0, 95]])
VERTICAL_SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def assert_one_sentence(error):
    message = str(error.value)
    assert message[0].isupper() and message.endswith("."), message
    assert "\n" not in message and ". " not in message, message


# ---------------------------------------------------------------------------------------------
# Slow references, written from the tutorial's loops
# ---------------------------------------------------------------------------------------------


def reference_pad(image, k, padding, value, stride=1):
    """'same' as Keras/TensorFlow: ceil(n / stride) outputs; the padding that needs, half
    before and the odd one after (for stride 1: (k-1)//2 before, the rest after)."""
    if padding == "valid":
        return np.asarray(image, dtype=float)
    h, w = image.shape
    amounts = []
    for n in (h, w):
        out = -(-n // stride)
        total = max((out - 1) * stride + k - n, 0)
        amounts.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = amounts
    padded = np.full((h + top + bottom, w + left + right), float(value))
    for i in range(h):
        for j in range(w):
            padded[top + i, left + j] = image[i, j]
    return padded


def reference_conv(image, kernel, padding="valid", value=0.0, stride=1):
    """The tutorial's Conv3x3.iterate_regions + forward, for any k and stride, pixel by pixel."""
    k = kernel.shape[0]
    padded = reference_pad(image, k, padding, value, stride)
    h, w = padded.shape
    rows = range(0, h - k + 1, stride)
    cols = range(0, w - k + 1, stride)
    out = np.zeros((len(rows), len(cols)))
    for oi, i in enumerate(rows):
        for oj, j in enumerate(cols):
            total = 0.0
            for a in range(k):
                for b in range(k):
                    total += padded[i + a, j + b] * kernel[a, b]
            out[oi, oj] = total
    return out


def reference_pool(x, size, mode):
    """The tutorial's MaxPool2.iterate_regions + forward, for any size and max/avg/min."""
    x3 = x if x.ndim == 3 else x[:, :, None]
    h, w, c = x3.shape
    out = np.zeros((h // size, w // size, c))
    reduce = {"max": np.amax, "avg": np.mean, "min": np.amin}[mode]
    for i in range(h // size):
        for j in range(w // size):
            region = x3[i * size : i * size + size, j * size : j * size + size]
            out[i, j] = reduce(region, axis=(0, 1))
    return out if x.ndim == 3 else out[:, :, 0]


def reference_pool_backward(x, grad_out, size, mode="max", every_tie=False):
    """The tutorial's MaxPool2.backprop, generalised to min/avg and any size.

    every_tie=True is the tutorial's code verbatim: the gradient is copied to EVERY cell equal
    to the window's max. every_tie=False stops at the first such cell in row-major order, which
    is what cnnviz.ops.pool2d_backward documents (and Keras/TensorFlow/PyTorch do).
    """
    x3 = x if x.ndim == 3 else x[:, :, None]
    g3 = grad_out if grad_out.ndim == 3 else grad_out[:, :, None]
    h, w, c = x3.shape
    grad_in = np.zeros(x3.shape)
    for i in range(h // size):
        for j in range(w // size):
            region = x3[i * size : i * size + size, j * size : j * size + size]
            for f in range(c):
                if mode == "avg":
                    grad_in[i * size : i * size + size, j * size : j * size + size, f] = (
                        g3[i, j, f] / size**2
                    )
                    continue
                target = region[:, :, f].max() if mode == "max" else region[:, :, f].min()
                done = False
                for i2 in range(size):
                    for j2 in range(size):
                        if region[i2, j2, f] == target and not done:
                            grad_in[i * size + i2, j * size + j2, f] = g3[i, j, f]
                            done = not every_tie
    return grad_in if x.ndim == 3 else grad_in[:, :, 0]


# ---------------------------------------------------------------------------------------------
# The tutorial's worked example
# ---------------------------------------------------------------------------------------------


def test_tutorial_4x4_example_with_vertical_sobel():
    # Top-left (tutorial): 62 - 33 = 29.  Top-right (tutorial): -192.
    # Bottom-left, window rows 1-3, cols 0-2 = [[0, 80, 31], [33, 90, 0], [0, 9, 0]]:
    #   (-1*0 + 0*80 + 1*31) + (-2*33 + 0*90 + 2*0) + (-1*0 + 0*9 + 1*0) = 31 - 66 + 0 = -35.
    # Bottom-right, window rows 1-3, cols 1-3 = [[80, 31, 2], [90, 0, 75], [9, 0, 95]]:
    #   (-80 + 2) + (-180 + 150) + (-9 + 95) = -78 - 30 + 86 = -22.
    out = ops.conv2d(TUTORIAL_IMAGE, VERTICAL_SOBEL)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[29, -192], [-35, -22]])


def test_tutorial_trace_table_for_top_left_pixel():
    # Hinh 8: image value, filter value, result -- 9 rows, summing to 62 - 33 = 29.
    expected = [
        (0, -1, 0),
        (50, 0, 0),
        (0, 1, 0),
        (0, -2, 0),
        (80, 0, 0),
        (31, 2, 62),
        (33, -1, -33),
        (90, 0, 0),
        (0, 1, 0),
    ]
    trace = ops.conv_trace(TUTORIAL_IMAGE, VERTICAL_SOBEL, 0, 0)
    assert trace.table() == expected
    shown = [str(product) for _, _, product in trace.table()]
    assert shown == ["0.0"] * 5 + ["62.0", "-33.0", "0.0", "0.0"]  # no "-0.0" on screen
    assert trace.total == 29.0
    assert (trace.row, trace.col, trace.top, trace.left) == (0, 0, 0, 0)


def test_tutorial_same_padding_figure():
    # Hinh 13: the 4x4 image with one pixel of zero padding on every side.
    expected = [
        [0, 0, 0, 0, 0, 0],
        [0, 0, 50, 0, 29, 0],
        [0, 0, 80, 31, 2, 0],
        [0, 33, 90, 0, 75, 0],
        [0, 0, 9, 0, 95, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    np.testing.assert_array_equal(ops.pad(TUTORIAL_IMAGE, "same"), expected)
    np.testing.assert_array_equal(ops.pad(TUTORIAL_IMAGE, "valid"), TUTORIAL_IMAGE)


def test_tutorial_conv_layer_shape():
    # 28x28 input, 8 filters, valid padding -> 26x26x8 (tutorial, section d).
    kernels = np.random.default_rng(0).normal(size=(8, 3, 3))
    image = np.random.default_rng(1).integers(0, 256, size=(28, 28))
    out = ops.conv2d_multi(image, kernels)
    assert out.shape == (26, 26, 8)
    for f in range(8):
        np.testing.assert_allclose(out[:, :, f], correlate2d(image, kernels[f], mode="valid"))


# ---------------------------------------------------------------------------------------------
# Convolution against scipy and the loop reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pad_value", [0, 255, "mean"])
def test_same_padding_matches_scipy(seed, pad_value):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(rng.integers(3, 12), rng.integers(3, 12))).astype(float)
    kernel = rng.normal(size=(3, 3))
    value = image.mean() if pad_value == "mean" else pad_value
    expected = correlate2d(np.pad(image, 1, constant_values=value), kernel, mode="valid")
    out = ops.conv2d(image, kernel, padding="same", pad_value=pad_value)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_valid_matches_scipy_and_loop_reference(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 6))
    image = rng.normal(size=(rng.integers(k, 12), rng.integers(k, 12)))
    kernel = rng.normal(size=(k, k))
    out = ops.conv2d(image, kernel)
    np.testing.assert_allclose(out, correlate2d(image, kernel, mode="valid"), atol=1e-12)
    np.testing.assert_allclose(out, reference_conv(image, kernel), atol=1e-12)


def test_conv_is_cross_correlation_not_convolution():
    # A kernel that is not symmetric: flipping it would change the answer.
    image = np.arange(16.0).reshape(4, 4)
    kernel = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]])  # picks the window's top-left
    np.testing.assert_array_equal(ops.conv2d(image, kernel), image[:2, :2])


@pytest.mark.parametrize("k, before, after", [(2, 0, 1), (4, 1, 2), (5, 2, 2)])
def test_same_padding_even_kernels_put_the_extra_on_bottom_right(k, before, after):
    rng = np.random.default_rng(k)
    image = rng.normal(size=(7, 6))
    kernel = rng.normal(size=(k, k))
    padded = np.pad(image, ((before, after), (before, after)), constant_values=3.0)
    np.testing.assert_array_equal(ops.pad(image, "same", 3.0, kernel_size=k), padded)
    out = ops.conv2d(image, kernel, padding="same", pad_value=3.0)
    np.testing.assert_allclose(out, correlate2d(padded, kernel, mode="valid"), atol=1e-12)


@pytest.mark.parametrize("stride", [2, 3])
def test_valid_stride_takes_every_nth_pixel_of_stride_one(stride):
    rng = np.random.default_rng(stride)
    image = rng.normal(size=(9, 8))
    kernel = rng.normal(size=(3, 3))
    full = ops.conv2d(image, kernel, padding="valid")
    strided = ops.conv2d(image, kernel, padding="valid", strides=stride)
    np.testing.assert_array_equal(strided, full[::stride, ::stride])
    np.testing.assert_allclose(
        strided, reference_conv(image, kernel, "valid", 0, stride), atol=1e-12
    )


@pytest.mark.parametrize("stride", [2, 3])
def test_same_stride_pads_like_keras(stride):
    rng = np.random.default_rng(stride)
    image = rng.normal(size=(9, 8))
    kernel = rng.normal(size=(3, 3))
    strided = ops.conv2d(image, kernel, padding="same", pad_value=1.5, strides=stride)
    assert strided.shape == (-(-9 // stride), -(-8 // stride))
    np.testing.assert_allclose(
        strided, reference_conv(image, kernel, "same", 1.5, stride), atol=1e-12
    )
    # 9 rows, stride 2: 1 before and 1 after, so the stride-1 rows 0, 2, 4, ...; 8 columns:
    # 0 before and 1 after (Keras), so the windows start one column right: columns 1, 3, 5, 7
    if stride == 2:
        full = ops.conv2d(image, kernel, padding="same", pad_value=1.5)
        np.testing.assert_allclose(strided, full[::2, 1::2], atol=1e-12)
        assert ops.same_padding(9, 3, 2) == (1, 1) and ops.same_padding(8, 3, 2) == (0, 1)


def test_conv2d_multi_stacks_each_kernel():
    rng = np.random.default_rng(5)
    image = rng.normal(size=(6, 7))
    kernels = rng.normal(size=(3, 3, 3))
    out = ops.conv2d_multi(image, kernels, padding="same", pad_value="mean", strides=2)
    assert out.shape == (3, 4, 3)
    for f in range(3):
        np.testing.assert_allclose(
            out[:, :, f], reference_conv(image, kernels[f], "same", image.mean(), 2), atol=1e-12
        )


def test_pad_mean_is_per_channel_for_colour_images():
    image = np.stack([np.full((2, 3), 10.0), np.arange(6.0).reshape(2, 3)], axis=-1)
    padded = ops.pad(image, "same", "mean")
    assert padded.shape == (4, 5, 2)
    np.testing.assert_array_equal(padded[0, 0], [10.0, 2.5])
    np.testing.assert_array_equal(padded[1:3, 1:4], image)


@pytest.mark.parametrize("padding, stride", [("valid", 1), ("same", 1), ("same", 2), ("valid", 3)])
def test_conv_trace_every_pixel_matches_loop_reference(padding, stride):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(6, 5)).astype(float)
    kernel = rng.integers(-3, 4, size=(3, 3)).astype(float)
    expected = reference_conv(image, kernel, padding, 255, stride)
    padded = reference_pad(image, 3, padding, 255, stride)
    for row in range(expected.shape[0]):
        for col in range(expected.shape[1]):
            trace = ops.conv_trace(image, kernel, row, col, padding, 255, stride)
            assert (trace.top, trace.left) == (row * stride, col * stride)
            window = padded[trace.top : trace.top + 3, trace.left : trace.left + 3]
            np.testing.assert_array_equal(trace.window, window)
            np.testing.assert_array_equal(trace.products, window * kernel)
            assert trace.total == expected[row, col]  # integers: exact
            assert [t[2] for t in trace.table()] == list((window * kernel).ravel())


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_conv_matches_torch(torch):
    rng = np.random.default_rng(11)
    image = rng.normal(size=(9, 10))
    for k in (2, 3, 4, 5):
        kernel = rng.normal(size=(k, k))
        x = torch.tensor(image)[None, None]
        w = torch.tensor(kernel)[None, None]
        for padding in ("valid", "same"):
            expected = torch.nn.functional.conv2d(x, w, padding=padding)[0, 0].numpy()
            np.testing.assert_allclose(ops.conv2d(image, kernel, padding), expected, atol=1e-10)
        expected = torch.nn.functional.conv2d(x, w, stride=2)[0, 0].numpy()
        np.testing.assert_allclose(ops.conv2d(image, kernel, strides=2), expected, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Output sizes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, k, padding, stride, expected",
    [
        (28, 3, "valid", 1, 26),  # the tutorial's conv layer
        (28, 3, "same", 1, 28),
        (28, 3, "same", 2, 14),
        (4, 3, "valid", 1, 2),  # the tutorial's 4x4 example
        (5, 3, "valid", 2, 2),  # floor((5 - 3) / 2) + 1
        (7, 3, "valid", 3, 2),  # floor((7 - 3) / 3) + 1
        (4, 2, "same", 1, 4),
        (2, 3, "valid", 1, 0),  # does not fit
    ],
)
def test_output_size_hand_values(n, k, padding, stride, expected):
    assert ops.output_size(n, k, padding, stride) == expected


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    k=st.integers(1, 5),
    padding=st.sampled_from(["valid", "same"]),
    stride=st.integers(1, 3),
)
def test_conv_output_shape_property(h, w, k, padding, stride):
    image = np.arange(h * w, dtype=float).reshape(h, w) % 7
    kernel = np.ones((k, k))
    oh, ow = ops.output_size(h, k, padding, stride), ops.output_size(w, k, padding, stride)
    # Independent count: window starts 0, stride, 2*stride, ... that fit in the padded input.
    for n, size in ((h, oh), (w, ow)):
        extra = max((-(-n // stride) - 1) * stride + k - n, 0) if padding == "same" else 0
        if n + extra >= k:
            assert size == len(range(0, n + extra - k + 1, stride))
        else:
            assert size <= 0
    if oh >= 1 and ow >= 1:
        out = ops.conv2d(image, kernel, padding=padding, strides=stride)
        assert out.shape == (oh, ow)
        np.testing.assert_allclose(out, reference_conv(image, kernel, padding, 0, stride))
    else:
        with pytest.raises(InputError, match="does not fit") as error:
            ops.conv2d(image, kernel, padding=padding, strides=stride)
        assert_one_sentence(error)


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image, kernel, kwargs, fragment",
    [
        (np.zeros((4, 4, 3)), VERTICAL_SOBEL, {}, "2-D"),
        (np.zeros(4), VERTICAL_SOBEL, {}, "2-D"),
        (np.zeros((0, 4)), VERTICAL_SOBEL, {}, "empty"),
        ([[1, 2], [3]], VERTICAL_SOBEL, {}, "rectangular"),
        ([["a", "b"], ["c", "d"]], VERTICAL_SOBEL, {}, "rectangular"),
        (np.zeros((2, 5)), VERTICAL_SOBEL, {}, "does not fit"),
        (np.zeros((4, 4)), np.zeros((3, 3, 1)), {}, "kernel"),
        (np.zeros((4, 4)), np.zeros((0, 0)), {}, "kernel"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"padding": "full"}, "Padding"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"padding": "SAME"}, "Padding"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"strides": 0}, "stride"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"strides": 1.5}, "stride"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"strides": True}, "stride"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"pad_value": "median"}, "pad value"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"pad_value": float("nan")}, "pad value"),
        (np.zeros((4, 4)), VERTICAL_SOBEL, {"pad_value": None}, "pad value"),
    ],
)
def test_conv2d_rejects_bad_input_with_one_sentence(image, kernel, kwargs, fragment):
    with pytest.raises(InputError, match=fragment) as error:
        ops.conv2d(image, kernel, **kwargs)
    assert_one_sentence(error)


def test_conv2d_accepts_numpy_integer_stride_and_pad_value():
    out = ops.conv2d(TUTORIAL_IMAGE, VERTICAL_SOBEL, "same", np.uint8(255), np.int64(2))
    # 4x4, stride 2, "same": Keras pads 0 before and 1 after (2 outputs per axis)
    padded = np.pad(TUTORIAL_IMAGE, ((0, 1), (0, 1)), constant_values=255)
    expected = correlate2d(padded, VERTICAL_SOBEL, "valid")
    np.testing.assert_array_equal(out, expected[::2, ::2])


def test_conv_trace_rejects_pixel_outside_output():
    with pytest.raises(InputError, match="outside") as error:
        ops.conv_trace(TUTORIAL_IMAGE, VERTICAL_SOBEL, 2, 0)
    assert_one_sentence(error)
    with pytest.raises(InputError):
        ops.conv_trace(TUTORIAL_IMAGE, VERTICAL_SOBEL, 0, -1)


def test_uint8_images_do_not_overflow():
    image = np.full((3, 3), 255, dtype=np.uint8)
    assert ops.conv2d(image, np.full((3, 3), 2))[0, 0] == 255 * 2 * 9


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------


def test_tutorial_image_max_pooling_by_hand():
    # Windows [[0,50],[0,80]] [[0,29],[31,2]] / [[33,90],[0,9]] [[0,75],[0,95]].
    np.testing.assert_array_equal(ops.pool2d(TUTORIAL_IMAGE, 2, "max"), [[80, 31], [90, 95]])
    np.testing.assert_array_equal(ops.pool2d(TUTORIAL_IMAGE, 2, "min"), [[0, 0], [0, 0]])
    np.testing.assert_array_equal(ops.pool2d(TUTORIAL_IMAGE, 2, "avg"), [[32.5, 15.5], [33, 42.5]])


@pytest.mark.parametrize("mode", ["max", "avg", "min"])
@pytest.mark.parametrize("shape, size", [((6, 8), 2), ((7, 5), 2), ((9, 9, 3), 3), ((5, 7, 2), 3)])
def test_pool2d_matches_loop_reference(mode, shape, size):
    x = np.random.default_rng(len(shape) + size).normal(size=shape)
    out = ops.pool2d(x, size, mode)
    assert out.shape == (shape[0] // size, shape[1] // size) + shape[2:]
    np.testing.assert_allclose(out, reference_pool(x, size, mode), atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg", "min"])
@pytest.mark.parametrize("shape, size", [((6, 8), 2), ((7, 5, 2), 2), ((8, 7, 3), 3)])
def test_pool_backward_without_ties_equals_the_tutorials_backprop(mode, shape, size):
    # Continuous random values: no ties, so "first tied cell" and "every tied cell" agree.
    rng = np.random.default_rng(size)
    x = rng.normal(size=shape)
    grad_out = rng.normal(size=ops.pool2d(x, size, mode).shape)
    expected = reference_pool_backward(x, grad_out, size, mode, every_tie=True)
    np.testing.assert_allclose(ops.pool2d_backward(x, grad_out, size, mode), expected, atol=1e-15)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_pool_backward_with_ties_routes_to_first_cell_in_row_major_order(mode):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, size=(8, 6, 2)).astype(float)  # many ties
    grad_out = rng.normal(size=(4, 3, 2))
    ours = ops.pool2d_backward(x, grad_out, 2, mode)
    np.testing.assert_array_equal(ours, reference_pool_backward(x, grad_out, 2, mode))
    # The documented difference from the tutorial's code, on a tiny example:
    tie = np.array([[1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(ops.pool2d_backward(tie, [[5.0]]), [[5, 0], [0, 0]])
    tutorial = reference_pool_backward(tie, np.array([[5.0]]), 2, every_tie=True)
    np.testing.assert_array_equal(tutorial, [[5, 5], [0, 5]])


def test_pool_trace_every_cell():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 4, size=(7, 6, 2)).astype(float)
    for mode in ("max", "min", "avg"):
        pooled = reference_pool(x, 3, mode)
        for ch in range(2):
            for row in range(2):
                for col in range(2):
                    trace = ops.pool_trace(x, row, col, 3, mode, channel=ch)
                    assert (trace.top, trace.left) == (3 * row, 3 * col)
                    window = x[3 * row : 3 * row + 3, 3 * col : 3 * col + 3, ch]
                    np.testing.assert_array_equal(trace.window, window)
                    assert trace.value == pytest.approx(pooled[row, col, ch])
                    if mode == "avg":
                        assert trace.chosen is None
                        continue
                    # The first cell in row-major order holding the max/min.
                    first = next(
                        (3 * row + r, 3 * col + c)
                        for r in range(3)
                        for c in range(3)
                        if window[r, c] == pooled[row, col, ch]
                    )
                    assert trace.chosen == first


def test_pool_trace_on_tutorial_image():
    trace = ops.pool_trace(TUTORIAL_IMAGE, 1, 1)
    assert (trace.top, trace.left, trace.value, trace.chosen) == (2, 2, 95.0, (3, 3))
    np.testing.assert_array_equal(trace.window, [[0, 75], [0, 95]])


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: ops.pool2d(np.zeros((3, 3)), 4), "does not fit"),
        (lambda: ops.pool2d(np.zeros((3, 3)), 0), "pool size"),
        (lambda: ops.pool2d(np.zeros((3, 3)), 2.0), "pool size"),
        (lambda: ops.pool2d(np.zeros((3, 3)), 2, "mean"), "mode"),
        (lambda: ops.pool2d(np.zeros((2, 2, 2, 2)), 2), "image"),
        (lambda: ops.pool2d(np.zeros((0, 2)), 2), "empty"),
        (lambda: ops.pool2d_backward(np.zeros((4, 4)), np.zeros((2, 3))), "gradient"),
        (lambda: ops.pool2d_backward(np.zeros((4, 4, 1)), np.zeros((2, 2))), "gradient"),
        (lambda: ops.pool_trace(np.zeros((4, 4)), 2, 0), "outside"),
        (lambda: ops.pool_trace(np.zeros((4, 4, 2)), 0, 0, channel=2), "channel"),
    ],
)
def test_pool_rejects_bad_input_with_one_sentence(call, fragment):
    with pytest.raises(InputError, match=fragment) as error:
        call()
    assert_one_sentence(error)


@st.composite
def pool_inputs(draw):
    """(x, size): x is (H, W) or (H, W, C) of small integers (plenty of ties), size fits."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    channels = draw(st.sampled_from([(), (1,), (3,)]))
    size = draw(st.integers(1, min(3, h, w)))
    values = st.integers(-3, 3).map(float)
    return draw(arrays(np.float64, (h, w) + channels, elements=values)), size


@settings(max_examples=150, deadline=None)
@given(pool_inputs())
def test_pooling_invariants(x_and_size):
    x, size = x_and_size
    high, mean, low = (ops.pool2d(x, size, mode) for mode in ("max", "avg", "min"))
    assert high.shape == mean.shape == low.shape == reference_pool(x, size, "max").shape
    assert np.all(high >= mean - 1e-12) and np.all(mean >= low - 1e-12)
    np.testing.assert_array_equal(ops.pool2d(np.full_like(x, 7.25), size), np.full_like(high, 7.25))

    grad_out = np.arange(1.0, high.size + 1).reshape(high.shape)  # nonzero everywhere
    for mode in ("max", "avg"):
        grad_in = ops.pool2d_backward(x, grad_out, size, mode)
        assert grad_in.shape == x.shape
        assert math.isclose(grad_in.sum(), grad_out.sum(), rel_tol=1e-12)

    grad_in = ops.pool2d_backward(x, grad_out, size, "max")
    x3, g3 = np.atleast_3d(x), np.atleast_3d(grad_in)
    h3 = high if high.ndim == 3 else high[:, :, None]
    for r, c, ch in zip(*np.nonzero(g3), strict=True):
        assert r < h3.shape[0] * size and c < h3.shape[1] * size  # not in the cropped remainder
        assert x3[r, c, ch] == h3[r // size, c // size, ch]  # it holds its window's max
    assert np.count_nonzero(g3) == high.size  # exactly one cell per window


# ---------------------------------------------------------------------------------------------
# Softmax and cross-entropy
# ---------------------------------------------------------------------------------------------


def naive_softmax(z):
    """The tutorial's Softmax.forward: exp(totals) / sum(exp(totals)) -- fine for small z."""
    exp = np.exp(z)
    return exp / np.sum(exp)


def naive_loss(z, label):
    return -math.log(naive_softmax(z)[label])


logit_vectors = arrays(
    np.float64, st.integers(1, 12), elements=st.floats(-1000, 1000, allow_nan=False)
)


@settings(max_examples=100, deadline=None)
@given(logit_vectors, st.floats(-500, 500))
def test_softmax_sums_to_one_and_is_shift_invariant(z, shift):
    p = ops.softmax(z)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    np.testing.assert_allclose(ops.softmax(z + shift), p, atol=1e-9)


def test_softmax_matches_naive_formula_and_does_not_overflow():
    z = np.array([1.0, 2.0, 0.5, -3.0])
    np.testing.assert_allclose(ops.softmax(z), naive_softmax(z), rtol=1e-14)
    big = ops.softmax([1000.0, 1000.0, 999.0])  # naive exp(1000) overflows
    np.testing.assert_allclose(big, naive_softmax(np.array([1.0, 1.0, 0.0])), rtol=1e-14)
    np.testing.assert_allclose(ops.softmax([-1000.0, -1000.0]), [0.5, 0.5])


def test_softmax_axis():
    z = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(ops.softmax(z, axis=0).sum(axis=0), np.ones(4))
    np.testing.assert_allclose(ops.softmax(z)[1], naive_softmax(z[1]))


def test_cross_entropy_by_hand():
    assert ops.cross_entropy([0.25, 0.25, 0.5], 2) == pytest.approx(math.log(2))
    assert ops.cross_entropy([0.1, 0.9], 0) == pytest.approx(-math.log(0.1))
    assert math.isfinite(ops.cross_entropy([1.0, 0.0], 1))


@pytest.mark.parametrize("label", [-1, 3, 1.0, True, "1"])
def test_cross_entropy_rejects_bad_label(label):
    with pytest.raises(InputError, match="label") as error:
        ops.cross_entropy([0.2, 0.3, 0.5], label)
    assert_one_sentence(error)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_trace_steps_and_gradient_by_finite_differences(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3, size=10)
    label = int(rng.integers(10))
    trace = ops.softmax_trace(logits, label)
    np.testing.assert_array_equal(trace.shifted, logits - logits.max())
    np.testing.assert_allclose(trace.exp, np.exp(logits - logits.max()))
    assert trace.total == pytest.approx(np.exp(logits - logits.max()).sum())
    np.testing.assert_allclose(trace.probs, naive_softmax(logits), rtol=1e-12)
    assert trace.label == label
    assert trace.loss == pytest.approx(naive_loss(logits, label), rel=1e-12)
    assert trace.loss == pytest.approx(ops.cross_entropy(trace.probs, label), rel=1e-12)
    h = 1e-6
    numeric = np.array(
        [
            (naive_loss(logits + h * e, label) - naive_loss(logits - h * e, label)) / (2 * h)
            for e in np.eye(10)
        ]
    )
    np.testing.assert_allclose(trace.grad_logits, numeric, atol=1e-7)


def test_softmax_trace_with_huge_logits_stays_finite():
    logits = np.array([1000.0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    trace = ops.softmax_trace(logits, 1)
    # p[1] = e^-1000 / (1 + 9 e^-1000) underflows, but -log p[1] = 1000 + log(1 + 9e^-1000).
    assert trace.loss == pytest.approx(1000.0)
    np.testing.assert_allclose(trace.grad_logits, [1, -1, 0, 0, 0, 0, 0, 0, 0, 0], atol=1e-300)
    assert ops.softmax_trace(logits, 0).loss == pytest.approx(0.0, abs=1e-300)


@pytest.mark.parametrize(
    "logits, label, fragment",
    [
        (np.zeros(10), 10, "label"),
        (np.zeros((2, 5)), 0, "1-D"),
        (np.array([]), 0, "1-D"),
        (np.array([0.0, np.nan]), 0, "finite"),
        (np.array([0.0, np.inf]), 0, "finite"),
    ],
)
def test_softmax_trace_rejects_bad_input(logits, label, fragment):
    with pytest.raises(InputError, match=fragment) as error:
        ops.softmax_trace(logits, label)
    assert_one_sentence(error)
