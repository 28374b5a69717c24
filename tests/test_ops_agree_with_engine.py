"""The teaching operations (cnnviz.ops) and the engine's layers (cnnviz.nn) give the same
numbers: one convention for "same" padding (Keras's), strides and pool sizes, one validator."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz import ops
from cnnviz.errors import InputError
from cnnviz.nn import AveragePooling2D, Conv2D, Dense, MaxPooling2D


def conv_layer(kernel, strides, padding, shape):
    """A Conv2D with one filter set to ``kernel`` (k, k), float64, no bias."""
    layer = Conv2D(1, kernel.shape, strides=strides, padding=padding, use_bias=False)
    layer.build(shape)
    layer.params["kernel"] = kernel[:, :, None, None].astype(np.float64)
    return layer


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(9, 8), (10, 7), (4, 4)])
def test_conv2d_equals_the_conv2d_layer(padding, strides, k, shape):
    rng = np.random.default_rng(k * 10 + strides)
    image = rng.normal(size=shape)
    kernel = rng.normal(size=(k, k))
    if padding == "valid" and k > min(shape):
        return
    layer = conv_layer(kernel, strides, padding, (*shape, 1))
    expected = layer.forward(image[None, :, :, None])[0, :, :, 0]
    out = ops.conv2d(image, kernel, padding, 0.0, strides)
    assert out.shape == expected.shape
    assert out.shape == tuple(ops.output_size(n, k, padding, strides) for n in shape)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    # the trace of each pixel sums to the same number
    trace = ops.conv_trace(image, kernel, out.shape[0] - 1, out.shape[1] - 1, padding, 0.0, strides)
    assert trace.total == pytest.approx(expected[-1, -1], abs=1e-12)


@pytest.mark.parametrize("pool_size", [1, 2, 3])
@pytest.mark.parametrize("shape", [(6, 6, 3), (7, 5, 2), (4, 9, 1)])
@pytest.mark.parametrize("mode, layer_class", [("max", MaxPooling2D), ("avg", AveragePooling2D)])
def test_pool2d_equals_the_pooling_layers(pool_size, shape, mode, layer_class):
    rng = np.random.default_rng(pool_size)
    x = rng.normal(size=shape)
    layer = layer_class(pool_size=pool_size)
    layer.build(shape)
    for training in (False, True):  # MaxPooling2D finds its maxima two ways
        expected = layer.forward(x[None], training)[0]
        np.testing.assert_allclose(ops.pool2d(x, pool_size, mode), expected, rtol=1e-12)
    dy = rng.normal(size=expected.shape)
    np.testing.assert_allclose(
        ops.pool2d_backward(x, dy, pool_size, mode), layer.backward(dy[None])[0], rtol=1e-12
    )


def test_softmax_is_one_function():
    from cnnviz import nn
    from cnnviz.nn import layers

    assert nn.softmax is ops.softmax and layers.softmax is ops.softmax
    z = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    assert ops.softmax(z).dtype == np.float32
    assert ops.softmax([1, 2, 3]).dtype == np.float64


@pytest.mark.parametrize(
    "teaching, engine",
    [
        (
            lambda: ops.conv2d(np.zeros((5, 5)), np.ones((3, 3)), strides=2.0),
            lambda: Conv2D(1, 3, 2.0),
        ),
        (lambda: ops.conv2d(np.zeros((5, 5)), np.ones((3, 3)), strides=0), lambda: Conv2D(1, 3, 0)),
        (lambda: ops.pad(np.zeros((5, 5)), "same", kernel_size=3.0), lambda: Conv2D(1, 3.0)),
        (lambda: ops.pad(np.zeros((5, 5)), "same", kernel_size=True), lambda: Conv2D(1, True)),
        (lambda: ops.pool2d(np.zeros((4, 4)), 2.0), lambda: MaxPooling2D(2.0)),
        (lambda: ops.pool2d(np.zeros((4, 4)), 0), lambda: AveragePooling2D(0)),
        (
            lambda: ops.conv2d(np.zeros((5, 5)), np.ones((3, 3)), "full"),
            lambda: Conv2D(1, 3, 1, "full"),
        ),
    ],
)
def test_ops_and_layers_refuse_the_same_values_with_the_same_sentence(teaching, engine):
    with pytest.raises(InputError) as a:
        teaching()
    with pytest.raises(InputError) as b:
        engine()
    assert str(a.value) == str(b.value)
    assert str(a.value).count(". ") == 0 and str(a.value).endswith(".")


def test_counts_refuse_non_whole_numbers():
    with pytest.raises(InputError, match="number of units"):
        Dense(10.0)
    with pytest.raises(InputError, match="number of filters"):
        Conv2D(2.5, 3)
    assert Conv2D(np.int64(4), (3, 3), strides=(2, 2)).strides == 2
    with pytest.raises(InputError, match="same for rows and columns"):
        MaxPooling2D((2, 3))
