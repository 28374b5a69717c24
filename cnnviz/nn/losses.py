"""Cross-entropy, computed from the logits so it stays exact where probabilities underflow.

For a softmax output p = softmax(z) and a true class y, the loss of one sample is
-log p_y = logsumexp(z) - z_y, and its gradient is dL/dz = p - onehot(y). Batches average.
"""

from __future__ import annotations

import numpy as np

from cnnviz.errors import InputError
from cnnviz.ops import softmax

LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")


def log_softmax(z: np.ndarray) -> np.ndarray:
    """z (N, K) -> log softmax(z) (N, K), stable for any finite logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def crossentropy(
    logits: np.ndarray, probs: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of a batch and dL/dlogits.

    logits, probs: (N, K); target: int labels (N,) or target distributions (N, K).
    Returns (loss, dz) with dz = (probs - onehot) / N, shape (N, K).
    """
    n, k = logits.shape
    dz = probs.copy()
    if target.ndim == 1:
        flat = target + np.arange(0, n * k, k)  # index of each row's true class in probs.flat
        p_true = probs.take(flat)
        if p_true.min() > 1e-30:  # the usual case: -log p is as exact as float32 allows
            loss = -np.log(p_true).sum() / n
        else:  # a probability underflowed to 0: take the log from the logits instead
            loss = -log_softmax(logits).take(flat).sum() / n
        dz.reshape(-1)[flat] -= 1.0
    else:
        loss = -(target * log_softmax(logits)).sum() / n
        dz -= target
    if n > 1:
        dz /= np.float32(n)
    return float(loss), dz


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise InputError(
            "The loss must be one of {losses}, not {name}.",
            losses=", ".join(LOSSES),
            name=repr(name),
        )
    return name


def last_layer_loss(last, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss of a model's output and the gradient to start backward from.

    A softmax Dense ``last`` gives dL/d(its logits) (the fused, exact form); any other last
    layer's outputs are taken as logits (Keras's from_logits=True), giving dL/d(out).
    """
    if getattr(last, "activation", None) == "softmax":
        return crossentropy(last.logits, out, target)
    return crossentropy(out, softmax(out), target)
