"""A lecture hall of students on one server, simulated at the protocol level with Locust.

    python bench/hall_load.py                          # starts the app, 30 students for 60 s
    python bench/hall_load.py --users 5 --seconds 10 --json hall.json
    python bench/hall_load.py --curve 10,20,40,60      # one row per hall size
    python bench/hall_load.py --url http://host:8501 --server-pid 1234 --users 30

Each simulated student is a Locust user that speaks Streamlit's own websocket protocol, as the
browser does, with the ``BackMsg``/``ForwardMsg`` protobufs of the installed ``streamlit``
package (``streamlit.proto``); nothing is drawn, so the load generator stays light:

* ``GET /_stcore/health`` gives the ``_streamlit_xsrf`` cookie; the websocket
  ``/_stcore/stream`` is opened with the subprotocols ``streamlit, <xsrf token>``, the cookie
  and an ``Origin`` header.
* Every action is a ``BackMsg.rerun_script`` (a ``ClientState``: the query string the server
  last published, the page, the widget states, the browser's ``context_info`` and the hashes of
  the large messages already received, which the server then sends as references). The
  server answers with ``ForwardMsg`` s (``new_session``, ``navigation``, ``delta`` s,
  ``page_info_changed``...) and ends each run with ``script_finished``.
* Widget ids are never hard-coded: each one is read from the elements of the last run (the
  button or file uploader with the English label the app shows).
* "Random MNIST test digit": a rerun whose widget states hold ``trigger_value`` for the button.
* An upload: ``BackMsg.file_urls_request`` -> ``ForwardMsg.file_urls_response`` (the upload
  URL and file id), ``PUT /_stcore/upload_file/<session>/<file>`` with the PNG as a multipart
  form and the ``X-Xsrftoken`` header, then a rerun with the uploader's
  ``file_uploader_state_value``; the previous file is deleted as the browser does.
* Pages: a rerun with the ``page_script_hash`` of the page named in the ``navigation``
  message; "Next ▶" on Convolution and Pooling is a fragment rerun (``fragment_id`` of the
  delta that drew the button).

A student opens Draw & predict, uploads a PNG of an MNIST test digit (dark ink on white,
280 x 280) or presses "Random MNIST test digit", waits until the "Prediction" metric arrives,
thinks 2-4 s and repeats; every fourth student also goes to Convolution and Pooling and steps
("Next ▶") between predictions. Measured: action -> prediction metric on the wire (p50, p95,
max; ``predict``), the other actions' times (``step``: "Next ▶" -> the fragment's end,
``page``: a page change -> the run's end, ``open``: the first page), failures (an exception on
the page, a missing prediction, an error status, a timeout, a closed connection), and the
server's CPU seconds per action and its memory (RSS), read through psutil from the server's
process (the app started here, or ``--server-pid``; else null). The load generator's own CPU
time is reported too: on a small machine it competes with the server.

Before measuring, one student warms the server up (the model and the MNIST test set are
loaded on the first prediction), outside the numbers. Actions still running when the time is
up are finished (up to the timeout) and counted.
"""

import argparse
import io
import itertools
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

# Locust first: importing it monkey-patches the standard library for gevent (sockets, ssl),
# which requests and websocket-client then use. Nothing before it imports ssl.
from locust import User, between, task  # isort: skip

import gevent
import numpy as np
import psutil
import requests
import websocket
from locust.env import Environment
from PIL import Image
from requests.adapters import HTTPAdapter
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from urllib3.util import Retry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.app_server import app_command, free_port  # noqa: E402

# The English labels the app shows (pages/1_draw_predict.py, cnnviz/ui/inputs.py, stepper.py).
UPLOAD_LABEL = "Upload a picture of a digit"
RANDOM_LABEL = "Random MNIST test digit"
NEXT_LABEL = "Next ▶"
PREDICTION_LABEL = "Prediction"
TRUE_LABEL = re.compile(r"true label: (\d)\)")
PAGES = {"draw": "draw_predict", "conv": "convolution", "pool": "pooling"}

FINISHED_EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR
CACHE_LIMIT = 400  # the referenced messages a student keeps, newest first


class ProtocolError(Exception):
    """The server did not answer as a browser expects."""


