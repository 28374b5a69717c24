"""Start ``streamlit run app.py`` on a free local port and wait until it answers.

Shared by the browser tests (tests/conftest.py), scripts/screenshots.py and the benchmarks
that start the app (bench/hall_load.py, bench/browser_cost.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium, never a downloaded browser; quiet on a machine without a network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """``streamlit run app.py`` headless on ``address``:``port`` (run it with cwd= a checkout);
    ``address`` "0.0.0.0" serves the local network, as a lecturer serves the hall."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--browser.gatherUsageStats",
        "false",
    ]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _path_with(app_dir: Path) -> str:
    """PYTHONPATH with ``app_dir`` first: its cnnviz package, not another checkout's."""
    return os.pathsep.join(p for p in (str(app_dir), os.environ.get("PYTHONPATH", "")) if p)


@contextlib.contextmanager
def serve_app(
    log=subprocess.DEVNULL, timeout: float = 90, address: str = "127.0.0.1", app_dir: Path = ROOT
):
    """Run the app on a free port for the duration of the block; yields its URL (always
    http://127.0.0.1:port; ``address`` is where the server listens, see :func:`app_command`;
    ``app_dir`` the checkout it runs, this one by default).

    Raises RuntimeError when the server exits early or does not answer within ``timeout``.
    """
    port = free_port()
    process = subprocess.Popen(
        app_command(port, address),
        cwd=app_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _path_with(app_dir)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not answers(f"{url}/_stcore/health"):
            if process.poll() is not None:
                raise RuntimeError("streamlit exited early")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer in {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
