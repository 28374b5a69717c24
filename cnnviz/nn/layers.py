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

import copy

import numpy as np

from cnnviz.errors import InputError
from cnnviz.ops import same_padding, softmax
from cnnviz.validate import check_padding, pair, positive_int

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

    def scratch(self) -> Layer:
        """A throw-away copy for one look inside the model (``Sequential.trace``).

        It shares this layer's weights as read-only views and keeps its own caches and
        ``grads``, so a forward/backward on it leaves this layer exactly as it was.
        """
        clone = copy.copy(self)
        clone.params = {k: _read_only(v) for k, v in self.params.items()}
        clone.grads = {}
        clone.output = clone.grad_output = clone.grad_input = None
        clone.need_input_grad = True
        return clone

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{self.kind}({cfg})"


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


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
        self.filters = positive_int(filters, "The number of filters")
        self.kernel_size = pair(kernel_size, "The kernel size")
        self.strides = _square(strides, "The stride")
        self.padding = check_padding(padding)
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
        return same_padding(h, kh, self.strides) + same_padding(w, kw, self.strides)

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
        index = self._window_index(x.shape[1:])
        if n == 1:  # one image: a gather from the flat image (skips take's per-axis set-up)
            cols = x.reshape(-1).take(index)
        else:
            cols = np.take(x.reshape(n, -1), index, axis=1)
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
        self.pool_size = _square(pool_size, "The pool size")

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

    Two ways to find the winners, chosen by size (both measured, docs/performance.md):

    - small batches (batch size 1 above all), where each NumPy call costs more in overhead
      than in arithmetic: the training forward pass records, for every output element, the
      index of its maximum in the flattened input; backward is one scatter,
      dx.flat[winners] = dy;
    - larger ones, where moving bytes costs most: forward takes plain maxima and backward
      compares each window position with the output (p*p boolean masks).
    """

    kind = "MaxPooling2D"
    WINNERS_UP_TO = 8192  # output elements (batch x H' x W' x C); batch 6 of the tutorial's net

    def __init__(self, pool_size=2, input_shape: tuple | None = None, name: str | None = None):
        super().__init__(pool_size, input_shape, name)
        self.winners = None  # flat input index of each output element's maximum
        self._index_tables: dict[int, list[np.ndarray]] = {}  # see _column_indices

    def scratch(self) -> MaxPooling2D:
        clone = super().scratch()
        clone._index_tables = {}  # its own cache: the shared one is never written
        return clone

    def _views(self, x: np.ndarray) -> list[np.ndarray]:
        """The p*p strided views x[:, i::p, j::p] (cropped to whole windows), row-major."""
        ho, wo, _ = self.output_shape
        p = self.pool_size
        return [x[:, i : ho * p : p, j : wo * p : p, :] for i in range(p) for j in range(p)]

    def _column_indices(self, n: int) -> list[np.ndarray]:
        """For each column j of a window: the flat input index (into x.reshape(-1)) of that
        column's element in every window row, shape (N*H'*p, W', C). Built once per batch size."""
        tables = self._index_tables.get(n)
        if tables is None:
            h, w, c = self.input_shape
            ho, wo, _ = self.output_shape
            p = self.pool_size
            index = np.arange(n * h * w * c).reshape(n, h, w, c)[:, : ho * p, : wo * p, :]
            rows = index.reshape(n * ho * p, wo, p, c)
            tables = [np.ascontiguousarray(rows[:, :, j, :]) for j in range(p)]
            if len(self._index_tables) >= 2:  # a full batch and the last, smaller one
                self._index_tables.clear()
            self._index_tables[n] = tables
        return tables

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        ho, wo, c = self.output_shape
        if training and x.shape[0] * ho * wo * c <= self.WINNERS_UP_TO:
            out, self.winners = self._max_and_winners(x)
        else:
            views = self._views(x)
            out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
            for v in views[2:]:
                np.maximum(out, v, out=out)
            self.winners = None
        self.output = out
        return out

    def _max_and_winners(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The window maxima and the flat input index of each one, in two rounds: first the
        maximum of each window row across its p columns, then of those across the p rows.
        Each round walks the positions in order and "greater" (not "greater or equal") keeps
        the earlier one on a tie, so a tie goes to the first position in row-major order."""
        n = x.shape[0]
        ho, wo, c = self.output_shape
        p = self.pool_size
        columns = self._column_indices(n)
        # round 1: (N*H'*p window rows, W' windows, p columns, C) -> max over the columns
        cells = x[:, : ho * p, : wo * p, :].reshape(n * ho * p, wo, p, c)
        best, where = cells[:, :, 0, :], columns[0]
        for j in range(1, p):
            v = cells[:, :, j, :]
            better = np.greater(v, best)
            best = np.maximum(best, v)
            where = np.where(better, columns[j], where)
        # round 2: (N*H', p rows, W'*C) -> max over the rows of each window
        best = best.reshape(n * ho, p, wo * c)
        where = where.reshape(n * ho, p, wo * c)
        out, winners = best[:, 0], where[:, 0]
        for i in range(1, p):
            better = np.greater(best[:, i], out)
            out = np.maximum(out, best[:, i])
            winners = np.where(better, where[:, i], winners)
        if p == 1:
            out = out.copy()  # a 1x1 window: the output must not be a view of the input
        return out.reshape(n, ho, wo, c), winners.reshape(n, ho, wo, c)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (N, H', W', C) -> dL/dx (N, H, W, C): dy at each window's first max, 0 elsewhere."""
        self.grad_output = dy
        if self.winners is not None and self.winners.shape == dy.shape:
            dx = np.zeros(self.input.shape, dy.dtype)
            dx.reshape(-1)[self.winners.reshape(-1)] = dy.reshape(-1)
        else:
            dx = self._route_by_masks(dy)
        self.grad_input = dx
        return dx

    def _route_by_masks(self, dy: np.ndarray) -> np.ndarray:
        """Find the winners from the output: for each window position in order, the elements
        equal to their window's maximum that no earlier position has claimed."""
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
        self.units = positive_int(units, "The number of units")
        if activation not in (None, "linear", "relu", "softmax"):
            raise InputError(
                f"Dense activation must be None, 'relu' or 'softmax', not {activation!r}."
            )
        self.activation = None if activation == "linear" else activation
        self.use_bias = bool(use_bias)
        self.logits = None
        self.grad_logits = None

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
        # Column-major ("Fortran") storage: the batch-1 gradient, an outer product computed
        # along its long side, comes out column-major too, so the optimizer's update
        # kernel -= lr * grad walks both arrays in memory order (measured 2x faster than
        # a row-major kernel at batch size 1). The values and the shape (D, units) are Keras's.
        kernel = glorot_uniform(rng, (d, self.units), d, self.units)
        self.params["kernel"] = np.asfortranarray(kernel)
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
            if self.use_bias:
                self.grads["bias"] = dz[0]  # the sum over a batch of one
        else:  # (dz^T x)^T: the same numbers as x^T dz, laid out like the kernel
            self.grads["kernel"] = (dz.T @ x).T
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


def _square(value, what: str) -> int:
    """3 or (3, 3) -> 3: the engine's strides and pool sizes are the same along both axes."""
    rows, cols = pair(value, what)
    if rows != cols:
        raise InputError(f"{what} must be the same for rows and columns, not {value!r}.")
    return rows


LAYER_CLASSES = {
    cls.kind: cls for cls in (Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, ReLU)
}
