"""The model file format: one .npz of plain arrays plus the architecture as JSON text.

The file holds ``format``, ``architecture`` (a JSON string), ``metadata`` (JSON) and
``weight_0``, ``weight_1``, ... in ``get_weights()`` order. It is read with
``allow_pickle=False``, so a file carrying pickled objects is refused, never run. Saving writes
a temporary file beside the target and renames it, so a crash mid-save never leaves a broken
model behind. This module knows arrays, not models: ``Sequential.save`` writes with it and
``cnnviz.nn.io.load_model`` reads with it.
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
from cnnviz.i18n import N_

FORMAT = "cnnviz-model-1"
MAX_BYTES = 200 * 1024 * 1024  # refuse absurd uploads before reading them
DAMAGED = N_("This file is not a readable cnnviz model (.npz): it is damaged or truncated.")


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


def check_header(raw: bytes) -> None:
    """Refuse bytes that are not a zip archive (every .npz file is one) with one sentence."""
    if not raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise InputError("This file is not a cnnviz model: a model is a .npz (zip) file.")


def read(source) -> tuple[dict, dict, list[np.ndarray]]:
    """(architecture, metadata, weights) of a saved model: a path, bytes or a binary file.

    The weights are float32 and finite; anything else raises InputError with one sentence.
    """
    raw = _read(source)
    check_header(raw)
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            files = set(archive.files)
            if "architecture" not in files:
                raise InputError("This .npz file is not a cnnviz model: it has no architecture.")
            config = json.loads(str(archive["architecture"]))
            metadata = json.loads(str(archive["metadata"])) if "metadata" in files else {}
            n = sum(1 for f in files if f.startswith("weight_"))
            weights = [archive[f"weight_{i}"] for i in range(n)]
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
        raise InputError(DAMAGED) from None
    if not isinstance(config, dict):
        raise InputError(
            "This .npz file is not a cnnviz model: its architecture is not a description."
        )
    weights = [np.asarray(w) for w in weights]
    for w in weights:
        if w.dtype.kind not in "fiu" or not np.all(np.isfinite(w)):
            raise InputError("This model file has weights that are not finite numbers.")
    metadata = metadata if isinstance(metadata, dict) else {}
    return config, metadata, [w.astype(np.float32) for w in weights]


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
            raise InputError("There is no model file {path}.", path=path)
        if path.stat().st_size > MAX_BYTES:
            raise InputError("{name} is larger than a cnnviz model can be.", name=path.name)
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
