"""Each layer against independent oracles: slow loops from the definitions, finite differences,
and PyTorch when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.nn import AveragePooling2D, Conv2D, Dense, Flatten, MaxPooling2D, ReLU


def build64(layer, input_shape, seed=0):
    """Build a layer and switch its parameters to float64 so finite differences are exact."""
    layer.build(input_shape, np.random.default_rng(seed))
    for k in layer.params:
        layer.params[k] = layer.params[k].astype(np.float64)
        rng = np.random.default_rng(seed + 1)
        if k == "bias":
            layer.params[k] = rng.normal(size=layer.params[k].shape)
    return layer


def slow_conv(x, kernel, bias, stride, pads):
    """The tutorial's definition, one output pixel at a time: sum(window * filter)."""
    t, b, left, r = pads
    x = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)))
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, ho, wo, f))
    for s in range(n):
        for i in range(ho):
            for j in range(wo):
                win = x[s, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
                for k in range(f):
                    out[s, i, j, k] = np.sum(win * kernel[:, :, :, k]) + (
                        bias[k] if bias is not None else 0
                    )
    return out


def numeric_grad(f, arr, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of arr (in place)."""
    g = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        fp = f()
        arr[i] = old - eps
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def check_layer_gradients(layer, x, rng):
    """Compare backward's grads with finite differences of L = sum(out * w) for random w."""
    out = layer.forward(x)
    w = rng.normal(size=out.shape)

    def loss():
        return float(np.sum(layer.forward(x) * w))

    layer.forward(x)
    dx = layer.backward(w)
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    for k, p in layer.params.items():
        np.testing.assert_allclose(
            analytic[k], numeric_grad(loss, p), rtol=1e-5, atol=1e-6, err_msg=f"{layer.kind} d/d{k}"
        )
    np.testing.assert_allclose(
        dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-6, err_msg=f"{layer.kind} d/dx"
    )


# Keras's (TensorFlow's) "same" rule, worked by hand for a 7 x 6 input: the output is
# ceil(input / stride); the padding needed is (out - 1) * stride + kernel - input, split with the
# odd pixel at the bottom / right. (top, bottom, left, right) by (kernel size, stride):
#   k3 s1: rows 6 + 3 - 7 = 2 -> (1, 1); cols 5 + 3 - 6 = 2 -> (1, 1)
#   k3 s2: rows 3*2 + 3 - 7 = 2 -> (1, 1); cols 2*2 + 3 - 6 = 1 -> (0, 1)
#   k2 s1: rows 6 + 2 - 7 = 1 -> (0, 1); cols 5 + 2 - 6 = 1 -> (0, 1)
#   k2 s2: rows 3*2 + 2 - 7 = 1 -> (0, 1); cols 2*2 + 2 - 6 = 0 -> (0, 0)
SAME_PADS_7x6 = {
    (3, 1): (1, 1, 1, 1),
    (3, 2): (1, 1, 0, 1),
    (2, 1): (0, 1, 0, 1),
    (2, 2): (0, 1, 0, 0),
}


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("ksize", [3, 2])
@pytest.mark.parametrize("channels, batch", [(3, 2), (5, 2), (5, 1), (1, 1)])
def test_conv2d_forward_matches_slow_loop(padding, stride, ksize, channels, batch):
    # 1-3 channels take im2col's gather, 5 its strided view; one image and a batch.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(batch, 7, 6, channels))
    layer = build64(Conv2D(4, ksize, strides=stride, padding=padding), (7, 6, channels))
    out = layer.forward(x)
    pads = SAME_PADS_7x6[ksize, stride] if padding == "same" else (0, 0, 0, 0)
    expected = slow_conv(x, layer.params["kernel"], layer.params["bias"], stride, pads)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    if padding == "same":  # Keras: output = ceil(input / stride)
        assert out.shape[1:3] == (-(-7 // stride), -(-6 // stride))


def test_conv2d_matches_scipy_on_one_channel():
    from scipy.signal import correlate2d

    rng = np.random.default_rng(2)
    img = rng.normal(size=(9, 8))
    layer = build64(Conv2D(1, 3, use_bias=False), (9, 8, 1))
    out = layer.forward(img[None, :, :, None])[0, :, :, 0]
    np.testing.assert_allclose(
        out, correlate2d(img, layer.params["kernel"][:, :, 0, 0], "valid"), rtol=1e-12
    )


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: Conv2D(3, 3, activation="relu"), (6, 5, 2)),
        (lambda: Conv2D(2, 3, strides=2, padding="same"), (7, 6, 2)),
        (lambda: Conv2D(3, 3, strides=2, activation="relu"), (7, 6, 5)),
        (lambda: Conv2D(2, 2, padding="same", use_bias=False), (5, 5, 1)),
        (lambda: MaxPooling2D(2), (6, 5, 3)),
        (lambda: MaxPooling2D(3), (7, 6, 2)),
        (lambda: AveragePooling2D(2), (5, 6, 2)),
        (lambda: Flatten(), (3, 4, 2)),
        (lambda: ReLU(), (4, 4, 2)),
        (lambda: Dense(5, activation="relu"), (7,)),
        (lambda: Dense(4, activation="softmax"), (6,)),
        (lambda: Dense(3), (6,)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_gradients_by_finite_differences(make, shape):
    rng = np.random.default_rng(3)
    layer = build64(make(), shape)
    x = rng.normal(size=(3, *shape))
    check_layer_gradients(layer, x, rng)


def test_maxpool_routes_gradient_to_first_max_only():
    """The tutorial's MaxPool2.backprop copies dy to the max; on ties we route to the first one
    (as Keras and PyTorch do), so the total gradient is conserved."""
    x = np.zeros((1, 4, 4, 1))
    x[0, 1, 1, 0] = 5.0  # a clear max in the top-left window; other windows are all ties
    layer = MaxPooling2D(2)
    layer.build((4, 4, 1))
    layer.forward(x)
    dy = np.arange(1, 5, dtype=float).reshape(1, 2, 2, 1)
    dx = layer.backward(dy)[0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[1, 1] = 1  # the max of window (0, 0)
    expected[0, 2] = 2  # first (top-left) of the tied window (0, 1)
    expected[2, 0] = 3
    expected[2, 2] = 4
    np.testing.assert_array_equal(dx, expected)
    assert dx.sum() == dy.sum()


def _first_max_routing_loop(x: np.ndarray, dy: np.ndarray, p: int):
    """Reference: loops over every window; the gradient goes to the first maximum in
    row-major order (what Keras and PyTorch do on ties)."""
    n, h, w, c = x.shape
    ho, wo = h // p, w // p
    out = np.zeros((n, ho, wo, c))
    dx = np.zeros_like(x)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                for f in range(c):
                    region = x[b, i * p : i * p + p, j * p : j * p + p, f]
                    k = int(np.argmax(region))  # argmax returns the first maximum, row-major
                    out[b, i, j, f] = region.flat[k]
                    dx[b, i * p + k // p, j * p + k % p, f] = dy[b, i, j, f]
    return out, dx


@pytest.mark.parametrize(
    "p, shape, n",
    [
        (2, (6, 6, 3), 1),
        (2, (7, 5, 2), 3),
        (3, (8, 7, 2), 2),
        (1, (3, 4, 2), 2),
        (2, (26, 26, 8), 4),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_maxpool_ties_go_to_the_first_max(p, shape, n, training):
    """Inputs full of ties (values from {0, 1, 2}). Small training batches record the winners in
    forward; larger ones (26x26x8 at batch 8 is over WINNERS_UP_TO) and prediction-mode forward
    passes leave backward to find them: every way must match the loops."""
    rng = np.random.default_rng(p * 100 + n)
    x = rng.integers(0, 3, size=(n, *shape)).astype(np.float32)
    layer = MaxPooling2D(p)
    layer.build(shape)
    out = layer.forward(x, training=training)
    dy = rng.normal(size=out.shape).astype(np.float32)
    dx = layer.backward(dy)
    ref_out, ref_dx = _first_max_routing_loop(x, dy, p)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)
    assert dx.dtype == np.float32
    x[...] = -1.0  # the output must not be a view of the input
    np.testing.assert_array_equal(out, ref_out)


def test_maxpool_matches_tutorial_loop_without_ties():
    """The tutorial's MaxPool2 forward and backprop, written as its loops, on tie-free data."""
    rng = np.random.default_rng(4)
    x = rng.permutation(26 * 26 * 8).reshape(26, 26, 8).astype(float)
    d_out = rng.normal(size=(13, 13, 8))
    out = np.zeros((13, 13, 8))
    d_in = np.zeros_like(x)
    for i in range(13):
        for j in range(13):
            region = x[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2]
            amax = np.amax(region, axis=(0, 1))
            out[i, j] = amax
            for i2 in range(2):
                for j2 in range(2):
                    for f2 in range(8):
                        if region[i2, j2, f2] == amax[f2]:
                            d_in[i * 2 + i2, j * 2 + j2, f2] = d_out[i, j, f2]
    layer = MaxPooling2D(2)
    layer.build((26, 26, 8))
    np.testing.assert_array_equal(layer.forward(x[None])[0], out)
    np.testing.assert_array_equal(layer.backward(d_out[None])[0], d_in)


# ---------------------------------------------------------------- PyTorch as an oracle


def test_layers_against_pytorch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 10, 9, 3))
    # "same" on 10 x 9 by hand (see SAME_PADS_7x6): stride 1 pads (1, 1, 1, 1); stride 2 gives
    # a 5 x 5 output, rows 4*2 + 3 - 10 = 1 -> (0, 1), cols 4*2 + 3 - 9 = 2 -> (1, 1).
    cases = [(1, "valid", (0, 0, 0, 0)), (2, "valid", (0, 0, 0, 0))]
    cases += [(1, "same", (1, 1, 1, 1)), (2, "same", (0, 1, 1, 1))]
    for stride, padding, pad in cases:
        conv = build64(Conv2D(5, 3, strides=stride, padding=padding, activation="relu"), (10, 9, 3))
        out = conv.forward(x)
        dy = rng.normal(size=out.shape)
        dx = conv.backward(dy)
        xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        wt = torch.tensor(conv.params["kernel"].transpose(3, 2, 0, 1), requires_grad=True)
        bt = torch.tensor(conv.params["bias"], requires_grad=True)
        xp = F.pad(xt, (pad[2], pad[3], pad[0], pad[1]))
        yt = torch.relu(F.conv2d(xp, wt, bt, stride=stride))
        yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
        np.testing.assert_allclose(out, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10)
        np.testing.assert_allclose(
            dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            conv.grads["kernel"], wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10
        )
        np.testing.assert_allclose(conv.grads["bias"], bt.grad.numpy(), rtol=1e-10)

    pool = MaxPooling2D(2)
    pool.build((10, 9, 3))
    out = pool.forward(x)
    dy = rng.normal(size=out.shape)
    dx = pool.backward(dy)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = F.max_pool2d(xt, 2)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, yt.detach().numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1))

    dense = build64(Dense(6, activation="softmax"), (12,))
    xd = rng.normal(size=(5, 12))
    p = dense.forward(xd)
    xt = torch.tensor(xd, requires_grad=True)
    wt = torch.tensor(dense.params["kernel"], requires_grad=True)
    bt = torch.tensor(dense.params["bias"], requires_grad=True)
    pt = torch.softmax(xt @ wt + bt, dim=1)
    np.testing.assert_allclose(p, pt.detach().numpy(), rtol=1e-12)
