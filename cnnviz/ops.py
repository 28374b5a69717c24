"""Teaching operations on plain arrays: padding, convolution, pooling and softmax.

Each function works on one image and returns float64. conv2d, pool2d and softmax have a
``*_trace`` partner that shows how a single output number was made (for convolution: the
tutorial's "image value, filter value, result" table).

Conventions
-----------
- Images are (H, W) or (H, W, C); kernels are (k, k) (rectangular (kh, kw) also works).
- Convolution is *cross-correlation*, as in the tutorial and in Keras: the kernel is not flipped.
- The same conventions and names as the engine (``cnnviz.nn``, which follows Keras):
  ``strides``, ``pool_size``, ``kernel_size``; tests check that conv2d equals ``Conv2D`` and
  pool2d equals ``MaxPooling2D`` / ``AveragePooling2D`` number for number.
- ``padding="same"`` keeps ``ceil(n / strides)`` outputs, as Keras does: the padding needed is
  ``(out - 1) * strides + k - n`` (never negative), half before (top/left) and the odd pixel after
  (bottom/right). With stride 1 that is ``(k - 1) // 2`` before and the rest after (1 on every
  side for a 3x3 kernel); with stride 2 on an even size a 3x3 kernel gets 0 before and 1 after.
- Pooling uses non-overlapping windows (stride = pool_size) and drops the rows/columns that do
  not fill a whole window, like Keras ``MaxPooling2D(padding="valid")``.
- Max/min pooling ties: the gradient goes to the FIRST tied position in row-major order (as
  PyTorch does), so the gradient's sum is kept. The tutorial's ``MaxPool2.backprop`` copies the
  gradient to every tied maximum instead, counting one upstream gradient several times.
"""

from dataclasses import dataclass
from numbers import Real

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.validate import PADDINGS as PADDINGS
from cnnviz.validate import check_padding, is_int, pair, positive_int

POOL_MODES = ("max", "avg", "min")

# ---------------------------------------------------------------------------------------------
# Checking inputs (each failure is one sentence a user can act on)
# ---------------------------------------------------------------------------------------------


def _as_image(image, allow_channels=False):
    """Return ``image`` as a float64 array of shape (H, W) (or (H, W, C) if allowed)."""
    try:
        arr = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("The image must be a rectangular grid of numbers.") from None
    ndims = (2, 3) if allow_channels else (2,)
    if arr.ndim not in ndims:
        if allow_channels:
            raise InputError(
                "The image must be (height, width) or (height, width, channels), "
                "but it has shape {shape}.",
                shape=arr.shape,
            )
        raise InputError("The image must be 2-D, but it has shape {shape}.", shape=arr.shape)
    if arr.size == 0:
        raise InputError(
            "The image is empty (shape {shape}); give at least one pixel.", shape=arr.shape
        )
    return arr


def _as_kernel(kernel, ndim=2):
    """Return ``kernel`` as a float64 array with ``ndim`` dimensions and no empty axis."""
    try:
        arr = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("The kernel must be a rectangular grid of numbers.") from None
    if arr.ndim != ndim or arr.size == 0:
        if ndim == 2:
            raise InputError(
                "Expected a 2-D (k, k) kernel, but got shape {shape}.", shape=arr.shape
            )
        raise InputError(
            "Expected a stack of kernels (F, k, k), but got shape {shape}.", shape=arr.shape
        )
    return arr


def _pad_value(image, pad_value):
    """A number, or per-channel mean of the (unpadded) image for "mean"."""
    if isinstance(pad_value, str):
        if pad_value != "mean":
            raise InputError(
                "The pad value must be a number or 'mean', not {value}.", value=repr(pad_value)
            )
        return image.mean(axis=(0, 1))
    if isinstance(pad_value, bool) or not isinstance(pad_value, Real | np.number):
        raise InputError(
            "The pad value must be a number or 'mean', not {value}.", value=repr(pad_value)
        )
    if not np.isfinite(pad_value):
        raise InputError(
            "The pad value must be a finite number, not {value}.", value=repr(pad_value)
        )
    return float(pad_value)


