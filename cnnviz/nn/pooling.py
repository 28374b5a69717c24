"""Pooling layers: MaxPooling2D and AveragePooling2D (non-overlapping windows)."""

from __future__ import annotations

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn.base import Layer, square


class _Pooling2D(Layer):
    """Shared shape logic of the pooling layers: non-overlapping windows, stride = pool size.

    Rows and columns that do not fill a whole window are dropped (Keras's 'valid' pooling).
    """

    def __init__(self, pool_size=2, input_shape: tuple | None = None, name: str | None = None):
        super().__init__(name, input_shape)
        self.pool_size = square(pool_size, N_("The pool size"))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        h, w, c = input_shape
        p = self.pool_size
        if h < p or w < p:
            raise InputError(
                "A {p}x{p} pooling window does not fit a {h}x{w} input.", p=p, h=h, w=w
            )
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
