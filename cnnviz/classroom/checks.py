"""Checking what people send to a class room: codes, host keys, drawings, digits, models.

Each check returns the value in the form the store keeps, or raises
:class:`~cnnviz.errors.InputError` with one sentence a person can act on.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector unmistaken
CODE_LENGTH = 6  # 31**6 = 887,503,681 codes = 29.7 bits
BASE_MODELS = ("tutorial", "strong")
SIDE = 28

UNKNOWN = N_("There is no open room with this code: check the code on the projector.")
CLOSED = N_("This room has been closed by its host.")
NOT_HOST = N_("Only the room's host can do this, with the host key this room was created with.")
CHOICES = N_("The model must be 'tutorial', 'strong' or one of this room's class models.")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code) -> str:
    """'k7m-q2d ' -> 'K7MQ2D'. Anything that cannot be a code raises the unknown-room sentence."""
    if not isinstance(code, str):
        raise InputError(UNKNOWN)
    code = re.sub(r"[\s\-]+", "", code).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise InputError(UNKNOWN)
    return code


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def image_bytes(image) -> bytes:
    """A drawing as its 784 bytes: (28, 28) uint8, whole numbers 0-255 or floats in [0, 1]."""
    try:
        a = np.asarray(image)
    except (TypeError, ValueError):
        raise InputError("A drawing must be a 28 x 28 image.") from None
    if a.shape != (SIDE, SIDE):
        raise InputError(
            "A drawing must be a 28 x 28 image, not one shaped {shape}.", shape=a.shape
        )
    if a.dtype.kind in "iu" and a.size and 0 <= a.min() and a.max() <= 255:
        return np.ascontiguousarray(a, dtype=np.uint8).tobytes()
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and 0 <= a.min() and a.max() <= 1:
        return np.rint(a * 255.0).astype(np.uint8).tobytes()
    raise InputError(
        "A drawing's pixels must be numbers from 0 to 1, or whole numbers from 0 to 255."
    )


def digit(value, *, allow_none: bool = False) -> int | None:
    """A digit 0-9 given as a whole number (``None`` too when allowed), else InputError."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok or not 0 <= int(value) <= 9:
        if allow_none:
            raise InputError("The prompt must be a digit from 0 to 9, or none for any digit.")
        raise InputError("The digit must be a whole number from 0 to 9.")
    return int(value)


def class_model_id(model) -> int:
    """3 or "class:3" -> 3; anything else raises the model-choice sentence."""
    if isinstance(model, int | np.integer) and not isinstance(model, bool):
        return int(model)
    match = re.fullmatch(r"class:(\d{1,18})", model) if isinstance(model, str) else None
    if match is None:
        raise InputError(CHOICES)
    return int(match.group(1))


def check_model(data: bytes) -> None:
    """Refuse bytes that are not a cnnviz model for 28 x 28 digits (cnnviz's loader: no pickle)."""
    from cnnviz.nn.io import load_model

    model = load_model(data)
    if tuple(model.input_shape or ()) != (SIDE, SIDE, 1) or tuple(model.output_shape) != (10,):
        raise InputError("A class model must take 28 x 28 images and give the 10 digits.")


def json_number(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)