@dataclass
class Run:
    """What one script run sent back."""

    status: int = -1
    ms: float = 0.0  # action -> script_finished
    bytes: int = 0
    seen: dict = field(default_factory=dict)  # watched label -> (value, ms since the action)
    elements: list = field(default_factory=list)  # (delta path, Element, fragment id)
    errors: list = field(default_factory=list)  # exception messages shown on the page

    def texts(self) -> list[str]:
        out = []
        for _path, el, _fragment in self.elements:
            kind = el.WhichOneof("type")
            if kind in ("markdown", "text", "alert", "heading"):
                out.append(getattr(el, kind).body)
        return out


class StudentSession:
    """One browser tab, spoken at the protocol level: a websocket to ``/_stcore/stream`` and
    HTTP for uploads, with the state a browser keeps between runs."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        # A browser sends a request again when the server closed the kept-alive connection it
        # was reusing (uvicorn closes idle ones after 5 s, about a student's thinking time).
        retry = Retry(total=2, connect=2, read=1, status=0, allowed_methods=None)
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        self.ws = None
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash
        self.page = ""  # url path of the page shown
        self.query_string = "lang=en"
        self.elements: dict[tuple, tuple] = {}  # delta path -> (Element, fragment id)
        self.cache: dict[str, ForwardMsg] = {}  # hash -> a cacheable message received
        self.kept: dict[str, WidgetState] = {}  # widget id -> state sent on every rerun
        self.files: dict[str, FileURLs] = {}  # uploader id -> its current file's URLs
        self.media: set[str] = set()  # picture URLs already loaded

    # -- connection ---------------------------------------------------------------------------
    def connect(self) -> None:
        health = self.http.get(f"{self.base}/_stcore/health", timeout=self.timeout)
        health.raise_for_status()
        xsrf = self.http.cookies.get("_streamlit_xsrf")
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.ws = websocket.create_connection(
            "ws" + self.base.removeprefix("http") + "/_stcore/stream",
            subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
            origin=self.base,
            cookie=cookie or None,
            timeout=self.timeout,
            enable_multithread=False,
        )

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None
        self.http.close()

    def _send(self, back: BackMsg) -> None:
        self.ws.send_binary(back.SerializeToString())

    def _recv(self, deadline: float) -> tuple[ForwardMsg, int]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no script_finished within the timeout")
        self.ws.settimeout(left)
        try:
            data = self.ws.recv()
        except websocket.WebSocketTimeoutException as exc:
            raise TimeoutError("no script_finished within the timeout") from exc
        if not data:
            raise ProtocolError("the websocket closed")
        msg = ForwardMsg()
        msg.ParseFromString(data)
        if msg.WhichOneof("type") == "ref_hash":  # a large message sent before: from the cache
            full = ForwardMsg()
            full.CopyFrom(self.cache[msg.ref_hash])
            full.metadata.CopyFrom(msg.metadata)
            msg = full
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = msg
            if len(self.cache) > CACHE_LIMIT:  # forget the oldest
                del self.cache[next(iter(self.cache))]
        return msg, len(data)

    # -- one run ------------------------------------------------------------------------------
    def rerun(
        self,
        *,
        page: str | None = None,
        triggers: tuple[str, ...] = (),
        fragment_id: str = "",
        watch: tuple[str, ...] = (),
        started: float | None = None,
    ) -> Run:
        """Send a rerun as the browser does and read until the run's ``script_finished``.
        ``watch``: metric labels whose first arrival (value, ms) is noted in ``Run.seen``."""
        started = time.perf_counter() if started is None else started
        state = ClientState(
            query_string=self.query_string,
            fragment_id=fragment_id,
            context_info=ContextInfo(
                timezone="UTC",
                timezone_offset=0,
                locale="en-US",
                url=f"{self.base}/{page or self.page}",
                is_embedded=False,
                color_scheme="light",
            ),
        )
        if page is not None and page != self.page and page in self.pages:
            state.page_script_hash = self.pages[page]
            state.query_string = "lang=en"  # the browser drops a page's parameters on a change
        elif page is not None and not self.pages:
            state.page_name = page  # the first run: the page comes from the address
        elif self.page:
            state.page_script_hash = self.pages.get(self.page, "")
        widgets = dict(self.kept)
        for wid in triggers:
            widgets[wid] = WidgetState(id=wid, trigger_value=True)
        state.widget_states.widgets.extend(widgets.values())
        state.cached_message_hashes.extend(self.cache)
        self._send(BackMsg(rerun_script=state))
        return self._read_run(started, fragment_id, watch)

    def _read_run(self, started: float, fragment_id: str, watch: tuple[str, ...]) -> Run:
        run = Run()
        deadline = time.monotonic() + self.timeout
        while True:
            msg, size = self._recv(deadline)
            run.bytes += size
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                if msg.new_session.initialize.session_id:
                    self.session_id = msg.new_session.initialize.session_id
                if not fragment_id:
                    self.elements.clear()
                    run.elements.clear()
                    run.errors.clear()
                    run.seen.clear()
            elif kind == "navigation":
                for app_page in msg.navigation.app_pages:
                    self.pages[app_page.url_pathname] = app_page.page_script_hash
                    if app_page.page_script_hash == msg.navigation.page_script_hash:
                        self.page = app_page.url_pathname
            elif kind == "page_info_changed":
                self.query_string = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                path = tuple(msg.metadata.delta_path)
                self.elements[path] = (el, msg.delta.fragment_id)
                run.elements.append((path, el, msg.delta.fragment_id))
                if el.WhichOneof("type") == "exception":
                    run.errors.append(f"{el.exception.type}: {el.exception.message}")
                elif el.WhichOneof("type") == "metric" and el.metric.label in watch:
                    ms = (time.perf_counter() - started) * 1000
                    run.seen.setdefault(el.metric.label, (el.metric.body, ms))
            elif kind == "script_finished":
                if msg.script_finished == FINISHED_EARLY:
                    continue  # a newer run of ours follows
                run.status = msg.script_finished
                run.ms = (time.perf_counter() - started) * 1000
                if run.status == COMPILE_ERROR:
                    run.errors.append("the page did not compile")
                return run

    # -- what a student does ------------------------------------------------------------------
    def find(self, kind: str, label: str) -> tuple[str, str]:
        """(widget id, fragment id) of the last drawn ``kind`` element with ``label``."""
        for el, fragment in reversed(list(self.elements.values())):
            if el.WhichOneof("type") == kind and getattr(el, kind).label == label:
                return getattr(el, kind).id, fragment
        raise ProtocolError(f"no {kind} {label!r} on the page {self.page!r}")

    def open(self, page: str) -> Run:
        return self.rerun(page=page, watch=(PREDICTION_LABEL,))

    def press(self, label: str, watch: tuple[str, ...] = ()) -> Run:
        wid, fragment = self.find("button", label)
        return self.rerun(triggers=(wid,), fragment_id=fragment, watch=watch)

    def upload(self, name: str, data: bytes, watch: tuple[str, ...] = ()) -> Run:
        """Choose a file in the uploader labelled UPLOAD_LABEL, as the browser sends it."""
        started = time.perf_counter()
        wid, fragment = self.find("file_uploader", UPLOAD_LABEL)
        request_id = uuid.uuid4().hex
        back = BackMsg()
        back.file_urls_request.request_id = request_id
        back.file_urls_request.file_names.append(name)
        back.file_urls_request.session_id = self.session_id
        self._send(back)
        deadline = time.monotonic() + self.timeout
        while True:
            msg, _size = self._recv(deadline)
            if msg.WhichOneof("type") == "file_urls_response":
                response = msg.file_urls_response
                if response.response_id == request_id:
                    break
        if response.error_msg or not response.file_urls:
            raise ProtocolError(f"no upload URL: {response.error_msg}")
        urls = response.file_urls[0]
        xsrf = {"X-Xsrftoken": self.http.cookies.get("_streamlit_xsrf", "")}
        put = self.http.put(
            self._absolute(urls.upload_url),
            files={name: (name, data, "image/png")},
            headers=xsrf,
            timeout=self.timeout,
        )
        if put.status_code >= 400:
            raise ProtocolError(f"upload: HTTP {put.status_code} {put.text[:200]}")
        old = self.files.get(wid)
        if old is not None and old.delete_url:  # the browser removes the file it replaced
            self.http.delete(self._absolute(old.delete_url), headers=xsrf, timeout=self.timeout)
        self.files[wid] = urls
        state = WidgetState(id=wid)
        state.file_uploader_state_value.uploaded_file_info.append(
            UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        )
        self.kept[wid] = state
        return self.rerun(fragment_id=fragment, watch=watch, started=started)

    def fetch_media(self, run: Run) -> int:
        """GET the pictures (``st.image``) a run drew that this tab has not loaded yet, as the
        browser's ``<img>`` tags do; returns the bytes read."""
        size = 0
        for _path, el, _fragment in run.elements:
            if el.WhichOneof("type") != "imgs":
                continue
            for img in el.imgs.imgs:
                if img.url in self.media or not img.url.startswith("/media/"):
                    continue
                got = self.http.get(self._absolute(img.url), timeout=self.timeout)
                if got.status_code >= 400:
                    raise ProtocolError(f"{img.url}: HTTP {got.status_code}")
                self.media.add(img.url)
                size += len(got.content)
        return size

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.base + "/" + url.lstrip("/")