# ---------------------------------------------------------------------------------------------
# Padding and output sizes
# ---------------------------------------------------------------------------------------------


def same_padding(n, kernel_size=3, strides=1):
    """(before, after) zero rows (or columns) for "same" padding along one axis, as Keras does.

    The output keeps ceil(n / strides) positions; the padding that needs,
    max((out - 1) * strides + k - n, 0), is split with the odd pixel after.

    >>> same_padding(28), same_padding(28, strides=2), same_padding(27, strides=2)
    ((1, 1), (0, 1), (1, 1))
    """
    n = positive_int(n, N_("The image size"))
    k = positive_int(kernel_size, N_("The kernel size"))
    s = positive_int(strides, N_("The stride"))
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def output_size(n, kernel_size=3, padding="valid", strides=1):
    """Length of the output along one axis: ``floor((n + before + after - k) / strides) + 1``.

    before = after = 0 for "valid"; for "same" see :func:`same_padding` (the result is then
    ceil(n / strides)). A result of 0 or less means the kernel does not fit.

    >>> output_size(28), output_size(28, padding="same"), output_size(28, 3, "same", strides=2)
    (26, 28, 14)
    """
    check_padding(padding)
    n = positive_int(n, N_("The image size"))
    k = positive_int(kernel_size, N_("The kernel size"))
    s = positive_int(strides, N_("The stride"))
    before, after = same_padding(n, k, s) if padding == "same" else (0, 0)
    return (n + before + after - k) // s + 1


def pad(image, padding="valid", pad_value=0.0, kernel_size=3, strides=1):
    """The input as the kernel sees it, with the border filled with ``pad_value``.

    image: (H, W) or (H, W, C). kernel_size: k or (kh, kw). pad_value: a number (0, 255, ...)
    or "mean" (the image's mean, per channel). Returns float64 (H, W[, C]) for "valid" (a
    copy); for "same" each axis grows by :func:`same_padding` (H + 2, W + 2 for 3x3, stride 1).
    """
    image = _as_image(image, allow_channels=True)
    check_padding(padding)
    kh, kw = pair(kernel_size, N_("The kernel size"))
    strides = positive_int(strides, N_("The stride"))
    value = _pad_value(image, pad_value)
    if padding == "valid":
        return image.copy()
    h, w = image.shape[:2]
    top, bottom = same_padding(h, kh, strides)
    left, right = same_padding(w, kw, strides)
    padded = np.empty((h + top + bottom, w + left + right) + image.shape[2:])
    padded[...] = value  # a number, or one mean per channel
    padded[top : top + h, left : left + w] = image
    return padded


# ---------------------------------------------------------------------------------------------
# Convolution (cross-correlation, as in the tutorial and Keras)
# ---------------------------------------------------------------------------------------------


def _windows(image, kernel_shape, padding, pad_value, strides):
    """All kernel-sized windows of the padded image: (H', W', kh, kw), a view (no copy)."""
    image = _as_image(image)
    check_padding(padding)
    strides = positive_int(strides, N_("The stride"))
    kh, kw = kernel_shape
    padded = pad(image, padding, pad_value, kernel_size=(kh, kw), strides=strides)
    if kh > padded.shape[0] or kw > padded.shape[1]:
        h, w = padded.shape
        raise InputError(
            "The {kh}x{kw} kernel does not fit in the {h}x{w} image; "
            "use a smaller kernel or 'same' padding.",
            kh=kh,
            kw=kw,
            h=h,
            w=w,
        )
    return sliding_window_view(padded, (kh, kw))[::strides, ::strides]


