"""A reader for the IDX format of MNIST and its relatives.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
then one big-endian int32 per dimension, then the data in C order. ``.gz`` files are read
through gzip. Every malformed file raises :class:`cnnviz.errors.InputError`.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from cnnviz.errors import InputError

# type code -> big-endian dtype
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(raw: bytes, name: str = "the file") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file.

    Returns an array of shape ``dims`` in native byte order (uint8 for MNIST).
    Raises InputError on a wrong magic number, a dimension of zero or a size mismatch.
    """
    if len(raw) < 4:
        raise InputError(f"{name} is too short to be an IDX file (it has {len(raw)} bytes).")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise InputError(f"{name} is not an IDX file: its magic number is {raw[:4].hex()}.")
    ndim = raw[3]
    if ndim == 0:
        raise InputError(f"{name} is an IDX file with no dimensions.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{name} is truncated: its header is incomplete.")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[raw[2]]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise InputError(
            f"{name} is {what}: its header {dims} needs {expected} data bytes but it has {got}."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into an array of shape ``dims``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise InputError(f"There is no file {path}.") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path.name} could not be read as gzip data ({exc}).") from None
    return parse_idx(raw, path.name)
