"""Looking inside a model without touching it: the records of ``Sequential.trace``.

>>> trace = model.trace(x, y)            # x (N, 28, 28, 1), y labels (N,) (optional)
>>> trace[0].output.shape, trace[0].grads["kernel"].shape, trace.loss
((N, 26, 26, 8), (3, 3, 1, 8), 0.31)

The batch runs through throw-away copies of the layers (``Layer.scratch``: the same weight
arrays, read-only, with their own caches and gradients), so the model is left exactly as it
was and several sessions may trace one shared model at the same time. Training does not use
this path: ``fit`` keeps its caches on the layers, which is what makes it fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnviz.nn import losses
from cnnviz.nn.layers import Layer


@dataclass
class LayerRecord:
    """What one layer received and gave back in a trace; every array is batched (N, ...).

    name, kind: e.g. "conv2d", "Conv2D". input, output: the layer's input and output.
    logits: z (N, classes) before the softmax of a softmax Dense layer, else None.
    With labels: grad_output = dL/d(output) (None for a softmax Dense, whose gradient is
    taken at its logits: grad_logits = dL/dz = (p - onehot) / N), grad_input = dL/d(input),
    grads = {"kernel": dL/dkernel, "bias": dL/dbias} shaped like the layer's params.
    """

    name: str
    kind: str
    input: np.ndarray
    output: np.ndarray
    logits: np.ndarray | None = None
    grad_output: np.ndarray | None = None
    grad_input: np.ndarray | None = None
    grad_logits: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Trace:
    """One LayerRecord per layer, in order (index and iterate it like a list); ``loss``: the
    mean loss of the batch when labels were given, else None."""

    layers: list[LayerRecord]
    loss: float | None = None

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    @property
    def output(self) -> np.ndarray:
        """The model's output (N, classes), e.g. the probabilities."""
        return self.layers[-1].output


def trace_layers(layers: list[Layer], x: np.ndarray, target: np.ndarray | None = None) -> Trace:
    """Forward (and with ``target``, backward) through scratch copies of ``layers``.

    x: float32 (N, H, W, C) of the first layer's shape; target: int labels (N,) or target
    rows (N, classes) as ``as_labels`` gives them, or None for a forward pass only.
    """
    work = [layer.scratch() for layer in layers]
    inputs = []
    out = x
    for layer in work:
        inputs.append(out)
        out = layer.forward(out, target is not None)
    loss = None
    if target is not None:
        last = work[-1]
        loss, grad = losses.last_layer_loss(last, out, target)
        grad = last.backward_logits(grad) if _is_softmax(last) else last.backward(grad)
        for layer in reversed(work[:-1]):
            grad = layer.backward(grad)
    records = []
    for layer, given in zip(work, inputs, strict=True):
        record = LayerRecord(str(layer.name), layer.kind, given, layer.output)
        if _is_softmax(layer):
            record.logits = layer.logits
        if target is not None:
            record.grad_output, record.grad_input = layer.grad_output, layer.grad_input
            record.grads = dict(layer.grads)
            if _is_softmax(layer):
                record.grad_logits = layer.grad_logits
        records.append(record)
    return Trace(records, loss)


def _is_softmax(layer: Layer) -> bool:
    return getattr(layer, "activation", None) == "softmax"
