"""Layers of the engine: Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, ReLU.

Every layer has the same small interface (numpy-ml style):

- ``build(input_shape)`` creates the parameters for one sample's shape, e.g. (28, 28, 1);
- ``forward(x)`` takes a batch (N, ...) and returns the batch output;
- ``backward(dy)`` takes dL/d(output) and returns dL/d(input), filling ``grads``;
- ``params`` / ``grads``: dicts of arrays with the same keys ("kernel", "bias").

After a pass each layer keeps what the app shows: ``output`` (the feature maps),
``grad_output`` and ``grad_input``. Everything is float32 and batched (NHWC like Keras); no layer
loops over pixels or samples in Python. Kernels use Keras's layout and initialisers (Glorot
uniform, zero bias) so results compare with the tutorial's Keras run.
"""

from __future__ import annotations

import numpy as np

from cnnviz.errors import InputError

F32 = np.float32


def glorot_uniform(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras's default kernel initialiser: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(F32)


class Layer:
    """Base class: a layer without parameters that passes shapes through."""

    kind = "Layer"

    def __init__(self, name: str | None = None, input_shape: tuple | None = None):
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.output = None  # last forward output (N, ...)
        self.grad_output = None  # last dL/d output
        self.grad_input = None  # last dL/d input (None when not needed, e.g. the first layer)
        self.need_input_grad = True

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        return {"name": self.name}

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{self.kind}({cfg})"


def _relu_forward(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0, out=z)


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in Keras) over NHWC batches.

    kernel: (kh, kw, C_in, filters); bias: (filters,).
    forward: x (N, H, W, C_in) -> (N, H', W', filters), with
    H' = (H + 2p - kh) // stride + 1 (p = 0 for "valid", "same" keeps H' = ceil(H / stride)).

    It works by im2col: the kh*kw shifted views of the input are copied side by side into
    ``cols`` (N*H'*W', kh*kw*C_in), so the whole convolution is one matrix product with the
    kernel reshaped to (kh*kw*C_in, filters). The backward pass reuses ``cols``:
    dL/dkernel = cols^T @ dL/dz and dL/dcols = dL/dz @ kernel^T, scattered back (col2im).
    """

    kind = "Conv2D"

    def __init__(
        self,
        filters: int,
        kernel_size=3,
        strides=1,
        padding: str = "valid",
        use_bias: bool = True,
        activation: str | None = None,
        input_shape: tuple | None = None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.filters = _positive_int(filters, "filters")
        ks = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
        self.kernel_size = tuple(_positive_int(k, "kernel_size") for k in ks)
        st = strides if np.isscalar(strides) else strides[0]
        self.strides = _positive_int(st, "strides")
        if padding not in ("valid", "same"):
            raise InputError(f"Padding must be 'valid' or 'same', not {padding!r}.")
        self.padding = padding
        self.use_bias = bool(use_bias)
        if activation not in (None, "linear", "relu"):
            raise InputError(f"Conv2D activation must be None or 'relu', not {activation!r}.")
        self.activation = None if activation == "linear" else activation

    # --- shapes -------------------------------------------------------------------------
    def _pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) zero padding; 'same' puts the odd pixel bottom/right."""
        if self.padding == "valid":
            return 0, 0, 0, 0
        kh, kw = self.kernel_size
        s = self.strides
        ph = max((-(-h // s) - 1) * s + kh - h, 0)
        pw = max((-(-w // s) - 1) * s + kw - w, 0)
        return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        h, w, _ = input_shape
        t, b, left, r = self._pads(h, w)
        kh, kw = self.kernel_size
        ho = (h + t + b - kh) // self.strides + 1
        wo = (w + left + r - kw) // self.strides + 1
        if ho < 1 or wo < 1:
            raise InputError(
                f"A {kh}x{kw} kernel does not fit a {h}x{w} input with {self.padding} padding."
            )
        return ho, wo, self.filters

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        if len(input_shape) != 3:
            raise InputError(f"Conv2D needs inputs shaped (H, W, C), not {tuple(input_shape)}.")
        super().build(input_shape)
        rng = rng or np.random.default_rng()
        kh, kw = self.kernel_size
        cin = input_shape[2]
        self.params["kernel"] = glorot_uniform(
            rng, (kh, kw, cin, self.filters), kh * kw * cin, kh * kw * self.filters
        )
        if self.use_bias:
            self.params["bias"] = np.zeros(self.filters, F32)

    def _window_index(self, padded_shape: tuple) -> np.ndarray:
        """The im2col table: for output pixel (i, j) and kernel cell (di, dj, channel), the
        position of the input value it multiplies in the flattened padded image (H*W*C).

        Shape (H' * W' * kh * kw * C_in,), built once per input shape and kept.
        """
        if getattr(self, "_index_for", None) != padded_shape:
            hp, wp, c = padded_shape
            ho, wo, _ = self.output_shape
            kh, kw = self.kernel_size
            s = self.strides
            rows = (np.arange(ho) * s)[:, None, None, None, None] + np.arange(kh)[:, None, None]
            cols = (np.arange(wo) * s)[None, :, None, None, None] + np.arange(kw)[:, None]
            index = (rows * wp + cols) * c + np.arange(c)  # (H', W', kh, kw, C)
            self._index, self._index_for = index.reshape(-1), padded_shape
        return self._index

    # --- forward / backward ----------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, H, W, C_in) -> (N, H', W', filters)."""
        n, h, w, c = x.shape
        t, b, left, r = self._pads(h, w)
        if t or b or left or r:
            x = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)))
        ho, wo, f = self.output_shape
        kh, kw = self.kernel_size
        # im2col in one gather: row (i, j) of cols holds the window under output pixel (i, j)
        cols = np.take(x.reshape(n, -1), self._window_index(x.shape[1:]), axis=1)
        self.cols = cols.reshape(n * ho * wo, kh * kw * c)  # (N*H'*W', kh*kw*C_in)
        z = self.cols @ self.params["kernel"].reshape(-1, f)
        if self.use_bias:
            z += self.params["bias"]
        if self.activation == "relu":
            _relu_forward(z)
        self.padded_shape = x.shape
        self.output = z.reshape(n, ho, wo, f)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy (N, H', W', filters) -> dL/dx (N, H, W, C_in); fills grads["kernel"], ["bias"]."""
        self.grad_output = dy
        f = self.filters
        if self.activation == "relu":
            dy = dy * (self.output > 0)
        dz = dy.reshape(-1, f)
        kernel = self.params["kernel"]
        self.grads["kernel"] = (self.cols.T @ dz).reshape(kernel.shape)
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0)
        if not self.need_input_grad:
            self.grad_input = None
            return None
        n, hp, wp, c = self.padded_shape
        ho, wo, _ = self.output_shape
        kh, kw = self.kernel_size
        s = self.strides
        dcols = (dz @ kernel.reshape(-1, f).T).reshape(n, ho, wo, kh, kw, c)
        dx = np.zeros(self.padded_shape, dcols.dtype)
        for i in range(kh):  # col2im: add each offset's share back where it came from
            for j in range(kw):
                dx[:, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s, :] += dcols[
                    :, :, :, i, j, :
                ]
        h, w, _ = self.input_shape
        t, _, left, _ = self._pads(h, w)
        self.grad_input = dx[:, t : t + h, left : left + w, :]
        return self.grad_input

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": self.strides,
            "padding": self.padding,
            "use_bias": self.use_bias,
            "activation": self.activation,
        }


class _Pooling2D(Layer):
    """Shared shape logic of the pooling layers: non-overlapping windows, stride = pool size.

    Rows and columns that do not fill a whole window are dropped (Keras's 'valid' pooling).
    """

    def __init__(self, pool_size=2, input_shape: tuple | None = None, name: str | None = None):
        super().__init__(name, input_shape)
        p = pool_size if np.isscalar(pool_size) else pool_size[0]
        self.pool_size = _positive_int(p, "pool_size")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        h, w, c = input_shape
        p = self.pool_size
        if h < p or w < p:
            raise InputError(f"A {p}x{p} pooling window does not fit a {h}x{w} input.")
        return h // p, w // p, c

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """x (N, H, W, C) -> view (N, H', p, W', p, C) of the whole windows."""
        n, _, _, c = x.shape
        ho, wo, _ = self.output_shape
        p = self.pool_size
        return x[:, : ho * p, : wo * p, :].reshape(n, ho, p, wo, p, c)

    def _scatter(self, dwin: np.ndarray) -> np.ndarray:
        """dwin (N, H', p, W', p, C) -> dL/dx (N, H, W, C), zero on dropped rows/columns."""
        n = dwin.shape[0]
        ho, wo, c = self.output_shape
        p = self.pool_size
        h, w, _ = self.input_shape
        flat = dwin.reshape(n, ho * p, wo * p, c)
        if (h, w) == (ho * p, wo * p):
            return flat
        dx = np.zeros((n, h, w, c), dwin.dtype)
        dx[:, : ho * p, : wo * p, :] = flat
        return dx

    def get_config(self) -> dict:
        return {"name": self.name, "pool_size": self.pool_size}


class MaxPooling2D(_Pooling2D):
    """Max pooling: x (N, H, W, C) -> (N, H // p, W // p, C).

    The p*p positions of every window are p*p strided views of the input, x[:, i::p, j::p];
    the output is their elementwise maximum. backward routes each upstream gradient to the
    position that held its window's maximum, as the tutorial's MaxPool2.backprop does. On a
    tie (a flat background gives many) it goes to the first such position in the window, as
    Keras/TensorFlow and PyTorch do, so no gradient is counted twice.
    """

    kind = "MaxPooling2D"

    def _views(self, x: np.ndarray) -> list[np.ndarray]:
        """The p*p strided views x[:, i::p, j::p] (cropped to whole windows), row-major."""
        ho, wo, _ = self.output_shape
        p = self.pool_size
        return [x[:, i : ho * p : p, j : wo * p : p, :] for i in range(p) for j in range(p)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        views = self._views(x)
        out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
        for v in views[2:]:
            np.maximum(out, v, out=out)
        self.output = out
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (N, H', W', C) -> dL/dx (N, H, W, C): dy at each window's first max, 0 elsewhere.

        Finding the winners here rather than in forward keeps forward (and so predict) to
        p*p - 1 elementwise maxima; measured, it is also faster than recording an argmax.
        """
        self.grad_output = dy
        n = dy.shape[0]
        ho, wo, c = self.output_shape
        p = self.pool_size
        h, w, _ = self.input_shape
        dx = (np.empty if (h, w) == (ho * p, wo * p) else np.zeros)((n, h, w, c), dy.dtype)
        views = self._views(self.input)
        unrouted = None  # windows whose gradient has not found its max yet (None: all)
        for k, v in enumerate(views):
            i, j = divmod(k, p)
            hit = np.equal(v, self.output)
            if unrouted is None:
                unrouted = ~hit
            else:
                hit &= unrouted
                if k < len(views) - 1:
                    unrouted ^= hit
            np.multiply(hit, dy, out=dx[:, i : ho * p : p, j : wo * p : p, :])
        self.grad_input = dx
        return dx


class AveragePooling2D(_Pooling2D):
    """Average pooling: x (N, H, W, C) -> (N, H // p, W // p, C); backward shares dy equally."""

    kind = "AveragePooling2D"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.output = self._windows(x).mean(axis=(2, 4), dtype=x.dtype)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grad_output = dy
        n, ho, wo, c = dy.shape
        p = self.pool_size
        share = (dy / dy.dtype.type(p * p))[:, :, None, :, None, :]
        dwin = np.broadcast_to(share, (n, ho, p, wo, p, c))
        self.grad_input = self._scatter(np.ascontiguousarray(dwin))
        return self.grad_input


class Flatten(Layer):
    """(N, H, W, C) -> (N, H*W*C) in C order, as Keras flattens NHWC."""

    kind = "Flatten"

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.output = x.reshape(x.shape[0], -1)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grad_output = dy
        self.grad_input = dy.reshape((dy.shape[0],) + self.input_shape)
        return self.grad_input


class ReLU(Layer):
    """max(x, 0), elementwise; backward passes dy where x > 0."""

    kind = "ReLU"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.output = np.maximum(x, 0)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grad_output = dy
        self.grad_input = dy * (self.output > 0)
        return self.grad_input


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), shifted by the row maximum so exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class Dense(Layer):
    """Fully-connected layer: x (N, D) -> z = x @ kernel + bias (N, units) -> activation(z).

    kernel: (D, units); bias: (units,). With activation "softmax" the layer also keeps
    ``logits`` (z), which the loss uses: for softmax + cross-entropy dL/dz = (p - y) / N.
    """

    kind = "Dense"

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        input_shape: tuple | None = None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.units = _positive_int(units, "units")
        if activation not in (None, "linear", "relu", "softmax"):
            raise InputError(
                f"Dense activation must be None, 'relu' or 'softmax', not {activation!r}."
            )
        self.activation = None if activation == "linear" else activation
        self.use_bias = bool(use_bias)
        self.logits = None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != 1:
            raise InputError(
                f"Dense needs flat inputs (D,), not {tuple(input_shape)}: add Flatten()."
            )
        return (self.units,)

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        super().build(input_shape)
        rng = rng or np.random.default_rng()
        d = input_shape[0]
        self.params["kernel"] = glorot_uniform(rng, (d, self.units), d, self.units)
        if self.use_bias:
            self.params["bias"] = np.zeros(self.units, F32)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, D) -> (N, units)."""
        self.input = x
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        self.logits = z
        if self.activation == "relu":
            self.output = np.maximum(z, 0)
        elif self.activation == "softmax":
            self.output = softmax(z)
        else:
            self.output = z
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy = dL/d(output) (N, units) -> dL/dx (N, D)."""
        self.grad_output = dy
        if self.activation == "relu":
            dz = dy * (self.logits > 0)
        elif self.activation == "softmax":  # Jacobian-vector product of softmax
            p = self.output
            dz = p * (dy - (dy * p).sum(axis=1, keepdims=True))
        else:
            dz = dy
        return self.backward_logits(dz)

    def backward_logits(self, dz: np.ndarray) -> np.ndarray | None:
        """dz = dL/d(logits) (N, units) -> dL/dx (N, D); fills grads."""
        self.grad_logits = dz
        x = self.input
        if len(x) == 1:  # one sample: an outer product, computed along its long side (fast)
            self.grads["kernel"] = np.multiply(dz.T, x).T
        else:
            self.grads["kernel"] = x.T @ dz
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0)
        self.grad_input = dz @ self.params["kernel"].T if self.need_input_grad else None
        return self.grad_input

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
        }


def _positive_int(value, what: str) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a whole number, not {value!r}.") from None
    if v != value or v < 1:
        raise InputError(f"{what} must be a whole number of at least 1, not {value!r}.")
    return v


LAYER_CLASSES = {
    cls.kind: cls for cls in (Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, ReLU)
}
