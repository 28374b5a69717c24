"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, pg_ctl start.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin (``apt-get install
postgresql``); PG_BIN may name another folder. PostgreSQL refuses to run as root, and tests run
as root in CI, so the cluster then belongs to the ``postgres`` user and every server command
runs through ``runuser -u postgres``. The server listens only on a Unix socket in the temporary
folder (``listen_addresses=''``), on a free port number, with password-less local access.

>>> with postgres_server() as url:        # postgresql://postgres@/postgres?host=/tmp/...&port=...
...     ...
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.app_server import free_port


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries here (the reason says how to install them)."""


def server_bin() -> Path:
    """The folder with initdb and pg_ctl: $PG_BIN, Debian's newest, or initdb on the PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresMissing("PostgreSQL's server is not installed (apt-get install postgresql)")


def _version(folder: str) -> float:
    try:
        return float(Path(folder).parent.name)
    except ValueError:
        return 0.0


@contextlib.contextmanager
def postgres_server(max_connections: int = 100):
    """Start a PostgreSQL server in a temporary folder; yield its URL; stop it and delete it."""
    bindir = server_bin()
    # Not pytest's tmp_path: /tmp/pytest-of-root is closed to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="cnnviz-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True, cwd=root)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-k {root} -p {port} -c listen_addresses='' "
            f"-c max_connections={max_connections} -c shared_buffers=32MB"
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", options, "start")  # fmt: skip
    except subprocess.CalledProcessError as exc:
        text = log.read_text() if log.is_file() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{text[-2000:]}") from None
    url = f"postgresql://postgres@/postgres?host={root}&port={port}"
    try:
        yield PostgresServer(url, bindir, data, log, run)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class PostgresServer:
    """A running server: ``url``, ``database(name)`` makes a fresh database, ``restart()``."""

    def __init__(self, url, bindir, data, log, run):
        self.url, self.bindir, self.data, self.log, self._run = url, bindir, data, log, run
        self._count = 0

    def database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        self._count += 1
        name = f"cnnviz_test_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.replace("@/postgres?", f"@/{name}?")

    def restart(self) -> None:
        """Stop the server (dropping every connection) and start it again on the same port."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-w", "-m", "fast", "restart")  # fmt: skip
