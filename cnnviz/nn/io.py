"""Saving and loading models: one .npz of plain arrays plus the architecture as JSON text.

The file holds ``architecture`` (a JSON string), ``metadata`` (JSON) and ``weight_0``,
``weight_1``, ... in ``get_weights()`` order. It is read with ``allow_pickle=False``, so a file
carrying pickled objects is refused, never run. Saving writes a temporary file beside the
target and renames it, so a crash mid-save never leaves a broken model behind.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nn.layers import LAYER_CLASSES, Conv2D, Dense

FORMAT = "cnnviz-model-1"
MAX_BYTES = 200 * 1024 * 1024  # refuse absurd uploads before reading them
MAX_PARAMS = 50_000_000  # a few hundred bytes of JSON must not make the server allocate GBs


def to_bytes(model) -> bytes:
    """The .npz file of ``model`` as bytes (for a download button)."""
    arrays = {
        "format": np.array(FORMAT),
        "architecture": np.array(json.dumps(model.get_config())),
        "metadata": np.array(json.dumps(model.metadata, default=_json_default)),
    }
    for i, w in enumerate(model.get_weights()):
        arrays[f"weight_{i}"] = w
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def save_model(model, path) -> None:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    data = to_bytes(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved model is an ordinary file
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def from_config(config: dict):
    """A fresh, built Sequential from ``get_config()``'s dict (weights initialised anew)."""
    from cnnviz.nn.model import Sequential

    try:
        layers = []
        for spec in config["layers"]:
            cls = LAYER_CLASSES[spec["class"]]
            cfg = dict(spec["config"])
            layers.append(cls(**cfg))
        input_shape = tuple(int(s) for s in config["input_shape"])
        if _count_params(layers, input_shape) > MAX_PARAMS:
            raise InputError(
                f"The model's architecture has more than {MAX_PARAMS:,} weights, "
                "far more than cnnviz models have."
            )
        model = Sequential(layers, name=str(config.get("name", "sequential")), seed=0)
        model.build(input_shape)
    except InputError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"The model's architecture is not one cnnviz knows ({exc!r}).") from None
    model.loss = config.get("loss") or model.loss
    return model


def _count_params(layers, input_shape: tuple) -> int:
    """The number of weights the layers would have, counted before anything is allocated."""
    if len(input_shape) == 2:
        input_shape = (*input_shape, 1)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise InputError(f"The model's input shape {input_shape} is not an image shape.")
    shape, total = input_shape, 0
    for layer in layers:
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            total += kh * kw * shape[2] * layer.filters + layer.filters * layer.use_bias
        elif isinstance(layer, Dense):
            total += shape[0] * layer.units + layer.units * layer.use_bias
        shape = layer.compute_output_shape(shape)
    return total


def load_model(source):
    """Load a model saved by ``save``: a path, the file's bytes, or a binary file-like object.

    Returns a built Sequential (not compiled: call ``compile`` to train it further).
    Anything that is not such a file raises InputError with one sentence.
    """
    raw = _read(source)
    if not raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # .npz files are zip archives
        raise InputError("This file is not a cnnviz model: a model is a .npz (zip) file.")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            files = set(npz.files)
            if "architecture" not in files:
                raise InputError("This .npz file is not a cnnviz model: it has no architecture.")
            config = json.loads(str(npz["architecture"]))
            metadata = json.loads(str(npz["metadata"])) if "metadata" in files else {}
            n = sum(1 for f in files if f.startswith("weight_"))
            weights = [npz[f"weight_{i}"] for i in range(n)]
    except InputError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(
                "This model file holds pickled Python objects, which cnnviz never loads."
            ) from None
        raise InputError("This file is not a readable cnnviz model (.npz).") from None
    except (
        OSError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
        zipfile.LargeZipFile,
        zlib.error,
    ):
        raise InputError(
            "This file is not a readable cnnviz model (.npz): it is damaged or truncated."
        ) from None
    if not isinstance(config, dict):
        raise InputError(
            "This .npz file is not a cnnviz model: its architecture is not a description."
        )
    model = from_config(config)
    weights = [np.asarray(w) for w in weights]
    for w in weights:
        if w.dtype.kind not in "fiu" or not np.all(np.isfinite(w)):
            raise InputError("This model file has weights that are not finite numbers.")
    model.set_weights([w.astype(np.float32) for w in weights])
    model.metadata = metadata if isinstance(metadata, dict) else {}
    return model


def _read(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        raw = source.read(MAX_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"There is no model file {path}.")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path.name} is larger than a cnnviz model can be.")
        raw = path.read_bytes()
    if not raw:
        raise InputError("The model file is empty.")
    if len(raw) > MAX_BYTES:
        raise InputError("The model file is larger than a cnnviz model can be.")
    return raw


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