def conv2d(image, kernel, padding="valid", pad_value=0.0, strides=1):
    """Slide ``kernel`` over ``image``; each output is sum(window * kernel).

    image: (H, W). kernel: (k, k). Returns float64 (H', W') with
    H' = output_size(H, k, padding, strides) (26x26 for a 28x28 image, 3x3 kernel, "valid").
    """
    kernel = _as_kernel(kernel)
    windows = _windows(image, kernel.shape, padding, pad_value, strides)  # (H', W', k, k)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def conv2d_multi(image, kernels, padding="valid", pad_value=0.0, strides=1):
    """Several kernels over the same image, stacked as feature maps.

    image: (H, W). kernels: (F, k, k). Returns float64 (H', W', F), like one Keras Conv2D layer
    with F filters on a one-channel image (the tutorial's 28x28 -> 26x26x8).
    """
    kernels = _as_kernel(kernels, ndim=3)
    windows = _windows(image, kernels.shape[1:], padding, pad_value, strides)  # (H', W', k, k)
    return np.einsum("ijkl,fkl->ijf", windows, kernels)


@dataclass
class ConvTrace:
    """How one output pixel of a convolution was made.

    row, col: the output pixel. top, left: the window's top-left corner in PADDED coordinates
    (for "valid" padding these are image coordinates). window, kernel, products: (k, k) arrays,
    products = window * kernel. total: their sum, the output value.
    """

    row: int
    col: int
    top: int
    left: int
    window: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    total: float

    def table(self):
        """Rows of (image value, filter value, result) in row-major order, as in the tutorial."""
        return [
            (float(v), float(k), float(p))
            for v, k, p in zip(
                self.window.ravel(), self.kernel.ravel(), self.products.ravel(), strict=True
            )
        ]


_OUTSIDE_CONV = N_(
    "Output pixel ({row}, {col}) is outside the {out_h}x{out_w} output; "
    "pick a row below {out_h} and a column below {out_w}."
)
_OUTSIDE_POOL = N_(
    "Output cell ({row}, {col}) is outside the {out_h}x{out_w} pooled output; "
    "pick a row below {out_h} and a column below {out_w}."
)


def _inside(row: int, col: int, out_h: int, out_w: int) -> bool:
    """Whether (row, col) is a position of an out_h x out_w output."""
    return 0 <= row < out_h and 0 <= col < out_w


def conv_trace(image, kernel, row, col, padding="valid", pad_value=0.0, strides=1):
    """The window, element-wise products and sum behind output pixel (row, col) of conv2d.

    image: (H, W). kernel: (k, k). Returns a ConvTrace whose ``total`` is conv2d(...)[row, col].
    """
    kernel = _as_kernel(kernel)
    windows = _windows(image, kernel.shape, padding, pad_value, strides)
    out_h, out_w = windows.shape[:2]
    if not _inside(row, col, out_h, out_w):
        raise InputError(_OUTSIDE_CONV, row=row, col=col, out_h=out_h, out_w=out_w)
    window = windows[row, col].copy()
    products = window * kernel + 0.0  # "+ 0.0" shows 0 * -1 as 0, not -0
    return ConvTrace(
        row=int(row),
        col=int(col),
        top=int(row) * int(strides),
        left=int(col) * int(strides),
        window=window,
        kernel=kernel.copy(),
        products=products,
        total=float(products.sum()),
    )


# ---------------------------------------------------------------------------------------------
# Pooling (non-overlapping windows, strides = pool_size)
# ---------------------------------------------------------------------------------------------


def _pool_blocks(x, pool_size):
    """Cut x into p x p windows (p = pool_size): (H, W[, C]) -> (H // p, W // p, C, p * p).

    The last axis lists each window's cells in row-major order; leftover rows/columns that do
    not fill a whole window are dropped (Keras "valid" pooling).
    """
    x3 = x if x.ndim == 3 else x[:, :, None]
    h, w, c = x3.shape
    out_h, out_w = h // pool_size, w // pool_size
    cropped = x3[: out_h * pool_size, : out_w * pool_size]
    blocks = cropped.reshape(out_h, pool_size, out_w, pool_size, c)  # (i, r, j, s, c)
    return blocks.transpose(0, 2, 4, 1, 3).reshape(out_h, out_w, c, pool_size * pool_size)