# -- the students ------------------------------------------------------------------------------


def mnist_pngs(count: int, seed: int = 0) -> list[tuple[int, bytes]]:
    """(label, PNG bytes) of ``count`` MNIST test digits: dark ink on white, 280 x 280, as a
    scanned or drawn digit would come."""
    from cnnviz.data import MNIST_DIR, _find, read_idx

    images = read_idx(_find(MNIST_DIR, "t10k-images-idx3-ubyte"))
    labels = read_idx(_find(MNIST_DIR, "t10k-labels-idx1-ubyte"))
    picks = np.random.default_rng(seed).choice(len(images), count, replace=False)
    out = []
    for i in picks:
        im = Image.fromarray(255 - images[i]).resize((280, 280), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        out.append((int(labels[i]), buf.getvalue()))
    return out


# One student's plan, repeated; every fourth student is an explorer.
PREDICTOR_PLAN = ["upload", "random"]
EXPLORER_PLAN = ["upload", "conv", "step", "step", "pool", "step", "draw", "random"]


class Student(User):
    """A student on a phone: predictions on Draw & predict, some stepping on Convolution and
    Pooling, 2-4 s of thinking between actions."""

    wait_time = between(2, 4)
    digits: list[tuple[int, bytes]] = []
    timeout = 60.0
    numbers = itertools.count()
    results: list[dict] = []  # every action: kind, ms, ok, predicted, label

    def on_start(self) -> None:
        self.number = next(Student.numbers)
        self.plan = EXPLORER_PLAN if self.number % 4 == 3 else PREDICTOR_PLAN
        self.position = 0
        self.rng = random.Random(self.number)
        self.session = None
        self._open()

    def on_stop(self) -> None:
        if self.session is not None:
            self.session.close()

    def _open(self) -> bool:
        """A fresh tab on Draw & predict; False (and a failure reported) when it fails."""
        if self.session is not None:
            self.session.close()
        started = time.perf_counter()
        self.session = StudentSession(self.host, timeout=self.timeout)
        try:
            self.session.connect()
            run = self.session.open(PAGES["draw"])
            self._check(run)
            self.session.find("file_uploader", UPLOAD_LABEL)
        except Exception as exc:
            self._report("open", (time.perf_counter() - started) * 1000, 0, exc)
            self.session.close()
            self.session = None
            return False
        self._report("open", run.ms, run.bytes)
        self.position = self.plan.index("upload")  # a new tab starts on Draw & predict
        return True

    @staticmethod
    def _check(run: Run) -> None:
        if run.errors:
            raise ProtocolError("; ".join(run.errors))

    def _report(self, kind: str, ms: float, size: int, exc=None, **extra) -> None:
        name = "predict" if kind.startswith("predict") else kind
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=ms,
            response_length=size,
            exception=exc,
            context={},
        )
        if exc is not None:
            extra["error"] = f"{type(exc).__name__}: {exc}"[:300]
        Student.results.append({"kind": kind, "ms": ms, "ok": exc is None, "bytes": size, **extra})

    @task
    def act(self) -> None:
        if self.session is None and not self._open():
            return
        action = self.plan[self.position % len(self.plan)]
        self.position += 1
        started = time.perf_counter()
        kind = {"upload": "predict upload", "random": "predict random"}.get(action, action)
        if action in ("conv", "pool", "draw"):
            kind = "page"
        try:
            if action == "upload":
                label, data = self.rng.choice(self.digits)
                run = self.session.upload(f"digit{label}.png", data, watch=(PREDICTION_LABEL,))
            elif action == "random":
                run = self.session.press(RANDOM_LABEL, watch=(PREDICTION_LABEL,))
                found = [m for t in run.texts() for m in TRUE_LABEL.findall(t)]
                label = int(found[0]) if found else None
            elif action == "step":
                run = self.session.press(NEXT_LABEL)
            else:
                run = self.session.rerun(page=PAGES[action])
            self._check(run)
            if kind.startswith("predict"):
                if PREDICTION_LABEL not in run.seen:
                    raise ProtocolError("the run ended without a Prediction metric")
                predicted, ms = run.seen[PREDICTION_LABEL]
                self._report(kind, ms, run.bytes, predicted=predicted, label=label)
            else:
                self._report(kind, run.ms, run.bytes)
        except Exception as exc:
            self._report(kind, (time.perf_counter() - started) * 1000, 0, exc)
            self.session.close()  # start again from a fresh tab
            self.session = None
            return
        started = time.perf_counter()
        try:  # after the action's time, as a page's pictures load
            size = self.session.fetch_media(run)
        except Exception as exc:
            self._report("media", (time.perf_counter() - started) * 1000, 0, exc)
        else:
            if size:
                self._report("media", (time.perf_counter() - started) * 1000, size)


