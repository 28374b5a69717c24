"""Serve a lecture hall from one machine: N replicas of the app behind HAProxy.

    python deploy/hall.py --replicas 2 --port 8501

starts ``streamlit run app.py`` N times on free 127.0.0.1 ports (one shared random
``server.cookieSecret`` per run, ``CNNVIZ_REPLICA=r1 .. rN`` in each one's environment), writes an
haproxy.cfg into a temporary directory and runs Debian's ``haproxy`` in the foreground in front
of them, waits until HAProxy sees every replica healthy, then prints the hall's address (and the
LAN address a phone can open). SIGTERM or Ctrl-C stops HAProxy and every replica (each in its
own process group, training processes included) and waits until nothing it started is left.

HAProxy keeps a browser on one replica with the ``cnnviz_replica`` cookie (its websocket and its
uploads must reach the same process), checks ``/_stcore/health`` every second and sends the
students of a replica that stopped to another one (``option redispatch``); Streamlit's page
reconnects by itself. With each page (HTML) HAProxy also sets ``cnnviz_page_replica``, so the
app can tell a student once that the server their page came from stopped
(:mod:`cnnviz.ui.hall`).

Tests use :class:`Hall` directly; :func:`haproxy_config` writes the same configuration for N
machines (``--print-config --server host:port ...``, see deploy/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cnnviz.share_link import lan_address  # noqa: E402  (the address Join / share shows)
from scripts.app_server import answers, free_port  # noqa: E402

STICKY_COOKIE = "cnnviz_replica"  # HAProxy's: which replica serves this browser
PAGE_COOKIE = "cnnviz_page_replica"  # the replica that served the open page; cnnviz.ui.hall
REPLICA_ENV = "CNNVIZ_REPLICA"  # the replica's own name, r1 .. rN
INSTALL_HINT = (
    "HAProxy is not installed: install it with `sudo apt-get install haproxy` (Debian or Ubuntu) "
    "and run this again."
)


def haproxy_config(
    servers: list[tuple[str, str]], port: int, bind: str = "*", stats_socket: str | None = None
) -> str:
    """The hall's haproxy.cfg: ``servers`` are (name, "host:port") of the replicas; the hall
    listens on ``bind:port``; ``stats_socket`` is a UNIX socket for ``show stat`` (optional)."""
    stats = f"    stats socket {stats_socket} mode 600 level admin\n" if stats_socket else ""
    lines = "".join(
        f"    server {name} {address} check cookie {name}\n" for name, address in servers
    )
    return f"""\
global
    maxconn 4096
{stats}
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    # a student's websocket stays open for the whole lecture
    timeout tunnel 1h
    timeout client-fin 10s
    # a request for a replica that stopped goes to another one (also one sent on a kept-alive
    # connection to it, which fails as an empty response)
    option redispatch 1
    retries 2
    retry-on conn-failure empty-response response-timeout

