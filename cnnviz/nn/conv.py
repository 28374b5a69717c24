"""Conv2D: 2-D convolution over NHWC batches, by im2col and one matrix product."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn.base import F32, Layer, glorot_uniform, square
from cnnviz.ops import same_padding
from cnnviz.validate import check_padding, pair, positive_int


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
    # From this many input channels im2col copies a strided view of the windows (conv2 of the
    # stronger network, 32 channels: 4.5x faster than the gather); below it, the gather by an
    # index table is faster (1 channel: 2.7x); they cross at about 3 channels.
    VIEW_FROM_CHANNELS = 4

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
        self.filters = positive_int(filters, N_("The number of filters"))
        self.kernel_size = pair(kernel_size, N_("The kernel size"))
        self.strides = square(strides, N_("The stride"))
        self.padding = check_padding(padding)
        self.use_bias = bool(use_bias)
        if activation not in (None, "linear", "relu"):
            raise InputError(
                "Conv2D activation must be None or 'relu', not {activation}.",
                activation=repr(activation),
            )
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
                "A {kh}x{kw} kernel does not fit a {h}x{w} input with {padding} padding.",
                kh=kh,
                kw=kw,
                h=h,
                w=w,
                padding=self.padding,
            )
        return ho, wo, self.filters

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        if len(input_shape) != 3:
            raise InputError(
                "Conv2D needs inputs shaped (H, W, C), not {shape}.", shape=tuple(input_shape)
            )
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
        s = self.strides
        # im2col: row (i, j) of cols holds the window under output pixel (i, j)
        if c >= self.VIEW_FROM_CHANNELS:  # copy a strided view of all the windows at once
            b, r, q, ch = x.strides
            windows = as_strided(x, (n, ho, wo, kh, kw, c), (b, r * s, q * s, r, q, ch))
            cols = windows.reshape(n * ho * wo, kh * kw * c)  # the copy
        elif n == 1:  # one image: a gather from the flat image (skips take's per-axis set-up)
            cols = x.reshape(-1).take(self._window_index(x.shape[1:]))
        else:  # a gather by the im2col table
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
        dcols = dz @ kernel.reshape(-1, f).T if self.need_input_grad else None
        if self.use_bias:  # column sums as a BLAS matrix-vector product: 4-9x dz.sum(axis=0)
            self.grads["bias"] = np.ones(len(dz), dz.dtype) @ dz
        if dcols is None:
            self.grad_input = None
            return None
        n, hp, wp, c = self.padded_shape
        ho, wo, _ = self.output_shape
        kh, kw = self.kernel_size
        s = self.strides
        dcols = dcols.reshape(n, ho, wo, kh, kw, c)
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