def _check_pool(x, pool_size, mode):
    x = _as_image(x, allow_channels=True)
    pool_size = positive_int(pool_size, N_("The pool size"))
    if mode not in POOL_MODES:
        raise InputError("Pooling mode must be 'max', 'avg' or 'min', not {mode}.", mode=repr(mode))
    h, w = x.shape[:2]
    if pool_size > h or pool_size > w:
        raise InputError(
            "The pool size {pool_size} does not fit the {h}x{w} input; use a smaller one.",
            pool_size=pool_size,
            h=h,
            w=w,
        )
    return x, pool_size


def pool2d(x, pool_size=2, mode="max"):
    """Max / average / min over each p x p window (p = pool_size, also the stride).

    x: (H, W) or (H, W, C) (each channel pooled separately).
    Returns float64 (H // p, W // p[, C]).
    """
    x, pool_size = _check_pool(x, pool_size, mode)
    blocks = _pool_blocks(x, pool_size)  # (H', W', C, pool_size*pool_size)
    reduce = {"max": np.max, "avg": np.mean, "min": np.min}[mode]
    pooled = reduce(blocks, axis=-1)  # (H', W', C)
    return pooled if x.ndim == 3 else pooled[:, :, 0]


@dataclass
class PoolTrace:
    """How one output cell of pooling was made.

    row, col: the output cell. top, left: the window's top-left corner in the input.
    window: (p, p) with p = pool_size. value: the pooled number. chosen: (r, c) in INPUT
    coordinates of the max/min cell (the first one in row-major order on ties), or None for "avg".
    """

    row: int
    col: int
    top: int
    left: int
    window: np.ndarray
    value: float
    chosen: tuple[int, int] | None


def pool_trace(x, row, col, pool_size=2, mode="max", channel=0):
    """The window and chosen cell behind output (row, col) of pool2d.

    x: (H, W) or (H, W, C); ``channel`` picks the channel of a 3-D input. Returns a PoolTrace.
    """
    x, pool_size = _check_pool(x, pool_size, mode)
    channels = 1 if x.ndim == 2 else x.shape[2]
    if not is_int(channel) or not 0 <= channel < channels:
        raise InputError("The channel must be a whole number from 0 to {last}.", last=channels - 1)
    plane = x if x.ndim == 2 else x[:, :, channel]
    out_h, out_w = x.shape[0] // pool_size, x.shape[1] // pool_size
    if not _inside(row, col, out_h, out_w):
        raise InputError(_OUTSIDE_POOL, row=row, col=col, out_h=out_h, out_w=out_w)
    top, left = int(row) * pool_size, int(col) * pool_size
    window = plane[top : top + pool_size, left : left + pool_size].copy()
    if mode == "avg":
        return PoolTrace(int(row), int(col), top, left, window, float(window.mean()), None)
    flat_index = int(np.argmax(window) if mode == "max" else np.argmin(window))  # first on ties
    r, c = divmod(flat_index, pool_size)
    value = float(window[r, c])
    return PoolTrace(int(row), int(col), top, left, window, value, (top + r, left + c))


def pool2d_backward(x, grad_out, pool_size=2, mode="max"):
    """Gradient of the loss with respect to the pooling input.

    x: (H, W) or (H, W, C), the forward input. grad_out: dL/d(pool2d(x)), (H // p, W // p[, C])
    with p = pool_size.
    Returns float64 with the shape of x. max/min: each upstream gradient goes to the one chosen
    cell of its window (the first on ties); avg: it is spread equally over the p * p cells.
    Cells dropped by the forward pass get 0.
    """
    x, pool_size = _check_pool(x, pool_size, mode)
    blocks = _pool_blocks(x, pool_size)  # (H', W', C, pool_size*pool_size)
    wanted = blocks.shape[:3] if x.ndim == 3 else blocks.shape[:2]
    grad = np.asarray(grad_out, dtype=np.float64)
    if grad.shape != wanted:
        raise InputError(
            "The upstream gradient must have shape {wanted}, not {shape}.",
            wanted=wanted,
            shape=grad.shape,
        )
    grad = grad.reshape(blocks.shape[:3])  # (H', W', C)
    if mode == "avg":
        grad_blocks = np.repeat(grad[..., None] / pool_size**2, pool_size * pool_size, axis=-1)
    else:
        chosen = np.argmax(blocks, axis=-1) if mode == "max" else np.argmin(blocks, axis=-1)
        grad_blocks = np.zeros_like(blocks)
        np.put_along_axis(grad_blocks, chosen[..., None], grad[..., None], axis=-1)
    # (i, j, c, r*s) -> (i, r, j, s, c) -> rows, cols, channels: the inverse of _pool_blocks.
    out_h, out_w, c, _ = blocks.shape
    grad_blocks = grad_blocks.reshape(out_h, out_w, c, pool_size, pool_size).transpose(
        0, 3, 1, 4, 2
    )
    grad_in = np.zeros(x.shape[:2] + (c,))
    grad_in[: out_h * pool_size, : out_w * pool_size] = grad_blocks.reshape(
        out_h * pool_size, out_w * pool_size, c
    )
    return grad_in if x.ndim == 3 else grad_in[:, :, 0]


