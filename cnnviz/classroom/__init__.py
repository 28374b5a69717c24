"""Class mode: the whole hall draws digits into one room, and the host fine-tunes a model on them.

>>> from cnnviz.classroom import open_store
>>> store = open_store()                   # $CNNVIZ_CLASSROOM_DB or the default SQLite file
>>> room = store.create_room(prompt=7)
>>> store.submit(room.code, image28, 7)

* :mod:`~cnnviz.classroom.store`: rooms, drawings and class models (:class:`Store`);
* :mod:`~cnnviz.classroom.checks`: what a person sends is checked here (codes, drawings, ...);
* :mod:`~cnnviz.classroom.db`: the databases under it, SQLite (the default) and PostgreSQL;
* :mod:`~cnnviz.classroom.finetune`: fine-tuning a copy of a model on the class's digits;
* :mod:`~cnnviz.classroom.handwriting`: a hall's handwriting made from MNIST, for tests and demos.

No Streamlit here (the Class page is in pages/ and cnnviz/ui/). docs/classroom.md says what is
stored, for how long, and when to use PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnnviz.classroom.checks import ALPHABET, CODE_LENGTH
from cnnviz.classroom.db import connect
from cnnviz.classroom.store import (
    MAX_SUBMISSIONS,
    ModelRecord,
    Room,
    Store,
    Submission,
)

ENVIRONMENT = "CNNVIZ_CLASSROOM_DB"


def default_path() -> Path:
    """$XDG_DATA_HOME/cnnviz/classroom.sqlite3 (XDG_DATA_HOME defaults to ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "cnnviz" / "classroom.sqlite3"


def open_store(url: str | os.PathLike | None = None, *, clock=None) -> Store:
    """The class room store at ``url``: an SQLite file path or ``postgresql://...``.

    None: the URL in the environment variable CNNVIZ_CLASSROOM_DB if it is set, else the
    SQLite file :func:`default_path`. The tables are created if they are missing.
    """
    if url is None:
        url = os.environ.get(ENVIRONMENT) or default_path()
    store = Store(connect(os.fspath(url)))
    if clock is not None:
        store.clock = clock
    return store


__all__ = [
    "ALPHABET",
    "CODE_LENGTH",
    "ENVIRONMENT",
    "MAX_SUBMISSIONS",
    "ModelRecord",
    "Room",
    "Store",
    "Submission",
    "default_path",
    "open_store",
]
