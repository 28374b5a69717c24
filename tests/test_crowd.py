"""Many users at once on one server, and a server killed in the middle of training (browser).

One ``streamlit run app.py`` on 127.0.0.1, started through a small launcher that writes the
server's own view of itself to a JSON file every 0.2 s: its Python threads (names included,
so training threads are counted), how many times a dataset was read from disk
(``cnnviz.data``'s loader cache), how many model files were loaded (a counter around
``cnnviz.nn.load_model``) and how long each whole-page script run took. The OS thread count
comes from /proc/<pid>/status.

``test_many_users_at_once``: 10 Playwright contexts (separate browser sessions, driven
concurrently with the async API) upload their own MNIST digits and press "Random MNIST test
digit" while 3 of them train the quick demo (each with its own seed) and a further tab starts
the full tutorial recipe and is closed at once. Checked: every session sees its own input and
the prediction the bundled model makes for it; only the trainers are offered "Trained in this
session"; each trainer's test accuracy is the one a headless run with its settings gets (so no
run touched another); datasets and the bundled model are loaded once per process; after the
tabs close every training thread ends and the Python thread count is back to its starting
value. Prediction latency (browser clock: from the action to the new Prediction metric) is
measured and written to test-artifacts/concurrency.json; by the project's rule it is reported,
not asserted (set CNNVIZ_ASSERT_P95=2.0 to assert it).

``test_server_killed_during_training_comes_back_clean``: train, download the model, start a
second run, SIGKILL the server, start it again: the pages come up clean, the downloaded model
and the bundled model files are byte-for-byte intact and the downloaded model still predicts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz import nn
from cnnviz.data import mnist
from cnnviz.nn.recipes import PRESETS
from cnnviz.training import TrainingWorker
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, answers, free_port
from tests.conftest import ARTIFACTS, skip_or_fail

try:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the tests are skipped (or fail in CI) by async_playwright_available
    PlaywrightTimeout = TimeoutError

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
USERS = 10
TRAINERS = 3  # users 0, 1, 2 also train the quick demo, with seeds 1, 2, 3
ACTIONS = 6  # predictions per user: uploads and random digits, alternating
ACTION_TIMEOUT_MS = 90_000
# The Train live page's progress text once a run has started (a quick run on a loaded server
# may already be over when the page first shows it).
RUNNING = re.compile(r"(Running|Finished) · epoch")

# The launcher: count model loads, report stats to a file, then run Streamlit's own CLI.
SERVE = r"""
import json, os, sys, threading, time
stats_path, port = sys.argv[1], sys.argv[2]
import cnnviz.nn
from cnnviz import data
loads = {"models": 0}
real_load_model = cnnviz.nn.load_model
def counting_load_model(*args, **kwargs):
    loads["models"] += 1
    return real_load_model(*args, **kwargs)
cnnviz.nn.load_model = counting_load_model
reads = {"files": 0}  # IDX files read from disk (each dataset has four)
real_read_idx = data.read_idx
def counting_read_idx(*args, **kwargs):
    reads["files"] += 1
    return real_read_idx(*args, **kwargs)
data.read_idx = counting_read_idx
from streamlit.runtime.scriptrunner import script_runner
runs = []  # seconds of every whole-page script run (fragment reruns excluded)
real_run_script = script_runner.ScriptRunner._run_script
def timed_run_script(self, rerun_data):
    t0 = time.perf_counter()
    try:
        return real_run_script(self, rerun_data)
    finally:
        if not rerun_data.fragment_id_queue:
            runs.append(round(time.perf_counter() - t0, 4))
