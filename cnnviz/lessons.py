"""The computations behind the lesson pages (Overview, Convolution, Pooling, Softmax & backprop,
Why convolution), kept out of the page scripts so they can be tested without Streamlit.

Each function is small and uses :mod:`cnnviz.ops` for the maths a student should recognise from
the tutorial; this module only arranges the numbers the pages show:

- the tutorial's 4x4 example image, and pixel values on the tutorial's 0..255 scale;
- stepping an output position forwards and backwards (row-major, wrapping around);
- the output-size formula with the numbers filled in;
- the Sobel pair, edge magnitude and a bank of filters as an (H', W', F) volume;
- parameter counts for fully-connected, locally connected and convolutional layers;
- the translation demo (shift a digit, the feature maps shift with it);
- a pooling backward pass with a chosen upstream gradient;
- one training step of a model dissected layer by layer (``model.trace``: the model is not
  touched).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnviz import filters, ops
from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.texts import Text

# The tutorial's worked example (Figure 5): a 4x4 grey image, values 0 (black) .. 255 (white).
TUTORIAL_IMAGE = np.array(
    [[0, 50, 0, 29], [0, 80, 31, 2], [33, 90, 0, 75], [0, 9, 0, 95]], dtype=np.float64
)

# Small inputs for the pooling page (4x4 like the tutorial's figure, and a 6x6 one that also
# divides by a pool size of 3).
POOL_EXAMPLES = {
    "4x4 example (like the tutorial)": np.array(
        [[1, 4, 2, 7], [9, 3, 0, 5], [6, 2, 8, 1], [3, 7, 4, 6]], dtype=np.float64
    ),
    "6x6 example": np.array(
        [
            [2, 0, 7, 1, 3, 5],
            [4, 9, 1, 6, 0, 2],
            [3, 5, 8, 2, 7, 1],
            [0, 6, 2, 9, 4, 8],
            [7, 1, 3, 5, 6, 0],
            [2, 8, 4, 1, 9, 3],
        ],
        dtype=np.float64,
    ),
}


# ---------------------------------------------------------------------------------------------
# Pixel scale and stepping through positions
# ---------------------------------------------------------------------------------------------


def to_pixel_values(image01) -> np.ndarray:
    """An MNIST-like image in [0, 1] -> whole pixel values 0..255, as the tutorial writes them.

    image01: (H, W) floats in [0, 1]. Returns float64 (H, W) of integers in 0..255.
    """
    image = np.asarray(image01, dtype=np.float64)
    if image.ndim != 2:
        raise InputError(
            "The image must be 2-D (height, width), not shape {shape}.", shape=image.shape
        )
    return np.clip(np.rint(image * 255.0), 0, 255)


def step_position(row: int, col: int, shape: tuple[int, int], step: int = 1) -> tuple[int, int]:
    """The output position ``step`` places after (row, col) in row-major order, wrapping around.

    shape: (H', W') of the output. step_position(0, 1, (2, 2)) == (1, 0);
    step_position(0, 0, (2, 2), -1) == (1, 1).
    """
    rows, cols = shape
    if rows < 1 or cols < 1:
        raise InputError(
            "The output is empty (shape {shape}); there is no position to step to.", shape=shape
        )
    row, col = clamp_position(row, col, shape)
    index = (row * cols + col + step) % (rows * cols)
    return divmod(index, cols)


def clamp_position(row: int, col: int, shape: tuple[int, int]) -> tuple[int, int]:
    """(row, col) moved inside an output of ``shape`` (after the output got smaller)."""
    rows, cols = shape
    return min(max(int(row), 0), rows - 1), min(max(int(col), 0), cols - 1)


def sum_expression(products, decimals: int = 2) -> str:
    """The products added up as the tutorial writes it: [[0, 0, 0], [0, 0, 62], [-33, 0, 0]] ->
    "62 − 33 = 29". Zero products are left out; all zero gives "0"."""
    values = [float(v) for v in np.ravel(products) if v != 0]

    def show(v):
        v = abs(v)
        return str(int(round(v))) if float(v).is_integer() else f"{v:.{decimals}f}"

    if not values:
        return "0"
    text = ("−" if values[0] < 0 else "") + show(values[0])
    for v in values[1:]:
        text += (" − " if v < 0 else " + ") + show(v)
    total = sum(values)
    return text + " = " + ("−" if total < 0 else "") + show(total)


@dataclass
class OutputSize:
    """The output-size formula floor((n + 2p - k) / s) + 1 with its numbers.

    n: input size, k: kernel size, p: padding before (top/left), s: stride, out: the result.
    p_after: padding after (bottom/right); it differs from p only for "same" with a stride
    that does not divide evenly (stride 2 on an even size: 0 before, 1 after, as Keras pads),
    and then the formula shows both: floor((n + p1 + p2 - k) / s) + 1.
    """

    n: int
    k: int
    p: int
    s: int
    out: int
    p_after: int | None = None

    def latex(self, label: str = "") -> str:
        """The formula with the numbers filled in, for st.latex: the symbols on one line, the
        numbers under them (one long line does not fit a phone), after ``label`` if given."""
        after = self.p if self.p_after is None else self.p_after
        if after == self.p:
            symbols, numbers = "n + 2p - k", rf"{self.n} + 2\cdot{self.p} - {self.k}"
        else:
            symbols, numbers = "n + p_1 + p_2 - k", f"{self.n} + {self.p} + {after} - {self.k}"
        label = rf"\text{{{label}: }}" if label else ""
        return (
            rf"\begin{{aligned}}{label}&\left\lfloor \frac{{{symbols}}}{{s}} \right\rfloor + 1"
            rf" \\ &= \left\lfloor \frac{{{numbers}}}{{{self.s}}} \right\rfloor + 1 = {self.out}"
            rf"\end{{aligned}}"
        )


def output_size_explained(n: int, kernel_size: int = 3, padding="valid", strides=1) -> OutputSize:
    """The output size of a convolution along one axis, with the padding spelled out.

    The padding is 0 for "valid"; for "same" it is ops.same_padding's (1 on each side for a
    3x3 kernel with stride 1; 0 before and 1 after with stride 2 on an even size).
    """
    before, after = ops.same_padding(n, kernel_size, strides) if padding == "same" else (0, 0)
    out = ops.output_size(n, kernel_size, padding, strides)
    return OutputSize(int(n), int(kernel_size), before, int(strides), int(out), after)


# ---------------------------------------------------------------------------------------------
# Convolution page: Sobel pair and a bank of filters
# ---------------------------------------------------------------------------------------------


@dataclass
class SobelEdges:
    """Vertical (gx) and horizontal (gy) Sobel responses and the edge magnitude, all (H', W')."""

    vertical: np.ndarray
    horizontal: np.ndarray
    magnitude: np.ndarray


def sobel_edges(image, padding="valid", pad_value=0.0, strides=1) -> SobelEdges:
    """Both Sobel filters of the tutorial over ``image`` (H, W), and sqrt(gx^2 + gy^2)."""
    gx = ops.conv2d(image, filters.FILTERS["Vertical Sobel"], padding, pad_value, strides)
    gy = ops.conv2d(image, filters.FILTERS["Horizontal Sobel"], padding, pad_value, strides)
    return SobelEdges(gx, gy, filters.edge_magnitude(gx, gy))


def conv_param_count(kernel_size=3, filters_count=8, in_channels=1, bias=False) -> int:
    """Weights of one conv layer: k * k * channels * filters (+ filters biases).

    The tutorial's layer: 3 x 3 x 8 = 72 (no bias).
    """
    return kernel_size * kernel_size * in_channels * filters_count + (filters_count if bias else 0)


@dataclass
class FilterBank:
    """Several filters over one image: names, kernels (F, k, k), volume (H', W', F), params."""

    names: list[str]
    kernels: np.ndarray
    volume: np.ndarray
    params: int


def filter_bank(image, names, padding="valid", pad_value=0.0, strides=1) -> FilterBank:
    """Apply the named filters (from cnnviz.filters.FILTERS) to ``image`` (H, W) at once.

    Returns a FilterBank whose volume is (H', W', F): 26x26x8 for a 28x28 digit, 8 filters and
    valid padding, like the tutorial's conv layer.
    """
    names = list(names)
    if not names:
        raise InputError("Choose at least one filter.")
    kernels = np.stack([filters.get_filter(name) for name in names])
    volume = ops.conv2d_multi(image, kernels, padding, pad_value, strides)
    k = kernels.shape[1]
    return FilterBank(names, kernels, volume, conv_param_count(k, len(names), 1))


# ---------------------------------------------------------------------------------------------
# Why convolution: parameter counts and translation
# ---------------------------------------------------------------------------------------------


@dataclass
class LayerParamCounts:
    """Weights (no biases) of a first hidden layer of ``units`` = H * W * F neurons.

    fully_connected: every neuron sees every input pixel: (H*W*C) * (H*W*F).
    locally_connected: every neuron sees only its k x k x C patch: (H*W*F) * (k*k*C).
    convolutional: the neurons of a feature map share one k x k x C filter: k*k*C*F.
    """

    inputs: int
    units: int
    fully_connected: int
    locally_connected: int
    convolutional: int


def layer_param_counts(
    height: int, width: int, channels: int = 1, feature_maps: int = 1, kernel_size: int = 3
) -> LayerParamCounts:
    """Parameter counts for the three kinds of layer (Python ints, no overflow).

    The hidden layer keeps the image size (same padding) with ``feature_maps`` maps, so it has
    H*W*F neurons. The tutorial's 1000x1000 image: fully connected = 10^6 * 10^6 = 10^12.
    """
    for value, name in (
        (height, N_("The height")),
        (width, N_("The width")),
        (channels, N_("The number of channels")),
        (feature_maps, N_("The number of feature maps")),
        (kernel_size, N_("The kernel size")),
    ):
        if int(value) != value or value < 1:
            raise InputError(
                "{what} must be a whole number of at least 1, not {value}.",
                what=Text(name),
                value=repr(value),
            )
    h, w, c, f, k = (int(v) for v in (height, width, channels, feature_maps, kernel_size))
    inputs = h * w * c
    units = h * w * f
    return LayerParamCounts(
        inputs=inputs,
        units=units,
        fully_connected=inputs * units,
        locally_connected=units * k * k * c,
        convolutional=k * k * c * f,
    )


def shift_image(image, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """Move ``image`` (H, W) down by dy and right by dx pixels (negative: up/left).

    Pixels that leave the frame are lost; the uncovered border is ``fill`` (no wrap-around).
    """
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    out = np.full_like(image, fill)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_rows = slice(max(0, -dy), h - max(0, dy))
    src_cols = slice(max(0, -dx), w - max(0, dx))
    dst_rows = slice(max(0, dy), h - max(0, -dy))
    dst_cols = slice(max(0, dx), w - max(0, -dx))
    out[dst_rows, dst_cols] = image[src_rows, src_cols]
    return out


@dataclass
class TranslationDemo:
    """A digit and its shifted copy, with the feature maps of both.

    image, shifted: (H, W). maps, shifted_maps: (H, W, F) ("same" padding keeps the size).
    mismatch: the largest difference between shift(conv(image)) and conv(shift(image)) away
    from the border (0 up to rounding: convolution commutes with shifting).
    """

    image: np.ndarray
    shifted: np.ndarray
    maps: np.ndarray
    shifted_maps: np.ndarray
    dy: int
    dx: int
    mismatch: float


def translation_demo(image, kernels, dy: int, dx: int) -> TranslationDemo:
    """Shift ``image`` (H, W) by (dy, dx) and convolve both versions with ``kernels`` (F, k, k).

    With zero padding, a digit surrounded by black is mapped to the same feature maps, moved by
    exactly (dy, dx): the filters look for the same pattern everywhere (shared parameters).
    """
    image = np.asarray(image, dtype=np.float64)
    kernels = np.asarray(kernels, dtype=np.float64)
    shifted = shift_image(image, dy, dx)
    maps = ops.conv2d_multi(image, kernels, padding="same")
    shifted_maps = ops.conv2d_multi(shifted, kernels, padding="same")
    moved = np.stack([shift_image(maps[:, :, f], dy, dx) for f in range(maps.shape[2])], axis=-1)
    # Compare away from the border, where shifting loses or invents pixels.
    margin = kernels.shape[1] // 2 + 1
    h, w = image.shape
    rows = slice(max(0, dy) + margin, h - max(0, -dy) - margin)
    cols = slice(max(0, dx) + margin, w - max(0, -dx) - margin)
    inner = np.abs(moved[rows, cols] - shifted_maps[rows, cols])
    mismatch = float(inner.max()) if inner.size else 0.0
    return TranslationDemo(image, shifted, maps, shifted_maps, int(dy), int(dx), mismatch)


# ---------------------------------------------------------------------------------------------
# Pooling page
# ---------------------------------------------------------------------------------------------


def pool_windows(out_shape: tuple[int, int], pool_size: int) -> list[tuple[int, int]]:
    """Top-left corners (row, col) of every pooling window, for an output of ``out_shape``."""
    p = pool_size
    return [(r * p, c * p) for r in range(out_shape[0]) for c in range(out_shape[1])]


def upstream_gradient(shape, kind: str = "ones", seed: int = 0) -> np.ndarray:
    """A made-up dL/d(pooled output) to send backwards: all ones, or small random integers.

    shape: the pooled output's shape. kind: "ones" or "random" (integers -3..3, never 0).
    """
    if kind == "ones":
        return np.ones(shape)
    if kind == "random":
        rng = np.random.default_rng(seed)
        values = rng.integers(1, 4, size=shape) * rng.choice([-1, 1], size=shape)
        return values.astype(np.float64)
    raise InputError(
        "The upstream gradient must be 'ones' or 'random', not {kind}.", kind=repr(kind)
    )


# ---------------------------------------------------------------------------------------------
# Softmax & backprop: one training step, dissected
# ---------------------------------------------------------------------------------------------


@dataclass
class LayerStep:
    """One layer during the dissected step (batch axis removed).

    name, kind: e.g. "conv2d", "Conv2D". input, output: what it received and gave back.
    grad_output: dL/d output (None for a softmax Dense, whose gradient is taken at its logits).
    grad_input: dL/d input (for the first layer: how each pixel moves the loss).
    params / grads: name -> array.
    """

    name: str
    kind: str
    output_shape: tuple
    output: np.ndarray
    grad_output: np.ndarray | None
    grad_input: np.ndarray | None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    input: np.ndarray | None = None

    @property
    def param_count(self) -> int:
        return int(sum(p.size for p in self.params.values()))


@dataclass
class TrainingStep:
    """Everything one SGD step on one example does, for the Softmax & backprop page.

    x: the model input (28, 28) (= image - 0.5). label: the true digit. layers: LayerStep per
    layer. softmax: ops.SoftmaxTrace of the last layer's logits. loss: the model's own loss.
    conv_index: index of the first Conv2D layer (None if there is none). kernels_before,
    kernel_grads, kernels_after: its filters (F, kh, kw) for the first input channel;
    learning_rate: the step size used (after = before - learning_rate * grad).
    probs_after, loss_after: the prediction (10,) and loss for the same example after the SGD
    step has been applied to EVERY parameter of a copy of the model.
    """

    x: np.ndarray
    label: int
    layers: list[LayerStep]
    softmax: ops.SoftmaxTrace
    loss: float
    learning_rate: float
    conv_index: int | None
    kernels_before: np.ndarray | None
    kernel_grads: np.ndarray | None
    kernels_after: np.ndarray | None
    probs_after: np.ndarray
    loss_after: float

    @property
    def predicted(self) -> int:
        """The class the model predicts before the step."""
        return int(np.argmax(self.softmax.probs))

    @property
    def loss_change(self) -> float:
        """loss_after - loss (negative when the step helped)."""
        return self.loss_after - self.loss

    def first(self, kind: str) -> int | None:
        """Index of the first layer of this kind ("Conv2D", "MaxPooling2D", ...), or None."""
        return next((i for i, layer in enumerate(self.layers) if layer.kind == kind), None)


def _batchless(array):
    return None if array is None else np.asarray(array)[0].astype(np.float64)


def predicted_label(model, image01) -> int:
    """The class ``model`` gives a (28, 28) image in [0, 1] (scaled x - 0.5 as in training)."""
    image01 = np.asarray(image01, dtype=np.float32)
    x = (image01 - 0.5).reshape(1, *image01.shape, 1)
    return int(np.argmax(model.trace(x).output[0]))  # a pure trace: the model may be shared


def dissect_step(model, image01, label: int, learning_rate: float = 0.01) -> TrainingStep:
    """Run one example through ``model``, backpropagate, and take one SGD step on a copy.

    model: a cnnviz.nn.Sequential ending in Dense(..., activation="softmax"). image01: (28, 28)
    in [0, 1] (the current drawing). label: the true digit (0..9). The SGD step is the
    tutorial's ``filters -= learn_rate * d_L_d_filters``, applied to copies of the first conv
    layer's filters. The model passed in is not changed (``model.trace`` leaves it alone).
    """
    if not 0 <= int(label) <= 9:
        raise InputError(
            "The true label must be a digit from 0 to 9, not {label}.", label=repr(label)
        )
    if not learning_rate > 0:
        raise InputError("The learning rate must be a positive number.")
    image01 = np.asarray(image01, dtype=np.float32)
    x = (image01 - 0.5).reshape(1, *image01.shape, 1).astype(np.float32)
    trace = model.trace(x, np.array([int(label)]))
    layers = [
        LayerStep(
            name=record.name,
            kind=record.kind,
            output_shape=tuple(record.output.shape[1:]),
            output=_batchless(record.output),
            grad_output=_batchless(record.grad_output),
            grad_input=_batchless(record.grad_input),
            params={k: np.asarray(v, dtype=np.float64).copy() for k, v in layer.params.items()},
            grads={k: np.asarray(v, dtype=np.float64) for k, v in record.grads.items()},
            input=_batchless(record.input),
        )
        for record, layer in zip(trace, model.layers, strict=True)
    ]
    logits = trace[-1].logits
    if logits is None:
        # Not a softmax Dense layer: softmax(log p) = p, so log-probabilities act as logits.
        logits = np.log(np.maximum(np.asarray(trace.output, dtype=np.float64), 1e-300))
    softmax = ops.softmax_trace(np.asarray(logits, dtype=np.float64)[0], int(label))
    conv_index = next((i for i, lay in enumerate(layers) if lay.kind == "Conv2D"), None)
    before = grads = after = None
    if conv_index is not None:
        kernel = layers[conv_index].params["kernel"]  # (kh, kw, cin, F)
        grad = layers[conv_index].grads["kernel"]
        before = np.moveaxis(kernel[:, :, 0, :], -1, 0)  # (F, kh, kw)
        grads = np.moveaxis(grad[:, :, 0, :], -1, 0)
        after = before - learning_rate * grads
    # One plain SGD step on every parameter of a copy, then the same example again.
    work = model.copy()
    for layer, step in zip(work.layers, layers, strict=True):
        for name, value in layer.params.items():
            value -= np.asarray(learning_rate * step.grads[name], dtype=value.dtype)
    probs_after = np.asarray(work.trace(x).output, dtype=np.float64)[0]
    return TrainingStep(
        x=x[0, :, :, 0].astype(np.float64),
        label=int(label),
        layers=layers,
        softmax=softmax,
        loss=float(trace.loss),
        learning_rate=float(learning_rate),
        conv_index=conv_index,
        kernels_before=before,
        kernel_grads=grads,
        kernels_after=after,
        probs_after=probs_after,
        loss_after=ops.cross_entropy(probs_after, int(label)),
    )
