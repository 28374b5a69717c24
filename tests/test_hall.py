"""A lecture hall: ``python deploy/hall.py --replicas 2`` (HAProxy in front of two
``streamlit run app.py``), driven with plain HTTP and Debian's Chromium.

Checked: the configuration HAProxy reads is valid and deploy/README.md shows the same one for N
machines; without HAProxy the script says how to install it. End to end (one test, in order,
since each step needs the hall the previous one left): the first response sets the sticky
``cnnviz_replica`` cookie and requests carrying it always reach the same replica; six browsers
upload an MNIST test digit each and are all predicted right, spread over both replicas; one
replica is SIGKILLed: HAProxy's health check takes it out, its browsers reconnect to the other
replica, are told once what was lost, and an upload is predicted right again; SIGTERM stops the
hall and nothing it started is left listening.

Skipped without HAProxy (``apt-get install haproxy``), except in CI (``CI=true``), where that is
a failure.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the browser test is skipped (or fails in CI) by the browser fixture
    PlaywrightTimeout = TimeoutError

from cnnviz.ui.hall import moved_from
from deploy.hall import PAGE_COOKIE, STICKY_COOKIE, haproxy_config
from scripts.app_server import free_port
from tests.conftest import skip_or_fail
from tests.test_browser import assert_no_exception, metric_value, settle

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
BROWSERS = 6
MOVED = "The server this page was on stopped"


@pytest.fixture(scope="module")
def haproxy() -> str:
    if not Path(HAPROXY).exists():
        skip_or_fail("HAProxy is not installed (apt-get install haproxy)")
    return HAPROXY


def test_the_configuration_is_valid_and_the_readme_shows_it(haproxy, tmp_path):
    servers = [("r1", "10.0.0.11:8501"), ("r2", "10.0.0.12:8501"), ("r3", "10.0.0.13:8501")]
    config = haproxy_config(servers, 80)
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    subprocess.run([haproxy, "-c", "-q", "-f", str(path)], check=True)
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert config in readme, "deploy/README.md's configuration is not what hall.py writes"


def test_without_haproxy_the_script_says_how_to_install_it():
    done = subprocess.run(
        [sys.executable, "deploy/hall.py", "--haproxy", "/nonexistent/haproxy", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "apt-get install haproxy" in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr  # one sentence, no traceback


def test_a_session_is_told_only_when_its_browser_came_from_another_replica():
    assert moved_from("r2", "r1") == "r1"
    assert moved_from("r2", "r2") is None  # the same replica: a reload, a new tab
    assert moved_from("r2", None) is None  # a browser's first websocket
    assert moved_from(None, "r1") is None  # not in a hall


def get(url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """GET ``url`` (with ``cnnviz_replica=cookie``): the replica that answered and the sticky
    cookie it set (None when it set none)."""
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", f"{STICKY_COOKIE}={cookie}")
    with urllib.request.urlopen(request, timeout=10) as response:
        set_cookies = " ".join(response.headers.get_all("Set-Cookie") or [])
        sticky = re.search(rf"{STICKY_COOKIE}=(\w+)", set_cookies)
        return response.headers["X-Cnnviz-Replica"], sticky and sticky.group(1)


def digit_png(x_test, index: int, path: Path) -> Path:
    big = Image.fromarray(x_test[index]).resize((280, 280), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def upload(page, path: Path) -> None:
    uploader = page.locator('[data-testid="stFileUploader"]').filter(
        has_text="Upload a picture of a digit"
    )
    uploader.locator('input[type="file"]').set_input_files(str(path))


def prediction_of(page, path: Path) -> str:
    page.get_by_text(f"upload: {path.name}").first.wait_for(timeout=90_000)
    settle(page, extra_ms=300)
    return metric_value(page, "Prediction")


def replica_of(context) -> str:
    return {c["name"]: c["value"] for c in context.cookies()}[STICKY_COOKIE]


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.browser
def test_a_hall_of_two_replicas(haproxy, browser, mnist_test, artifacts, tmp_path):
    x_test, y_test = mnist_test
    port = free_port()
    log = (tmp_path / "hall.log").open("w")
    hall = subprocess.Popen(
        [sys.executable, "deploy/hall.py", "--replicas", "2", "--port", str(port)]
        + ["--bind", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    contexts = []
    try:
        started = time.monotonic()
        opened = hall.stdout.readline()
        assert opened.startswith(f"The hall is open: {url}"), (
            opened + tmp_path.joinpath("hall.log").read_text()[-3000:]
        )
        members = re.findall(r"(r\d) on port (\d+) \(pid (\d+)\)", hall.stdout.readline())
        assert [m[0] for m in members] == ["r1", "r2"]
        pids = {name: int(pid) for name, _, pid in members}
        ports = [port] + [int(p) for _, p, _ in members]
        print(f"hall up in {time.monotonic() - started:.1f} s, ports {ports}")

        # Plain HTTP: the first response sets the sticky cookie; with it, the same replica.
        first, cookie = get(url + "/")
        assert cookie == first
        assert {get(url + "/_stcore/health", cookie)[0] for _ in range(6)} == {first}
        assert {get(url + "/")[0] for _ in range(4)} == {"r1", "r2"}  # new browsers: both

        # Six browsers, each uploading its own MNIST test digit, all at once.
        pages = []
        for _ in range(BROWSERS):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            contexts.append(context)
            page = context.new_page()
            page.goto(f"{url}/draw_predict")
            pages.append(page)
        files = [digit_png(x_test, u, tmp_path / f"user{u}-digit{u}.png") for u in range(BROWSERS)]
        for page, path in zip(pages, files, strict=True):
            settle(page, extra_ms=200)
            upload(page, path)
        for user, (page, path) in enumerate(zip(pages, files, strict=True)):
            assert prediction_of(page, path) == str(int(y_test[user])), f"user {user}"
            assert_no_exception(page, f"user {user}")
        on = [replica_of(c) for c in contexts]
        assert set(on) == {"r1", "r2"}, on
        print(f"six browsers predicted right on {on} at {time.monotonic() - started:.1f} s")

        # Kill r1 (its whole process group): the hall goes on.
        os.killpg(pids["r1"], signal.SIGKILL)
        killed = time.monotonic()
        # Requests meant for r1 go to r2 at once; within seconds the health check takes r1 out
        # (HAProxy says so in the hall's log) and r1's browsers get r2's cookie.
        assert get(url + "/_stcore/health", "r1")[0] == "r2"
        assert {get(url + "/_stcore/health")[0] for _ in range(4)} == {"r2"}
        deadline = time.monotonic() + 30
        while "Server replicas/r1 is DOWN" not in (tmp_path / "hall.log").read_text():
            assert time.monotonic() < deadline, "HAProxy's health check did not take r1 out"
            time.sleep(0.2)
        assert get(url + "/_stcore/health", "r1") == ("r2", "r2")
        print(f"r1 out of the hall {time.monotonic() - killed:.1f} s after SIGKILL")

        # r1's students carry on: the next upload is predicted right on r2, and they are told
        # once what was lost; r2's students see nothing.
        for user, (page, context) in enumerate(zip(pages, contexts, strict=True)):
            if on[user] != "r1":
                continue
            # The page notices the lost connection and reconnects (through HAProxy, to r2)
            # by itself, within seconds; a student uploads again once it has.
            deadline = time.monotonic() + 30
            while replica_of(context) != "r2":
                assert time.monotonic() < deadline, f"user {user}'s page did not reconnect"
                page.wait_for_timeout(250)
            settle(page)
            path = digit_png(x_test, 10 + user, tmp_path / f"user{user}-again-digit{10 + user}.png")
            try:
                # An upload made while the page reruns on r2 for the first time can be dropped
                # with the old uploader (a student sees the uploader empty and does it again).
                for attempt in (1, 2):
                    upload(page, path)
                    try:
                        page.get_by_text(f"upload: {path.name}").first.wait_for(timeout=30_000)
                        break
                    except PlaywrightTimeout:
                        print(f"user {user}: upload {attempt} after the failover was dropped")
                assert prediction_of(page, path) == str(int(y_test[10 + user])), f"user {user}"
            finally:
                page.screenshot(path=str(artifacts / f"hall-user{user}-after-failover.png"))
            assert page.get_by_text(MOVED).count() == 1, f"user {user}"
            assert page.get_by_text("cannot travel").count() == 0  # said once, in one line
            assert_no_exception(page, f"user {user} after r1 stopped")
        for user, page in enumerate(pages):
            if on[user] == "r2":
                assert page.get_by_text(MOVED).count() == 0
        # Said once: a reloaded page is served by r2 and says nothing.
        page, context = pages[on.index("r1")], contexts[on.index("r1")]
        page.reload()
        settle(page)
        page.locator("h1").filter(has_text="Draw & predict").wait_for(timeout=60_000)
        assert_no_exception(page, "a page reloaded after r1 stopped")
        assert page.get_by_text(MOVED).count() == 0
        assert {c["name"]: c["value"] for c in context.cookies()}[PAGE_COOKIE] == "r2"
        print(f"r1's browsers carried on on r2 at {time.monotonic() - started:.1f} s")
    finally:
        for context in contexts:
            context.close()
        hall.send_signal(signal.SIGTERM)
        try:
            code = hall.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hall.kill()
            raise
        log.close()

    # SIGTERM stopped everything: the hall's and both replicas' ports are free, no process of
    # theirs is left.
    assert code == 0, tmp_path.joinpath("hall.log").read_text()[-3000:]
    assert "Replica r1 stopped" in tmp_path.joinpath("hall.log").read_text()
    assert [p for p in ports if listening(p)] == []
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