# -- the server --------------------------------------------------------------------------------


class Server:
    """``streamlit run app.py`` on a free local port, for the duration of a ``with`` block."""

    def __init__(self, log_path: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = None

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen(
            app_command(self.port),
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{self.url}/_stcore/health", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise SystemExit("streamlit exited early")
            if time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit("streamlit did not answer in 90 s")
            gevent.sleep(0.3)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()


class Meter:
    """CPU seconds and resident memory of one process (None when there is none to watch),
    sampled every 0.25 s for the peak."""

    def __init__(self, pid: int | None):
        self.process = psutil.Process(pid) if pid else None
        self.peak = 0
        self._greenlet = None

    def cpu(self) -> float | None:
        if self.process is None:
            return None
        t = self.process.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def rss(self) -> int | None:
        return self.process.memory_info().rss if self.process is not None else None

    def start(self) -> None:
        self.cpu0, self.rss0 = self.cpu(), self.rss()
        self.peak = self.rss0 or 0
        if self.process is not None:
            self._greenlet = gevent.spawn(self._sample)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.rss())
            gevent.sleep(0.25)

    def stop(self) -> dict:
        if self._greenlet is not None:
            self._greenlet.kill()
        cpu, rss = self.cpu(), self.rss()
        mb = 1 / 1e6
        return {
            "cpu_s": None if cpu is None else cpu - self.cpu0,
            "rss_mb_start": None if rss is None else self.rss0 * mb,
            "rss_mb_end": None if rss is None else rss * mb,
            "rss_mb_peak": None if rss is None else max(self.peak, rss) * mb,
        }


# -- one measurement ---------------------------------------------------------------------------


def warm_up(url: str, digits: list[tuple[int, bytes]], timeout: float) -> None:
    """One student opens Draw & predict, presses Random and uploads a digit: the server has
    loaded the model and the test set before anything is measured."""
    session = StudentSession(url, timeout=timeout)
    try:
        session.connect()
        session.open(PAGES["draw"])
        for run in (
            session.press(RANDOM_LABEL, watch=(PREDICTION_LABEL,)),
            session.upload("warm.png", digits[0][1], watch=(PREDICTION_LABEL,)),
        ):
            if run.errors or PREDICTION_LABEL not in run.seen:
                raise SystemExit(f"warm-up: no prediction ({run.errors})")
    finally:
        session.close()


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(rows: list[dict]) -> dict:
    ok = [r["ms"] for r in rows if r["ok"]]
    return {
        "count": len(rows),
        "failures": sum(not r["ok"] for r in rows),
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
        "max_ms": max(ok) if ok else None,
    }


def measure(
    url: str, users: int, seconds: float, pid: int | None, digits, timeout: float, spawn_rate
) -> dict:
    """``users`` students for ``seconds`` against ``url``; the numbers as a dict."""
    warm_up(url, digits, timeout)
    Student.digits = digits
    Student.timeout = timeout
    Student.numbers = itertools.count()
    Student.results = []
    env = Environment(user_classes=[Student], host=url, stop_timeout=timeout, events=None)
    runner = env.create_local_runner()
    server, generator = Meter(pid), Meter(os.getpid())
    load_before = os.getloadavg()[0]
    server.start()
    generator.start()
    t0 = time.perf_counter()
    runner.start(users, spawn_rate=spawn_rate or max(1.0, users / 5))
    gevent.sleep(seconds)
    runner.stop()  # users finish the action in progress (up to the timeout)
    elapsed = time.perf_counter() - t0
    runner.quit()
    server_use, generator_use = server.stop(), generator.stop()
    rows = list(Student.results)
    actions = [r for r in rows if r["kind"] not in ("open", "media")]
    predictions = [r for r in rows if r["kind"].startswith("predict")]
    predicted = [r for r in predictions if r["ok"]]
    digits_ok = all(re.fullmatch(r"[0-9]", r["predicted"]) for r in predicted)
    labelled = [r for r in predicted if r.get("label") is not None]
    headline = summarise(predictions)
    cpu = server_use["cpu_s"]
    return {
        "users": users,
        "seconds": seconds,
        "elapsed_s": elapsed,
        "think_s": [2, 4],
        "actions": len(actions),
        "failures": sum(not r["ok"] for r in rows),
        "predictions": len(predictions),
        "p50_ms": headline["p50_ms"],
        "p95_ms": headline["p95_ms"],
        "max_ms": headline["max_ms"],
        "wire_kb_per_prediction": (
            sum(r["bytes"] for r in predicted) / len(predicted) / 1e3 if predicted else None
        ),
        "predictions_are_digits": digits_ok,
        "predictions_labelled": len(labelled),
        "predictions_correct": sum(r["predicted"] == str(r["label"]) for r in labelled),
        "by_kind": {
            kind: summarise([r for r in rows if r["kind"] == kind])
            for kind in ("predict upload", "predict random", "step", "page", "open", "media")
        },
        "server_cpu_s": cpu,
        "server_cpu_s_per_action": None if cpu is None or not actions else cpu / len(actions),
        "server_rss_mb_start": server_use["rss_mb_start"],
        "server_rss_mb_peak": server_use["rss_mb_peak"],
        "server_rss_mb_end": server_use["rss_mb_end"],
        "generator_cpu_s": generator_use["cpu_s"],
        "machine": {"cpus": os.cpu_count(), "loadavg_1min_before": load_before},
        "locust": {
            name: {
                "count": entry.num_requests,
                "failures": entry.num_failures,
                "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else None,
            }
            for (name, _method), entry in env.stats.entries.items()
        },
        "errors": sorted({str(r.get("error", "")) for r in rows if not r["ok"]} - {""}),
        "failed_kinds": [r["kind"] for r in rows if not r["ok"]][:20],
    }


def run_level(args, users: int, digits) -> dict:
    if args.url:
        return measure(
            args.url, users, args.seconds, args.server_pid, digits, args.timeout, args.spawn_rate
        )
    with Server(args.server_log) as server:
        return measure(
            server.url, users, args.seconds, server.process.pid, digits, args.timeout,
            args.spawn_rate,
        )  # fmt: skip


def fmt(value, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


HEADER = (
    "| students | actions | failures | prediction p50 / p95 / max (ms) | step p95 (ms) "
    "| server CPU s / action | server RSS peak (MB) | generator CPU (s) | load average at start |\n"
    "|---:|---:|---:|---|---:|---:|---:|---:|---:|"
)


def row(r: dict) -> str:
    """One markdown table row (docs/performance.md's table)."""
    return (
        f"| {r['users']} | {r['actions']} | {r['failures']} "
        f"| {fmt(r['p50_ms'], ',.0f')} / {fmt(r['p95_ms'], ',.0f')} / {fmt(r['max_ms'], ',.0f')} "
        f"| {fmt(r['by_kind']['step']['p95_ms'], ',.0f')} "
        f"| {fmt(r['server_cpu_s_per_action'], '.3f')} | {fmt(r['server_rss_mb_peak'])} "
        f"| {fmt(r['generator_cpu_s'], '.1f')} | {r['machine']['loadavg_1min_before']:.1f} |"
    )


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="a running app (default: start `streamlit run app.py` here)")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid, for CPU/RSS")
    p.add_argument("--users", type=int, default=30, help="simulated students (default 30)")
    p.add_argument("--seconds", type=float, default=60, help="load duration (default 60)")
    p.add_argument("--curve", help="several hall sizes, e.g. 10,20,40,60: one row each")
    p.add_argument("--spawn-rate", type=float, help="students arriving per second (users/5)")
    p.add_argument("--timeout", type=float, default=60, help="an action's limit, s (60)")
    p.add_argument("--digits", type=int, default=200, help="distinct MNIST PNGs (200)")
    p.add_argument("--server-log", help="write the started server's output here")
    p.add_argument("--json", help="write the results here (one object; a list with --curve)")
    args = p.parse_args(argv)
    levels = [int(n) for n in args.curve.split(",")] if args.curve else [args.users]
    digits = mnist_pngs(args.digits)
    results = []
    print(HEADER, flush=True)
    for users in levels:
        results.append(run_level(args, users, digits))
        print(row(results[-1]), flush=True)  # each row as soon as it is measured
    text = json.dumps(results if args.curve else results[0], indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return results


if __name__ == "__main__":
    main()