script_runner.ScriptRunner._run_script = timed_run_script
peak = {"threads": 0, "training": 0, "last_training_seen": 0.0}
def report():
    while True:
        names = [t.name for t in threading.enumerate()]
        training = names.count("cnnviz-training")
        peak["threads"] = max(peak["threads"], len(names))
        peak["training"] = max(peak["training"], training)
        if training:
            peak["last_training_seen"] = time.time()
        stats = {
            "time": time.time(),
            "threads": len(names),
            "names": sorted(names),
            "training": training,
            "peak": dict(peak),
            "dataset_files_read": reads["files"],
            "model_loads": loads["models"],
            "script_runs": list(runs),
        }
        with open(stats_path + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(stats_path + ".tmp", stats_path)
        time.sleep(0.2)
threading.Thread(target=report, name="stats-reporter", daemon=True).start()
sys.argv = [
    "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", port,
    "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    "--server.fileWatcherType", "none",
]
from streamlit.web.cli import main
main(prog_name="streamlit")
"""


class Server:
    """The app on a free 127.0.0.1 port, with its stats file and /proc entry."""

    def __init__(self, tmp: Path, name: str = "server"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stats_path = tmp / f"{name}-stats.json"
        self.log_path = tmp / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.stats_path), str(self.port)],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 90
        while not (answers(f"{self.url}/_stcore/health") and self.stats_path.exists()):
            if self.process.poll() is not None:
                pytest.fail(f"streamlit exited early:\n{self.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer in 90 s:\n{self.log_text()[-3000:]}")
            time.sleep(0.3)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stats(self) -> dict:
        stats = json.loads(self.stats_path.read_text())
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        stats["os_threads"] = int(fields["Threads"])
        stats["rss_mb"] = int(fields["VmRSS"].split()[0]) / 1024
        return stats

    def wait_for(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.3)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def start(name: str = "server") -> Server:
        servers.append(Server(tmp_path, name))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def async_playwright_available():
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Debian's Chromium is not at {CHROMIUM} (apt-get install chromium)")


def run_async(coroutine_function, *args):
    """Run an async Playwright session in its own thread (the sync fixtures of other browser
    tests may hold this thread's event loop)."""
    box: dict = {}

    def target():
        try:
            box["result"] = asyncio.run(coroutine_function(*args))
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="async-playwright")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


# ----------------------------------------------------------------------------- browser helpers

# Resolves (with the browser's clock) once the Prediction metric of a finished rerun is on
# screen for the input described by a caption that differs from ``old``.
FRESH_PREDICTION = """
([old, wanted]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') === 'running') return false;
  const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(e => e.innerText.trim()).find(t => t.startsWith('28 x 28 input from'));
  if (!caption || caption === old || (wanted && !caption.includes(wanted))) return false;
  const metric = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(m => m.innerText.includes('Prediction'));
  if (!metric) return false;
  const box = metric.closest('[data-testid="stElementContainer"]');
  if (box && box.getAttribute('data-stale') === 'true') return false;
  const value = metric.querySelector('[data-testid="stMetricValue"]').innerText.trim();
  return {t: performance.now(), caption, value};
}
"""

CAPTION = """
() => ([...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
  .map(e => e.innerText.trim()).find(t => t.startsWith('28 x 28 input from')) || '')
"""

SETTLED = """
() => { const app = document.querySelector('[data-testid="stApp"]');
        return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
          && document.querySelectorAll('[data-testid="stStatusWidget"]').length === 0; }
"""


async def settle(page, timeout_ms: int = ACTION_TIMEOUT_MS) -> None:
    await page.wait_for_timeout(300)
    await page.wait_for_function(SETTLED, timeout=timeout_ms, polling=100)


async def no_exception(page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    if await boxes.count():
        raise AssertionError(f"{where}: {(await boxes.first.inner_text())[:500]}")


async def go_via_sidebar(page, title: str) -> None:
    """Switch page inside the app (same browser session), as a person clicking the sidebar."""
    await page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    await page.wait_for_timeout(500)
    await settle(page)


async def predict(page, action, wanted: str | None) -> dict:
    """Do ``action`` and time it until the new prediction is on screen (browser clock)."""
    old = await page.evaluate(CAPTION)
    t0 = await page.evaluate("performance.now()")
    await action()
    handle = await page.wait_for_function(
        FRESH_PREDICTION, arg=[old, wanted], timeout=ACTION_TIMEOUT_MS, polling="raf"
    )
    seen = await handle.json_value()
    seen["ms"] = seen.pop("t") - t0
    return seen


async def model_options(page) -> list[str]:
    """The choices of the sidebar's model picker."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
    await box.click()
    options = page.locator('[role="option"]')
    await options.first.wait_for(timeout=30_000)
    texts = [t.strip() for t in await options.all_inner_texts()]
    await page.keyboard.press("Escape")
    return texts


async def start_training(page, seed: int | None = None, preset: str | None = None) -> str:
    """On the Train live page: optionally a preset and a seed, then Start."""
    if preset:
        option = page.get_by_text(preset, exact=True).first
        summary = page.locator("summary").filter(has_text="Settings").first
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        while True:
            if await option.is_visible():
                try:
                    await option.click(timeout=5_000)
                    break
                except PlaywrightTimeout:  # re-rendered under the pointer: look again
                    continue
            if time.monotonic() > deadline:
                raise AssertionError(f"could not choose the preset {preset!r}")
            # The Settings expander folds once a run exists: open it, but never fold it (a
            # page still drawing on a loaded machine shows the expander before its radio).
            if await summary.count() and not await summary.evaluate("s => s.parentElement.open"):
                await summary.click()
            await page.wait_for_timeout(500)
        await settle(page)
    seed_box = page.get_by_label("Seed")
    if seed is not None:
        await seed_box.fill(str(seed))
        await seed_box.press("Enter")
        await settle(page)
        # The preset switches to "Custom" once the server has seen the new seed.
        from playwright.async_api import expect

        await expect(page.get_by_role("radio", name="Custom")).to_be_checked(
            timeout=ACTION_TIMEOUT_MS
        )
    chosen = await seed_box.input_value()
    await page.get_by_role("button", name="Start").click()
    await page.get_by_text(RUNNING).first.wait_for(timeout=ACTION_TIMEOUT_MS)
    return chosen


async def metric_value(page, label: str, timeout_ms: int = ACTION_TIMEOUT_MS) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    await metric.wait_for(timeout=timeout_ms)
    return (await metric.locator('[data-testid="stMetricValue"]').inner_text()).strip()


# ----------------------------------------------------------------------------- the crowd


def digit_png(digit28: np.ndarray) -> bytes:
    """An MNIST digit enlarged to 140 x 140, white ink on black, as a PNG."""
    big = Image.fromarray(digit28).resize((140, 140), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    return buffer.getvalue()


async def one_user(browser, url: str, user: int, files: list[Path]) -> dict:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)  # 2 cores shared by 10 browsers: be patient
    page = await context.new_page()
    record: dict = {"user": user, "actions": []}
    try:
        trainer = user < TRAINERS
        if trainer:
            await page.goto(f"{url}/train_live")
            await settle(page)
            record["seed"] = await start_training(page, seed=user + 1)
            await go_via_sidebar(page, "Draw & predict")
        else:
            await page.goto(f"{url}/draw_predict")
            await settle(page)
        await no_exception(page, f"user {user}: first visit")
        uploader = page.locator('[data-testid="stFileUploader"]').filter(
            has_text="Upload a picture of a digit"
        )
        file_input = uploader.locator('input[type="file"]')
        random_button = page.get_by_role("button", name="Random MNIST test digit")
        for k in range(ACTIONS):
            if k % 2 == 0:
                path = files[k // 2]
                seen = await predict(
                    page, lambda p=path: file_input.set_input_files(str(p)), f"upload: {path.name}"
                )
                seen["kind"], seen["file"] = "upload", path.name
            else:
                seen = await predict(page, random_button.click, "MNIST test digit #")
                seen["kind"] = "random"
            record["actions"].append(seen)
        await settle(page)
        await no_exception(page, f"user {user}: after predicting")
        if trainer:  # back to the run: wait for its end, use its model for one more prediction
            await go_via_sidebar(page, "Train live")
            await page.get_by_text("Training finished").first.wait_for(timeout=180_000)
            await settle(page)
            record["test_accuracy"] = await metric_value(page, "Test accuracy")
            await no_exception(page, f"user {user}: after training")
            await page.get_by_role("button", name="Use this model on the other pages").click()
            await settle(page)
            await go_via_sidebar(page, "Draw & predict")
            record["own_model"] = await predict(page, random_button.click, "MNIST test digit #")
            record["own_model"]["model"] = await page.get_by_text("Model: ").first.inner_text()
        record["model_options"] = await model_options(page)
        await page.screenshot(path=str(ARTIFACTS / f"concurrency-user-{user}.png"), full_page=True)
    finally:
        await context.close()
    return record


async def leaver(browser, url: str) -> dict:
    """Starts the full tutorial recipe (hours of training), then closes the tab at once."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)  # 2 cores shared by 10 browsers: be patient
    page = await context.new_page()
    try:
        await page.goto(f"{url}/train_live")
        await settle(page)
        await start_training(page, preset="Tutorial recipe")
        closed_at = time.time()  # wall clock: compared with the server's own timestamps
    finally:
        await context.close()
    return {"closed_at": closed_at}


async def alone(browser, url: str) -> list[float]:
    """One user on the idle server first: the latency the machine gives without a crowd."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)  # 2 cores shared by 10 browsers: be patient
    page = await context.new_page()
    try:
        await page.goto(f"{url}/draw_predict")
        await settle(page)
        button = page.get_by_role("button", name="Random MNIST test digit")
        return [(await predict(page, button.click, "MNIST test digit #"))["ms"] for _ in range(5)]
    finally:
        await context.close()


async def crowd(url: str, files_for: dict[int, list[Path]]) -> tuple[list[dict], dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            calm = await alone(browser, url)
            leaving = asyncio.create_task(leaver(browser, url))
            users = [one_user(browser, url, u, files_for[u]) for u in range(USERS)]
            records = await asyncio.gather(*users)
            left = await leaving
        finally:
            await browser.close()
    left["alone_ms"] = calm
    return records, left


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the server, Playwright's driver, Chromium's processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process has just ended
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


POOL_WORKERS = ("ThreadPoolExecutor-", "AnyIO worker thread")


def busy(stats: dict) -> int:
    """Threads other than idle pool workers (which executors keep for reuse, up to a bound)."""
    return sum(not name.startswith(POOL_WORKERS) for name in stats["names"])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def check_crowd(records, expected, bundled_says, x_test) -> dict:
    """Assert what each session saw; returns the trainers' test accuracies."""
    # Every session saw its own inputs and the bundled model's prediction for them.
    for record in records:
        user = record["user"]
        for seen in record["actions"]:
            if seen["kind"] == "upload":
                assert f"upload: {seen['file']}" in seen["caption"], (user, seen)
                assert seen["file"].startswith(f"user{user}-"), (user, seen)
                assert seen["value"] == str(expected[seen["file"]]), (user, seen)
            else:
                index = int(seen["caption"].split("#", 1)[1].split()[0])
                assert seen["value"] == str(bundled_says(index)), (user, seen)
        trained_here = "Trained in this session" in record["model_options"]
        assert trained_here == (user < TRAINERS), (user, record["model_options"])

    # Each trainer's result is the one its own settings give when trained headless here, and
    # its own model (not the bundled one, not another trainer's) made its last prediction.
    headless, own = {}, {}
    for user in range(TRAINERS):
        worker = TrainingWorker(dataclasses.replace(PRESETS["quick demo"], seed=user + 1))
        worker.start()
        assert worker.join(300)
        headless[user] = f"{worker.snapshot().result.test_accuracy:.2%}"
        seen = records[user]["own_model"]
        assert "Trained in this session" in seen["model"], seen
        index = int(seen["caption"].split("#", 1)[1].split()[0])
        own[user] = (
            seen["value"],
            str(worker.model.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax()),
        )
    shown = {r["user"]: r["test_accuracy"] for r in records if r["user"] < TRAINERS}
    assert [records[u]["seed"] for u in range(TRAINERS)] == [str(u + 1) for u in range(TRAINERS)]
    assert shown == headless
    assert all(page_says == model_says for page_says, model_says in own.values()), own
    return shown


def test_many_users_at_once(server_factory, async_playwright_available, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    bundled = nn.load_model(nn.bundled_models()["Tutorial network"])
    _, (x_test, y_test) = mnist.load_data_shared()

    def bundled_says(index: int) -> int:
        return int(bundled.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax())

    # Each user uploads 3 different digits, none shared with another user, all read correctly.
    right = [i for i in range(200) if bundled_says(i) == y_test[i]]
    files_for: dict[int, list[Path]] = {}
    expected: dict[str, int] = {}
    for u in range(USERS):
        files_for[u] = []
        for k in range(ACTIONS // 2):
            index = right[u * (ACTIONS // 2) + k]
            path = tmp_path / f"user{u}-digit{k}-mnist{index}.png"
            path.write_bytes(digit_png(x_test[index]))
            files_for[u].append(path)
            expected[path.name] = int(y_test[index])

    server = server_factory()
    start = server.stats()
    start_cpu = cpu_seconds(server.process.pid)
    peak = {"os_threads": 0, "rss_mb": 0.0}  # the server's own peaks are in its stats
    sampling = threading.Event()

    cpu: dict[int, float] = {}  # CPU seconds of the server and of the browser's processes

    def sample():  # the server's busiest moments, and when training last ran, every 0.3 s
        while not sampling.wait(0.3):
            stats = server.stats()
            for key in peak:
                peak[key] = max(peak[key], stats[key])
            for pid in descendants(os.getpid()):
                cpu[pid] = max(cpu.get(pid, 0.0), cpu_seconds(pid))

    sampler = threading.Thread(target=sample, name="stats-sampler", daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        records, left = run_async(crowd, server.url, files_for)
        crowd_seconds = time.monotonic() - t0
        during = server.stats()
        checked = check_crowd(records, expected, bundled_says, x_test)
        # Every tab is closed now: every training thread must end (the recipe run within its
        # 30 s grace), leaving the threads the server started with.
        end = server.wait_for(lambda s: s["training"] == 0 and busy(s) <= busy(start), 75)
    finally:
        sampling.set()
        sampler.join()
    ended_after = end["peak"]["last_training_seen"] - left["closed_at"]
    latencies = [seen["ms"] for record in records for seen in record["actions"]]
    server_cpu = cpu.pop(server.process.pid, 0.0) - start_cpu
    script_ms = [1000 * t for t in during["script_runs"][len(start["script_runs"]) :]]
    browser_cpu = sum(cpu.values())  # Chromium and Playwright's driver, on the same 2 cores

    # MNIST's four IDX files and the bundled model were read from disk once for the whole
    # crowd (the random digits need MNIST, so zero reads would be wrong too).
    assert during["dataset_files_read"] == 4, during
    assert during["model_loads"] == 1, during

    # All tabs are closed: every training thread ends (the recipe run within its 30 s grace),
    # and the Python thread count returns to where it started.
    figures = {
        "users": USERS,
        "trainers": TRAINERS,
        "predictions": len(latencies),
        "latency_ms": {
            "p50": round(percentile(latencies, 50)),
            "p95": round(percentile(latencies, 95)),
            "max": round(max(latencies)),
        },
        "latency_ms_one_user_alone": [round(ms) for ms in left["alone_ms"]],
        "server_script_run_ms": {
            "runs": len(script_ms),
            "p50": round(percentile(script_ms, 50)),
            "p95": round(percentile(script_ms, 95)),
        },
        "crowd_seconds": round(crowd_seconds, 1),
        "cpu_seconds_during_crowd": {"server": round(server_cpu), "browser": round(browser_cpu)},
        "training_threads_peak": end["peak"]["training"],
        "threads": {
            "python_start": start["threads"],
            "python_peak": end["peak"]["threads"],
            "os_peak": peak["os_threads"],
            "python_end": end["threads"],
            "os_start": start["os_threads"],
            "os_end": end["os_threads"],
            "training_end": end["training"],
        },
        "seconds_from_recipe_tab_closed_to_its_thread_ended": round(ended_after, 1),
        "idle_pool_workers": {
            "start": len(start["names"]) - busy(start),
            "end": len(end["names"]) - busy(end),
        },
        "rss_mb": {
            "start": round(start["rss_mb"]),
            "peak": round(peak["rss_mb"]),
            "end": round(end["rss_mb"]),
        },
        "dataset_files_read": end["dataset_files_read"],
        "model_loads": end["model_loads"],
        "test_accuracy": checked,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    (ARTIFACTS / "concurrency.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    assert end["training"] == 0, end
    assert busy(end) <= busy(start), (start["names"], end["names"])
    budget = os.environ.get("CNNVIZ_ASSERT_P95")
    if budget:
        assert percentile(latencies, 95) < float(budget) * 1000, figures["latency_ms"]


# ----------------------------------------------------------------------------- kill -9


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def train_download_and_start_again(url: str, download_to: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(f"{url}/train_live")
            await settle(page)
            await page.get_by_role("button", name="Start").click()
            await page.get_by_text("Training finished").first.wait_for(timeout=180_000)
            await settle(page)
            async with page.expect_download() as info:
                await page.get_by_role("button", name="Download the model (.npz)").click()
            download = await info.value
            await download.save_as(str(download_to))
            await start_training(page, preset="Tutorial recipe")  # a long second run ...
        finally:
            await browser.close()


async def visit_after_restart(url: str, model_file: Path, digit_file: Path) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.goto(f"{url}/train_live")
            await settle(page)
            await no_exception(page, "Train live after the restart")
            prompt = page.get_by_text("and press Start")
            await prompt.first.wait_for(timeout=ACTION_TIMEOUT_MS)
            prompt = await prompt.count()
            await page.goto(f"{url}/draw_predict")
            await settle(page)
            await no_exception(page, "Draw & predict after the restart")
            sidebar_upload = page.locator('[data-testid="stSidebar"] input[type="file"]')
            if not await sidebar_upload.count():
                await page.get_by_text("Upload a model (.npz)").first.click()
            await sidebar_upload.first.set_input_files(str(model_file))
            await settle(page)
            uploader = page.locator('[data-testid="stFileUploader"]').filter(
                has_text="Upload a picture of a digit"
            )
            seen = await predict(
                page,
                lambda: uploader.locator('input[type="file"]').set_input_files(str(digit_file)),
                f"upload: {digit_file.name}",
            )
            model_caption = await page.get_by_text("Model: ").first.inner_text()
            await no_exception(page, "after uploading the saved model")
            await page.screenshot(path=str(ARTIFACTS / "after-kill-restart.png"), full_page=True)
        finally:
            await browser.close()
    return {"prompt": prompt, "prediction": seen["value"], "model": model_caption}


def test_server_killed_during_training_comes_back_clean(
    server_factory, async_playwright_available, tmp_path
):
    ARTIFACTS.mkdir(exist_ok=True)
    bundled_files = {p: file_digest(p) for p in nn.bundled_models().values()}
    server = server_factory("first")
    saved = tmp_path / "my-model.npz"
    run_async(train_download_and_start_again, server.url, saved)
    assert server.wait_for(lambda s: s["training"] == 1, timeout=30)["training"] == 1
    saved_digest = file_digest(saved)
    server.kill()  # SIGKILL in the middle of the second run

    again = server_factory("second")
    stats = again.stats()
    assert stats["training"] == 0
    model = nn.load_model(saved)  # the model saved before the kill is whole and usable
    _, (x_test, y_test) = mnist.load_data_shared()
    index = 0
    digit = tmp_path / "digit.png"
    digit.write_bytes(digit_png(x_test[index]))
    expected = int(model.predict(x_test[index : index + 1] / 255.0 - 0.5).argmax())
    seen = run_async(visit_after_restart, again.url, saved, digit)
    assert seen["prompt"] >= 1  # a fresh Train live page: nothing left over from the kill
    assert "Uploaded .npz" in seen["model"]
    assert seen["prediction"] == str(expected)
    assert file_digest(saved) == saved_digest
    assert {p: file_digest(p) for p in bundled_files} == bundled_files
    log = again.log_text()
    assert "Traceback" not in log, log[-3000:]
