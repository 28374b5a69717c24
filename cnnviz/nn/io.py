"""Saving and loading models (the file format itself is cnnviz/nn/npz.py).

>>> model.save("my_model.npz")            # or save_model(model, path); to_bytes(model)
>>> model = load_model("my_model.npz")    # a path, the file's bytes or a binary file object

Loading is safe for files from anyone: no pickle, a size limit on the file, and an
architecture with more than MAX_PARAMS weights is refused before anything is allocated.
"""

from __future__ import annotations

from cnnviz.errors import InputError
from cnnviz.nn import npz
from cnnviz.nn.layers import LAYER_CLASSES, Conv2D, Dense
from cnnviz.nn.model import Sequential
from cnnviz.nn.npz import save_model, to_bytes
from cnnviz.texts import Number

MAX_PARAMS = 50_000_000  # a few hundred bytes of JSON must not make the server allocate GBs

__all__ = ["MAX_PARAMS", "load_model", "save_model", "to_bytes"]


def load_model(source) -> Sequential:
    """Load a model saved by ``save``: a path, the file's bytes, or a binary file-like object.

    Returns a built Sequential (not compiled: call ``compile`` to train it further).
    Anything that is not such a file raises InputError with one sentence.
    """
    config, metadata, weights = npz.read(source)
    _check_size(config)
    model = Sequential.from_config(config)
    model.set_weights(weights)
    model.metadata = metadata
    return model


def _check_size(config: dict) -> None:
    """Refuse an architecture with more than MAX_PARAMS weights, counted before allocating.

    A description that is not one cnnviz knows is left to Sequential.from_config to refuse.
    """
    try:
        layers = [LAYER_CLASSES[spec["class"]](**spec["config"]) for spec in config["layers"]]
        shape = tuple(int(s) for s in config["input_shape"])
    except (KeyError, TypeError, ValueError):
        return
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or min(shape) < 1:
        raise InputError("The model's input shape {shape} is not an image shape.", shape=shape)
    total = 0
    for layer in layers:
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            total += kh * kw * shape[2] * layer.filters + layer.filters * layer.use_bias
        elif isinstance(layer, Dense):
            total += shape[0] * layer.units + layer.units * layer.use_bias
        shape = layer.compute_output_shape(shape)
    if total > MAX_PARAMS:
        raise InputError(
            "The model's architecture has more than {limit} weights, "
            "far more than cnnviz models have.",
            limit=Number(MAX_PARAMS),
        )
