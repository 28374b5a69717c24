"""Class rooms: a hall of students drawing digits into one room, kept in a database.

>>> store = open_store()                      # $CNNVIZ_CLASSROOM_DB, else an SQLite file
>>> room = store.create_room(prompt=7)        # "everyone draw a 7"
>>> room.code, room.host_token                # 'K7MQ2D' on the projector; the key: host only
>>> store.submit("k7m-q2d", drawing28, 7)     # a student; codes ignore case, spaces and dashes
>>> store.submissions(room.code, since_id=0)  # the projector polls with the last id it saw

What is stored: for each drawing its 28 x 28 pixels (784 bytes), the digit the student says it
is and the time; for each room its code, the SHA-256 of the host's key, the prompt, its times
and which model it uses; the class models the host saved. Nothing else: no photos, no names, no
IP addresses, no session ids.

Codes are 6 characters from a 31-character alphabet without 0/O, 1/I/L (``ALPHABET``), drawn
with :mod:`secrets`: 31^6 = 887,503,681 codes, about 29.7 bits. A code only lets a person draw
into a room and see its models; everything the host does needs the host key
(``secrets.token_urlsafe(24)``, 192 bits), of which the database holds only the SHA-256 and
which is compared in constant time. An unknown code and an expired one get the same sentence.

Every mistake a person can make raises :class:`~cnnviz.errors.InputError` with one sentence.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from cnnviz.classroom.checks import (
    BASE_MODELS,
    CHOICES,
    CLOSED,
    NOT_HOST,
    SIDE,
    UNKNOWN,
    check_model,
    class_model_id,
    digit,
    hash_token,
    image_bytes,
    json_number,
    new_code,
    normalize_code,
)
from cnnviz.classroom.db import Database, Transaction
from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.texts import Number, Text

TOKEN_BYTES = 24  # the host key: secrets.token_urlsafe(24), 32 characters, 192 bits
MAX_SUBMISSIONS = 2_000  # per room
MAX_MODELS = 20  # class models per room
MAX_MODEL_BYTES = 4 * 1024 * 1024  # a bundled model is 54-133 KB
MAX_METRICS_BYTES = 16 * 1024
MAX_NAME = 80
MAX_TTL_HOURS = 24 * 7


@dataclass(frozen=True)
class Room:
    """One class room. ``prompt``: None ("draw any digit and say which") or a digit 0-9.

    ``model``: "tutorial", "strong" or "class:<id>" (a model saved in this room).
    ``host_token`` is only known to the :class:`Store` call that created the room (the
    database holds its SHA-256); rooms read back have ``host_token=None``.
    """

    code: str
    prompt: int | None
    created_at: datetime
    expires_at: datetime
    closed: bool
    model: str
    host_token: str | None = field(default=None, repr=False)

    @property
    def instruction(self) -> Text:
        """What the students are asked to draw, as a translatable text."""
        if self.prompt is None:
            return Text(N_("Draw any digit and say which one it is."))
        return Text(N_("Draw a {digit}."), digit=self.prompt)


@dataclass(frozen=True, eq=False)
class Submission:
    """One drawing: ``image`` (28, 28) uint8 as the student's phone made it, and its ``label``."""

    id: int
    room: str
    image: np.ndarray
    label: int
    created_at: datetime


@dataclass(frozen=True)
class ModelRecord:
    """A class model saved in a room (the .npz bytes are read with ``Store.model_bytes``)."""

    id: int
    room: str
    name: str
    metrics: dict
    size: int  # bytes of the .npz file
    created_at: datetime

    @property
    def model(self) -> str:
        """The value of ``Room.model`` that selects this model: "class:<id>"."""
        return f"class:{self.id}"


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(now) -> float:
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


# ----------------------------------------------------------------------------- the store