# ---------------------------------------------------------------------------------------------
# Softmax and cross-entropy
# ---------------------------------------------------------------------------------------------


def softmax(z, axis=-1):
    """exp(z) / sum(exp(z)) along ``axis``, computed as exp(z - max) so it never overflows.

    z: any shape, e.g. logits (K,) or a batch (N, K). Returns the same shape; float32 stays
    float32 (the engine's Dense layers use this function), anything else becomes float64. Each
    slice along ``axis`` sums to 1.
    """
    z = np.asarray(z)
    if z.dtype.char not in "fd":  # float32 / float64 as they are: this is on the training path
        z = z.astype(np.float64)
    exp = np.exp(z - z.max(axis=axis, keepdims=True))
    exp /= exp.sum(axis=axis, keepdims=True)
    return exp


def _check_label(label, n):
    if not is_int(label) or not 0 <= label < n:
        raise InputError(
            "The label must be a whole number from 0 to {last}, not {label}.",
            last=n - 1,
            label=repr(label),
        )
    return int(label)


def cross_entropy(probs, label):
    """Loss -log(probs[label]) for one example.

    probs: (n,) probabilities. label: int in [0, n). A probability of exactly 0 is treated as the
    smallest positive float64, so the loss stays finite (at most about 708).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or probs.size == 0:
        raise InputError(
            "Probabilities must be a 1-D list of classes, not shape {shape}.", shape=probs.shape
        )
    label = _check_label(label, probs.size)
    return float(-np.log(max(probs[label], np.finfo(np.float64).tiny)))


@dataclass
class SoftmaxTrace:
    """Every step from logits to loss and gradient, for one example with n classes.

    logits, shifted (= logits - max), exp (= e^shifted), probs (= exp / total), grad_logits
    (= probs - onehot(label)): (n,) arrays. total: sum of exp. loss: -log(probs[label]).
    """

    logits: np.ndarray
    shifted: np.ndarray
    exp: np.ndarray
    total: float
    probs: np.ndarray
    label: int
    loss: float
    grad_logits: np.ndarray


def softmax_trace(logits, label):
    """Softmax, cross-entropy loss and d(loss)/d(logits) with every intermediate kept.

    logits: (n,) (n = 10 for MNIST). label: int in [0, n). Returns a SoftmaxTrace. The loss is
    computed as log(total) - shifted[label], equal to -log(probs[label]) but finite even when
    probs[label] underflows to 0.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 1 or logits.size == 0:
        raise InputError(
            "Logits must be a 1-D list of class scores, not shape {shape}.", shape=logits.shape
        )
    if not np.all(np.isfinite(logits)):
        raise InputError("Every logit must be a finite number.")
    label = _check_label(label, logits.size)
    shifted = logits - logits.max()
    exp = np.exp(shifted)
    total = float(exp.sum())
    probs = exp / total
    onehot = np.zeros_like(probs)
    onehot[label] = 1.0
    loss = float(np.log(total) - shifted[label])
    return SoftmaxTrace(logits.copy(), shifted, exp, total, probs, label, loss, probs - onehot)