frontend hall
    bind {bind}:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    # sticky sessions: a browser's websocket and its uploads reach the same replica
    cookie {STICKY_COOKIE} insert indirect nocache httponly
    option httpchk GET /_stcore/health
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    # which replica answered (for the tests, and for anyone looking at a response)
    http-response set-header X-Cnnviz-Replica %s
    # the replica that served the page a browser has open (its HTML): a page that reconnected
    # to another replica keeps the old name, which the app compares with its own
    acl page res.hdr(content-type) -m beg text/html
    http-response add-header Set-Cookie "{PAGE_COOKIE}=%s; Path=/; SameSite=Lax" if page
{lines}"""


def _die_with_parent() -> None:
    """In a child before exec: its own process group, and SIGTERM when the hall dies (Linux)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_group(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM a child's process group, wait, then SIGKILL what is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    # children of the replica (a training process) may outlive its main process briefly
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Hall:
    """N replicas behind HAProxy on one machine. ``start()`` returns when all are healthy;
    ``stop()`` ends every process started. Also a context manager."""

    replicas: int = 2
    port: int = 8501  # 0: a free port
    bind: str = "*"
    log: object = None  # a file for the children's output (None: this process's stderr)
    haproxy: str = field(default_factory=lambda: shutil.which("haproxy") or "/usr/sbin/haproxy")
    members: list[Replica] = field(default_factory=list)
    proxy: subprocess.Popen | None = None
    workdir: Path | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("*", "0.0.0.0", "::") else self.bind
        return f"http://{host}:{self.port}"

    def ports(self) -> list[int]:
        """Every TCP port the hall listens on: HAProxy's, then each replica's."""
        return [self.port] + [r.port for r in self.members]

    def start(self, timeout: float = 120) -> Hall:
        if not Path(self.haproxy).exists():
            raise FileNotFoundError(INSTALL_HINT)
        if self.port == 0:
            self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="cnnviz-hall-"))
        secret = secrets.token_urlsafe(32)  # one per run, shared: XSRF and auth cookies
        try:
            for k in range(1, self.replicas + 1):
                replica = Replica(f"r{k}", free_port())
                replica.process = self._spawn(
                    [sys.executable, str(ROOT / "deploy" / "replica.py")]
                    + ["--server.headless", "true", "--server.address", "127.0.0.1"]
                    + ["--server.port", str(replica.port)]
                    + ["--browser.gatherUsageStats", "false"],
                    env={
                        REPLICA_ENV: replica.name,
                        # Streamlit takes the secret only from a file or the environment
                        "STREAMLIT_SERVER_COOKIE_SECRET": secret,
                        "PYTHONUNBUFFERED": "1",
                    },
                )
                self.members.append(replica)
            deadline = time.monotonic() + timeout
            self._wait_for(
                lambda: all(answers(f"http://{r.address}/_stcore/health") for r in self.members),
                deadline,
                "the replicas",
            )
            config = self.workdir / "haproxy.cfg"
            config.write_text(
                haproxy_config(
                    [(r.name, r.address) for r in self.members],
                    self.port,
                    self.bind,
                    str(self.workdir / "haproxy.sock"),
                )
            )
            subprocess.run([self.haproxy, "-c", "-q", "-f", str(config)], check=True)
            self.proxy = self._spawn([self.haproxy, "-f", str(config), "-db"])
            self._wait_for(self._healthy, deadline, "HAProxy")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            # the children's messages go to the hall's stderr (or the log): its stdout says only
            # where the hall is
            stdout=self.log if self.log is not None else sys.stderr,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def _wait_for(self, ready, deadline: float, what: str) -> None:
        while not ready():
            for p in [self.proxy] + [r.process for r in self.members]:
                if p is not None and p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited early with code {p.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer in time: {self.server_states()}")
            time.sleep(0.5)

    def _healthy(self) -> bool:
        states = self.server_states()
        return bool(states) and all(s == "UP" for s in states.values())

    def server_states(self) -> dict[str, str]:
        """HAProxy's view of each replica: {"r1": "UP", "r2": "DOWN", ...} ({} if unknown)."""
        if self.workdir is None:
            return {}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(self.workdir / "haproxy.sock"))
                s.sendall(b"show stat\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError:
            return {}
        states = {}
        for row in data.decode().splitlines()[1:]:
            cells = row.split(",")
            if len(cells) > 17 and cells[0] == "replicas" and cells[1] not in ("BACKEND",):
                states[cells[1]] = cells[17].split(" ")[0]
        return states

    def stop(self, timeout: float = 15) -> None:
        """Stop HAProxy first (no new connections), then every replica; wait for all."""
        if self.proxy is not None:
            stop_group(self.proxy, timeout)
        for replica in self.members:
            if replica.process is not None:
                stop_group(replica.process, timeout)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Hall:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="the hall's port (default 8501)")
    parser.add_argument("--bind", default="*", help="the hall's address (default: all)")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the haproxy.cfg for the --server machines and exit",
    )
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="with --print-config: a machine running the app (repeat for each)",
    )
    parser.add_argument(
        "--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.print_config:
        servers = [(f"r{k}", address) for k, address in enumerate(args.server, 1)]
        print(haproxy_config(servers, args.port, args.bind), end="")
        return 0
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")

    # Ctrl-C and SIGTERM both stop the hall (a shell may start a background job with SIGINT
    # ignored, so it is set here too)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    hall = Hall(replicas=args.replicas, port=args.port, bind=args.bind, haproxy=args.haproxy)
    try:
        hall.start()
        lan = lan_address()
        print(
            f"The hall is open: {hall.url}"
            + (
                f" (on the network: http://{lan}:{hall.port})"
                if lan and args.bind in ("*", "0.0.0.0")
                else ""
            ),
            flush=True,
        )
        print(
            f"{args.replicas} replicas: "
            + ", ".join(f"{r.name} on port {r.port} (pid {r.process.pid})" for r in hall.members)
            + ". Ctrl-C stops them all.",
            flush=True,
        )
        stopped: set[str] = set()
        while True:
            for replica in hall.members:
                code = replica.process.poll()
                if code is not None and replica.name not in stopped:
                    stopped.add(replica.name)
                    print(
                        f"Replica {replica.name} stopped (exit code {code}); "
                        "its students moved to the others.",
                        file=sys.stderr,
                        flush=True,
                    )
            if hall.proxy.poll() is not None:
                print("HAProxy stopped; closing the hall.", file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
    except (FileNotFoundError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        hall.stop()


if __name__ == "__main__":
    sys.exit(main())
