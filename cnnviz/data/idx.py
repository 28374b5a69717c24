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
        raise InputError(
            "{name} is too short to be an IDX file (it has {size} bytes).", name=name, size=len(raw)
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise InputError(
            "{name} is not an IDX file: its magic number is {magic}.",
            name=name,
            magic=raw[:4].hex(),
        )
    ndim = raw[3]
    if ndim == 0:
        raise InputError("{name} is an IDX file with no dimensions.", name=name)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError("{name} is truncated: its header is incomplete.", name=name)
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[raw[2]]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        if got < expected:
            raise InputError(
                "{name} is truncated: its header {dims} needs {expected} data bytes but it has "
                "{got}.",
                name=name,
                dims=dims,
                expected=expected,
                got=got,
            )
        raise InputError(
            "{name} is longer than its header says: its header {dims} needs {expected} data "
            "bytes but it has {got}.",
            name=name,
            dims=dims,
            expected=expected,
            got=got,
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
        raise InputError("There is no file {path}.", path=path) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            "{name} could not be read as gzip data ({error}).", name=path.name, error=exc
        ) from None
    return parse_idx(raw, path.name)