class Store:
    """Class rooms in one database (see :func:`cnnviz.classroom.open_store`).

    Safe to share between threads and to use from many processes at once. ``clock`` gives
    the time in seconds since 1970 (tests pass their own to move time on).
    """

    def __init__(self, database: Database, clock=time.time):
        self.db = database
        self.clock = clock
        self.db.create_schema()

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.db.dialect.name

    def close_connections(self) -> None:
        self.db.close()

    # --- rooms ------------------------------------------------------------------------------
    def create_room(self, prompt=None, ttl_hours: float = 24, base_model: str = "strong") -> Room:
        """A new room open for ``ttl_hours``; the returned Room alone carries the host key.

        Rooms that have expired or were closed are deleted first (:meth:`purge_expired`).
        """
        prompt = digit(prompt, allow_none=True)
        if base_model not in BASE_MODELS:
            raise InputError("A room starts with the 'tutorial' or the 'strong' model.")
        try:
            ttl = float(ttl_hours)
        except (TypeError, ValueError):
            ttl = math.nan
        if not 0 < ttl <= MAX_TTL_HOURS:
            raise InputError(
                "A room stays open for more than 0 and at most {limit} hours.",
                limit=MAX_TTL_HOURS,
            )
        self.purge_expired()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        for _ in range(20):  # a taken code (about one in 10^8 per open room) draws again
            code = new_code()
            row = (code, hash_token(token), prompt, now, now + ttl * 3600, base_model)
            try:
                self.db.run(
                    lambda tx, row=row: tx.execute(
                        "INSERT INTO rooms (code, host_hash, prompt, created_at, expires_at, "
                        "closed, model) VALUES (?, ?, ?, ?, ?, 0, ?)",
                        row,
                    ),
                    write=True,
                )
            except self.db.integrity_error:
                continue
            return Room(code, prompt, _when(now), _when(row[4]), False, base_model, token)
        raise RuntimeError("could not draw a free room code in 20 tries")

    def room(self, code) -> Room:
        """The open room with this code (any case, spaces and dashes ignored)."""
        code = normalize_code(code)
        return self.db.run(lambda tx: self._open_room(tx, code))

    def _open_room(self, tx: Transaction, code: str, lock: bool = False) -> Room:
        """The room ``code`` if it is open, read in ``tx`` (locked with lock=True)."""
        row = tx.execute(
            "SELECT code, prompt, created_at, expires_at, closed, model FROM rooms "
            "WHERE code = ?" + (self.db.dialect.for_update if lock else ""),
            (code,),
        ).one()
        if row is None or row[3] <= self.clock():
            raise InputError(UNKNOWN)  # the same words: an expired code tells nothing more
        if row[4]:
            raise InputError(CLOSED)
        return Room(row[0], row[1], _when(row[2]), _when(row[3]), bool(row[4]), row[5])

    def check_host(self, code, host_token) -> Room:
        """The room, if ``host_token`` is its host key (compared in constant time)."""
        code = normalize_code(code)
        return self.db.run(lambda tx: self._host_room(tx, code, host_token))

    def _host_room(self, tx: Transaction, code: str, host_token, lock: bool = False) -> Room:
        room = self._open_room(tx, code, lock)
        stored = tx.execute("SELECT host_hash FROM rooms WHERE code = ?", (code,)).one()[0]
        given = hash_token(host_token) if isinstance(host_token, str) and host_token else ""
        if not hmac.compare_digest(given.encode(), stored.encode()):
            raise InputError(NOT_HOST)
        return room

    def _host_update(self, code, host_token, sql: str, params: tuple) -> None:
        code = normalize_code(code)

        def work(tx: Transaction) -> None:
            self._host_room(tx, code, host_token, lock=True)
            tx.execute(sql, (*params, code))

        self.db.run(work, write=True)

    def set_prompt(self, code, host_token, prompt) -> None:
        """Ask the room for a digit 0-9, or for any digit (None)."""
        prompt = digit(prompt, allow_none=True)
        self._host_update(code, host_token, "UPDATE rooms SET prompt = ? WHERE code = ?", (prompt,))

    def close(self, code, host_token) -> None:
        """Close the room: no more drawings, no more lookups; its rows go at the next purge."""
        self._host_update(code, host_token, "UPDATE rooms SET closed = 1 WHERE code = ?", ())

    def purge_expired(self, now=None) -> int:
        """Delete every expired or closed room with its drawings and models; how many rooms.

        ``now``: a datetime or seconds since 1970 (default: the store's clock).
        """
        now = self.clock() if now is None else _seconds(now)
        gone = "SELECT code FROM rooms WHERE expires_at <= ? OR closed = 1"

        def work(tx: Transaction) -> int:
            self.db.lock_purge(tx)
            tx.execute(f"DELETE FROM submissions WHERE room IN ({gone})", (now,))
            tx.execute(f"DELETE FROM models WHERE room IN ({gone})", (now,))
            tx.execute("DELETE FROM rooms WHERE expires_at <= ? OR closed = 1", (now,))
            return tx.rowcount

        return self.db.run(work, write=True)

    # --- drawings ---------------------------------------------------------------------------
    def submit(self, code, image28, label) -> Submission:
        """Store one drawing: ``image28`` (28, 28) uint8 (or floats in [0, 1]), ``label`` 0-9."""
        code = normalize_code(code)
        data = image_bytes(image28)
        label = digit(label)
        now = self.clock()

        def work(tx: Transaction) -> int:
            # One statement checks the room and counts the drawing; on PostgreSQL it also
            # locks the room's row until the commit, so a room's ids are handed out in commit
            # order and a poll with since_id never skips a drawing committed later.
            row = tx.execute(
                "UPDATE rooms SET n_submissions = n_submissions + 1 WHERE code = ? AND "
                "closed = 0 AND expires_at > ? AND n_submissions < ? RETURNING n_submissions",
                (code, now, MAX_SUBMISSIONS),
            ).one()
            if row is None:
                self._open_room(tx, code)  # unknown, expired or closed: its own sentence
                raise InputError(
                    "This room already holds {limit} drawings, as many as a room can hold: "
                    "ask the host to open a new room.",
                    limit=Number(MAX_SUBMISSIONS),
                )
            return tx.execute(
                "INSERT INTO submissions (room, image, label, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (code, data, label, now),
            ).one()[0]

        sid = self.db.run(work, write=True)
        image = np.frombuffer(data, np.uint8).reshape(SIDE, SIDE)
        return Submission(int(sid), code, image, label, _when(now))

    def submissions(self, code, since_id: int = 0) -> list[Submission]:
        """The room's drawings with an id above ``since_id``, in the order they arrived."""
        code = normalize_code(code)

        def work(tx: Transaction) -> list:
            self._open_room(tx, code)
            return tx.execute(
                "SELECT id, image, label, created_at FROM submissions "
                "WHERE room = ? AND id > ? ORDER BY id",
                (code, int(since_id)),
            ).all()

        return [
            Submission(
                int(i),
                code,
                np.frombuffer(bytes(img), np.uint8).reshape(SIDE, SIDE).copy(),
                int(label),
                _when(t),
            )
            for i, img, label, t in self.db.run(work)
        ]

    def count(self, code) -> int:
        """How many drawings the room holds."""
        code = normalize_code(code)

        def work(tx: Transaction) -> int:
            self._open_room(tx, code)
            sql = "SELECT n_submissions FROM rooms WHERE code = ?"
            return int(tx.execute(sql, (code,)).one()[0])

        return self.db.run(work)

    # --- models ---------------------------------------------------------------------------
    def save_model(self, code, host_token, name, npz_bytes, metrics: dict) -> ModelRecord:
        """Keep a class model (a cnnviz .npz) for everyone in the room; ``use_model`` selects it.

        The bytes must load with cnnviz's own loader (no pickle) as a network for 28 x 28
        images and 10 digits, and be at most MAX_MODEL_BYTES.
        """
        code = normalize_code(code)
        name = name.strip() if isinstance(name, str) else ""
        if not 1 <= len(name) <= MAX_NAME:
            raise InputError("A model's name must be 1 to {limit} characters long.", limit=MAX_NAME)
        data = bytes(npz_bytes) if isinstance(npz_bytes, bytes | bytearray | memoryview) else b""
        if len(data) > MAX_MODEL_BYTES:
            raise InputError(
                "A class model can be at most {limit} MB.", limit=MAX_MODEL_BYTES // 2**20
            )
        check_model(data)
        try:
            text = json.dumps(dict(metrics), default=json_number, allow_nan=False)
        except (TypeError, ValueError):
            text = None
        if text is None or len(text) > MAX_METRICS_BYTES:
            raise InputError("A model's metrics must be a small table of names and numbers.")
        now = self.clock()

        def work(tx: Transaction) -> int:
            self._host_room(tx, code, host_token, lock=True)
            (n,) = tx.execute("SELECT COUNT(*) FROM models WHERE room = ?", (code,)).one()
            if n >= MAX_MODELS:
                raise InputError(
                    "This room already holds {limit} class models: open a new room to train more.",
                    limit=MAX_MODELS,
                )
            return tx.execute(
                "INSERT INTO models (room, name, data, metrics, size, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (code, name, data, text, len(data), now),
            ).one()[0]

        mid = self.db.run(work, write=True)
        return ModelRecord(int(mid), code, name, json.loads(text), len(data), _when(now))

    def use_model(self, code, host_token, model: str) -> None:
        """Make everyone in the room use "tutorial", "strong" or "class:<id>" of this room."""
        code = normalize_code(code)
        model_id = class_model_id(model) if model not in BASE_MODELS else None

        def work(tx: Transaction) -> None:
            self._host_room(tx, code, host_token, lock=True)
            if model_id is not None:
                sql = "SELECT id FROM models WHERE room = ? AND id = ?"
                if tx.execute(sql, (code, model_id)).one() is None:
                    raise InputError(CHOICES)
            tx.execute("UPDATE rooms SET model = ? WHERE code = ?", (model, code))

        self.db.run(work, write=True)

    def model_bytes(self, code, model_id) -> bytes:
        """The .npz bytes of one of the room's class models (an int id or "class:<id>")."""
        code = normalize_code(code)
        model_id = class_model_id(model_id)

        def work(tx: Transaction):
            self._open_room(tx, code)
            sql = "SELECT data FROM models WHERE room = ? AND id = ?"
            return tx.execute(sql, (code, model_id)).one()

        row = self.db.run(work)
        if row is None:
            raise InputError(CHOICES)
        return bytes(row[0])

    def models(self, code) -> list[ModelRecord]:
        """The room's class models, oldest first."""
        code = normalize_code(code)

        def work(tx: Transaction) -> list:
            self._open_room(tx, code)
            return tx.execute(
                "SELECT id, name, metrics, size, created_at FROM models WHERE room = ? ORDER BY id",
                (code,),
            ).all()

        return [
            ModelRecord(int(i), code, name, json.loads(metrics), int(size), _when(t))
            for i, name, metrics, size, t in self.db.run(work)
        ]

    def network(self, code, model: str | None = None):
        """The network the room uses (or ``model``), loaded: a cnnviz Sequential.

        "tutorial" and "strong" are the bundled networks (assets/models); "class:<id>" is one
        of the room's class models, read with cnnviz's own loader.
        """
        from cnnviz.nn.io import load_model
        from cnnviz.nn.recipes import BUNDLED

        room = self.room(code)
        model = room.model if model is None else model
        if model in BASE_MODELS:
            name = {"tutorial": "Tutorial network", "strong": "Stronger network"}[model]
            return load_model(BUNDLED[name])
        return load_model(self.model_bytes(room.code, model))
