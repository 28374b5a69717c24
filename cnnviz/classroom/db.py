"""The two databases of a class room, behind one small interface: SQLite and PostgreSQL.

:func:`connect` picks the backend by the URL: ``postgresql://...`` (or ``postgres://...``) is
PostgreSQL through psycopg 3, anything else is the path of an SQLite file (``sqlite:///path``
also works). Both hold the same schema (:data:`SCHEMA_VERSION`) with the same meaning; only the
words differ (a small dialect table: the auto-numbered id, the blob type, the placeholder).

Every use is one transaction, taken from a small pool of connections that threads share one
at a time::

    with database.transaction() as tx:          # BEGIN IMMEDIATE on SQLite
        tx.execute("SELECT ... WHERE code = ?", (code,))

SQL is written once, with ``?`` placeholders; PostgreSQL's ``%s`` is put in on the way. A write
transaction either commits whole or not at all. SQLite runs in WAL mode (readers never block
the writer) with a busy timeout, so concurrent processes wait for each other instead of
failing; PostgreSQL serialises what must be serialised with row locks (see store.py).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another before giving up
POOL_SIZE = 4  # idle connections kept per process


@dataclass(frozen=True)
class Dialect:
    name: str
    serial: str  # an auto-numbered primary key
    blob: str
    real: str
    placeholder: str
    for_update: str  # locks the rows a SELECT read until the transaction ends


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", "REAL", "?", "")
POSTGRES = Dialect("postgresql", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA",
                   "DOUBLE PRECISION", "%s", " FOR UPDATE")  # fmt: skip


def schema(d: Dialect) -> list[str]:
    """The tables. Times are seconds since 1970 (UTC); an image is its 784 bytes, row by row."""
    return [
        "CREATE TABLE IF NOT EXISTS cnnviz_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS rooms (
            code TEXT PRIMARY KEY,
            host_hash TEXT NOT NULL,
            prompt INTEGER,
            created_at {d.real} NOT NULL,
            expires_at {d.real} NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0,
            model TEXT NOT NULL,
            n_submissions INTEGER NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS submissions (
            id {d.serial},
            room TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            image {d.blob} NOT NULL,
            label INTEGER NOT NULL,
            created_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS submissions_by_room ON submissions (room, id)",
        f"""CREATE TABLE IF NOT EXISTS models (
            id {d.serial},
            room TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            name TEXT NOT NULL,
            data {d.blob} NOT NULL,
            metrics TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at {d.real} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS models_by_room ON models (room, id)",
        "CREATE INDEX IF NOT EXISTS rooms_by_expiry ON rooms (expires_at)",
    ]


