"""CPU seconds one prediction costs a student's browser (Chromium) and the server.

    python bench/browser_cost.py                       # this checkout, 3 rounds of 8 presses
    python bench/browser_cost.py --presses 8 --rounds 3 --app-dir /tmp/before --app-dir .

For each round and each ``--app-dir`` in turn (so that before and after see the same machine
load), the app is started (``streamlit run app.py`` from that directory), Draw & predict opens
in Chromium (Debian's /usr/bin/chromium through Playwright, software rendering), "Random MNIST
test digit" is pressed twice to warm up, then ``--presses`` times, each time waiting until the
new prediction is on screen and the page has settled. Around the measured presses the user +
system CPU time of every Chromium process (from /proc) and of the server are read; the table
gives both per prediction, the median over the rounds, plus the bytes the browser received over
the websocket per prediction. The same measurement as tests/test_crowd.py, for one user.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.app_server import CHROMIUM, app_command, free_port  # noqa: E402
from scripts.app_server import CHROMIUM_ARGS as FLAGS  # noqa: E402

# True once a finished rerun shows the Prediction metric for an input whose caption differs
# from ``old`` (the caption names the MNIST digit drawn), as in tests/test_crowd.py.
FRESH_PREDICTION = """
(old) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(e => e.innerText.trim()).find(t => t.startsWith('28 x 28 input from'));
  if (!caption || caption === old) return false;
  const metric = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .find(m => m.innerText.includes('Prediction'));
  if (!metric) return false;
  const box = metric.closest('[data-testid="stElementContainer"]');
  if (box && box.getAttribute('data-stale') === 'true') return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.every(c => c.querySelector('.main-svg')) ? caption : false;
}
"""
CAPTION = """
() => ([...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
  .map(e => e.innerText.trim()).find(t => t.startsWith('28 x 28 input from')) || '')
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chromium_pids() -> list[int]:
    """Every Chromium process below this one (Playwright's driver itself excluded)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            pid = int(entry.name)
            names[pid] = stat.split("(", 1)[1].rsplit(")", 1)[0]
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(pid)
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if "chrom" in names.get(child, "").lower():
                found.append(child)
    return found


def one_run(app_dir: Path, presses: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        app_command(port),
        cwd=app_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(app_dir)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"streamlit did not start in {app_dir}")
            time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            received = [0]  # bytes the browser received over Streamlit's websocket

            def count(payload) -> None:
                received[0] += len(payload)

            page.on("websocket", lambda ws: ws.on("framereceived", count))
            page.goto(f"{url}/draw_predict?lang=en", wait_until="domcontentloaded")
            button = page.get_by_role("button", name="Random MNIST test digit")
            button.wait_for(timeout=90_000)

            def press() -> None:
                old = page.evaluate(CAPTION)
                button.click()
                page.wait_for_function(FRESH_PREDICTION, arg=old, timeout=90_000, polling=100)
                page.wait_for_timeout(400)  # the charts drawn after the metric

            for _ in range(2):
                press()
            pids = chromium_pids()
            browser0 = sum(cpu_seconds(pid) for pid in pids)
            server0, bytes0 = cpu_seconds(server.pid), received[0]
            start = time.monotonic()
            for _ in range(presses):
                press()
            wall = time.monotonic() - start
            browser1 = sum(cpu_seconds(pid) for pid in pids)
            server1, bytes1 = cpu_seconds(server.pid), received[0]
            # the 400 ms pause per press is idle for both; count it out of the wall time
            result = dict(
                browser_cpu=(browser1 - browser0) / presses,
                server_cpu=(server1 - server0) / presses,
                kb_sent=(bytes1 - bytes0) / presses / 1024,
                wall=(wall - 0.4 * presses) / presses,
            )
            browser.close()
        return result
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", action="append", type=Path, help="a checkout (repeatable)")
    parser.add_argument("--presses", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    dirs = [d.resolve() for d in (args.app_dir or [ROOT])]
    runs: dict[str, list[dict]] = {str(d): [] for d in dirs}
    for r in range(args.rounds):
        for d in dirs:  # alternate: every checkout sees the same machine load
            load = os.getloadavg()[0]
            run = one_run(d, args.presses) | {"load": load}
            runs[str(d)].append(run)
            print(
                f"round {r + 1} {d.name}: browser {run['browser_cpu']:.3f} CPU s, server "
                f"{run['server_cpu']:.3f} CPU s, {run['kb_sent']:.0f} KB, "
                f"{run['wall'] * 1000:.0f} ms per prediction (load {load:.1f})",
                flush=True,
            )
    print()
    print(
        "| checkout | browser CPU s / prediction | server CPU s / prediction | KB received | ms |"
    )
    print("|---|---:|---:|---:|---:|")
    for d, rs in runs.items():

        def med(key, rs=rs):
            return statistics.median(r[key] for r in rs)

        print(
            f"| {d} | {med('browser_cpu'):.3f} | {med('server_cpu'):.3f} | "
            f"{med('kb_sent'):.0f} | {med('wall') * 1000:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