class Transaction:
    """One transaction's cursor: ``execute`` with ``?`` placeholders, ``one`` / ``all`` rows."""

    def __init__(self, database: Database, conn):
        self._db = database
        self._conn = conn
        self._cursor = conn.cursor()
        self.statements = 0  # how many ran: a dead pooled connection fails on the first

    def execute(self, sql: str, params: tuple = ()) -> Transaction:
        if self._db.dialect.placeholder != "?":
            sql = sql.replace("?", self._db.dialect.placeholder)
        self._cursor.execute(sql, params)
        self.statements += 1
        return self

    def one(self):
        return self._cursor.fetchone()

    def all(self) -> list:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class Database:
    """A pool of connections to one database; subclasses know how to connect and begin."""

    dialect: Dialect
    errors: tuple[type[BaseException], ...] = ()  # a connection that broke: retry once
    integrity_error: type[BaseException] = Exception
    missing_table: type[BaseException] = Exception  # reading a table that is not there yet

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._idle: list = []
        self._pid = os.getpid()

    # --- the pool ------------------------------------------------------------------------
    def _take(self):
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not share its parent's sockets
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _give_back(self, conn) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE and self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection (the store can still be used: it reconnects)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextlib.contextmanager
    def transaction(self, write: bool = False):
        """One transaction: committed when the block ends, rolled back if it raises.

        A pooled connection that turns out to be dead (the server restarted) is dropped and
        block is run again on a fresh one by :meth:`run`, but only when nothing had run on it
        yet, so a write is never applied twice.
        """
        conn, pooled = self._take()
        tx = None
        try:
            self._begin(conn, write)
            tx = Transaction(self, conn)
            yield tx
            conn.commit()
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, self.errors):
                conn.close()
                if pooled and (tx is None or tx.statements == 0):
                    raise _Retry() from exc
            else:
                self._give_back(conn)
            raise
        else:
            self._give_back(conn)

    def run(self, work, write: bool = False):
        """``work(tx)`` in one transaction, retried once on a fresh connection (see above)."""
        for attempt in (0, 1):
            try:
                with self.transaction(write) as tx:
                    return work(tx)
            except _Retry as retry:
                if attempt:
                    raise retry.__cause__ from None
        raise AssertionError("unreachable")

    # --- per backend -----------------------------------------------------------------------
    def _connect(self):
        raise NotImplementedError

    def _begin(self, conn, write: bool) -> None:
        raise NotImplementedError

    @staticmethod
    def _rollback(conn) -> None:
        with contextlib.suppress(Exception):
            conn.rollback()

    def create_schema(self) -> None:
        """Create the tables if they are missing and check the schema version.

        A database that has them costs one read; only a new one takes the write lock.
        """
        version = "SELECT value FROM cnnviz_meta WHERE key = 'schema_version'"
        try:
            row = self.run(lambda tx: tx.execute(version).one())
        except self.missing_table:
            row = None
        if row is None:

            def work(tx: Transaction):
                self._lock_schema(tx)
                for statement in schema(self.dialect):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO cnnviz_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
                return tx.execute(version).one()

            row = self.run(work, write=True)
        if int(row[0]) != SCHEMA_VERSION:
            raise RuntimeError(
                f"The class room database has schema version {row[0]}; "
                f"this cnnviz knows version {SCHEMA_VERSION}."
            )

    def _lock_schema(self, tx: Transaction) -> None:
        """Keep two processes from creating the tables at once (SQLite's BEGIN IMMEDIATE does)."""

    def lock_purge(self, tx: Transaction) -> None:
        """One purge at a time (two deleting the same rows in another order could deadlock)."""


class _Retry(Exception):
    """A pooled connection was dead before anything ran on it: run the block again."""


class SQLiteDatabase(Database):
    dialect = SQLITE
    errors = ()  # a file does not go away between calls
    integrity_error = sqlite3.IntegrityError
    missing_table = sqlite3.OperationalError

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(str(self.path))

    def _connect(self):
        # isolation_level=None: transactions are begun here, explicitly (BEGIN IMMEDIATE)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
            check_same_thread=False,
        )  # fmt: skip
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")  # kept in the file: once is enough
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: safe against a crash of the app
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _begin(self, conn, write: bool) -> None:
        # IMMEDIATE takes the write lock at once: two writers never deadlock on an upgrade
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")


class PostgresDatabase(Database):
    dialect = POSTGRES

    def __init__(self, url: str):
        import psycopg  # only when PostgreSQL is used: SQLite needs nothing installed

        self._psycopg = psycopg
        self.errors = (psycopg.OperationalError, psycopg.InterfaceError)
        self.integrity_error = psycopg.errors.UniqueViolation
        self.missing_table = psycopg.errors.UndefinedTable
        super().__init__(url)

    def _connect(self):
        return self._psycopg.connect(self.url, connect_timeout=10)

    def _begin(self, conn, write: bool) -> None:
        """psycopg opens a transaction at the first statement (autocommit is off)."""

    def _lock_schema(self, tx: Transaction) -> None:
        # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL: one process at a time
        tx.execute("SELECT pg_advisory_xact_lock(2016001)")

    def lock_purge(self, tx: Transaction) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(2016002)")


def connect(url: str) -> Database:
    """The database at ``url``: PostgreSQL for postgresql:// or postgres://, else SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite://") :]
    return SQLiteDatabase(url)
