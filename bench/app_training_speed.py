"""In-app vs headless training speed: the Train live page against the same run without a page.

    python bench/app_training_speed.py                       # batch 32 (3 epochs) and batch 1
    python bench/app_training_speed.py --batch-sizes 32 --repeats 5 --json out.json

The same run (tutorial network, SGD 0.01, all 60,000 MNIST training images, 1,000 test images
as validation data, seed 0) is timed three ways, interleaved round-robin so that load from other
work hits every way alike:

- headless: ``cnnviz.training.TrainingWorker`` started from this script, no server, no browser;
- watched: ``streamlit run app.py`` with headless Chromium showing the Train live page for the
  whole run (the page redraws its progress, metrics and curves twice a second);
- away: the same, but the browser moves to the Why convolution page right after Start.

Every way reports the worker's own figure (samples trained / seconds spent training, pauses
excluded, the end-of-epoch validation included), so the three are counted alike; the in-app
figures are read from the page's "Samples / s" metric at the end of the run. With --cpu the
script also prints how much CPU the browser, the server and the training process took during
the watched runs (Linux /proc). Nothing is asserted; the browser is Debian's Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402

# the page's sliders
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256]
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0, 1000.0]


def headless(batch_size: int, epochs: int) -> float:
    from cnnviz.training import TrainingConfig, TrainingWorker

    config = TrainingConfig(
        optimizer="sgd",
        learning_rate=0.01,
        batch_size=batch_size,
        epochs=epochs,
        train_size=None,
        test_size=1000,
        seed=0,
    )
    worker = TrainingWorker(config)
    worker.start()
    worker.join()
    return worker.snapshot().samples_per_second


def _settle(page) -> None:
    page.wait_for_timeout(500)
    for _ in range(120):
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(300)


def _number(text: str) -> float:
    return float(re.sub(r"[^0-9.]", "", text.split("\n")[-1]))


class Groups:
    """CPU seconds per process group (browser, server, training) from /proc, Linux only."""

    def __init__(self) -> None:
        self.ok = Path("/proc/self/stat").exists()
        self.hz = os.sysconf("SC_CLK_TCK") if self.ok else 100

    def snap(self) -> dict[str, tuple[str, int]]:
        """pid -> (group, CPU ticks so far) for the processes of the three groups."""
        out: dict[str, tuple[str, int]] = {}
        if not self.ok:
            return out
        for pid, cmd in _processes():
            if "chrom" in cmd:
                group = "browser"
            elif "spawn_main" in cmd:
                group = "training process"
            elif "streamlit" in cmd:
                group = "server"
            else:
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (group, int(fields[11]) + int(fields[12]))
        return out

    def shares(self, before, after, seconds: float) -> dict[str, float]:
        total: dict[str, float] = {}
        for pid, (group, ticks) in after.items():
            spent = ticks - before.get(pid, (group, 0))[1]
            total[group] = total.get(group, 0.0) + spent / self.hz / seconds
        return total


def in_app(url: str, browser, batch_size: int, epochs: int, away: bool, groups: Groups | None):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url + "/train_live")
        _settle(page)
        images = page.get_by_role("slider", name="Training images")
        images.focus()
        images.press("End")
        _settle(page)
        batch = page.get_by_role("slider", name="Batch size")
        batch.focus()
        batch.press("Home")
        for _ in range(BATCH_SIZES.index(batch_size)):
            batch.press("ArrowRight")
        _settle(page)
        epoch_slider = page.get_by_role("slider", name="Epochs")
        epoch_slider.focus()
        epoch_slider.press("Home")
        for _ in range(epochs - 1):
            epoch_slider.press("ArrowRight")
        _settle(page)
        page.get_by_role("radio", name="SGD").check(force=True)
        _settle(page)
        rate = page.get_by_role("slider", name="Learning rate")
        rate.focus()
        rate.press("Home")
        for _ in range(LEARNING_RATES.index(0.01)):
            rate.press("ArrowRight")
        _settle(page)
        if rate.get_attribute("aria-valuetext") != "0.01":
            raise RuntimeError("could not set the learning rate to 0.01")
        before = groups.snap() if groups else None
        t0 = time.perf_counter()
        page.get_by_role("button", name="Start").click()
        if away:
            page.wait_for_timeout(300)
            page.get_by_role("link", name="Why convolution").first.click()
            # stay away until the run must be over, then look
            _wait_until_over(page)
            page.get_by_role("link", name="Train live").first.click()
            _settle(page)
        page.get_by_test_id("stAlertContentSuccess").wait_for(timeout=600_000)
        seconds = time.perf_counter() - t0
        shares = groups.shares(before, groups.snap(), seconds) if groups else {}
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Samples / s")
        return _number(metric.first.inner_text()), shares
    finally:
        page.close()


def _processes():
    """(pid, command line) of every process that can be read (Linux /proc)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            yield pid, cmd


def _training_processes() -> int:
    return sum("spawn_main" in cmd for _, cmd in _processes())


def _wait_until_over(page=None, limit: float = 600) -> None:
    """Wait until no training process is left (Linux; elsewhere a fixed minute)."""
    if not Path("/proc/self").exists():
        time.sleep(60)
        return
    time.sleep(1)
    deadline = time.monotonic() + limit
    while _training_processes() and time.monotonic() < deadline:
        if page is not None:
            page.wait_for_timeout(500)  # keeps the browser's event loop turning
        else:
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", default="32,1")
    parser.add_argument("--epochs-32", type=int, default=3, help="epochs of a batch >= 8 run")
    parser.add_argument("--epochs-1", type=int, default=1, help="epochs of a batch 1 run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ways", default="headless,watched,away")
    parser.add_argument("--cpu", action="store_true", help="CPU shares during watched runs")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    ways = args.ways.split(",")
    results: dict = {}
    groups = Groups() if args.cpu else None
    with serve_app() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for repeat in range(args.repeats):
            for bs in (int(b) for b in args.batch_sizes.split(",")):
                epochs = args.epochs_1 if bs == 1 else args.epochs_32
                for way in ways:
                    shares = {}
                    if way == "headless":
                        value = headless(bs, epochs)
                    else:
                        value, shares = in_app(url, browser, bs, epochs, way == "away", groups)
                        _wait_until_over()
                    cell = results.setdefault(f"{bs}|{way}", {"values": [], "cpu": []})
                    cell["values"].append(value)
                    if shares and way == "watched":
                        cell["cpu"].append(shares)
                    print(f"  repeat {repeat + 1}/{args.repeats}: batch {bs} {way}: {value:,.0f}/s")
        browser.close()

    print()
    print("| batch | epochs | way | median samples/s | min | max | % of headless |")
    print("|---|---|---|---|---|---|---|")
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        epochs = args.epochs_1 if bs == 1 else args.epochs_32
        base = results.get(f"{bs}|headless")
        base_median = statistics.median(base["values"]) if base else None
        for way in ways:
            values = results[f"{bs}|{way}"]["values"]
            median = statistics.median(values)
            share = f"{median / base_median:.0%}" if base_median else "–"
            print(
                f"| {bs} | {epochs} | {way} | {median:,.0f} | {min(values):,.0f} | "
                f"{max(values):,.0f} | {share} |"
            )
            results[f"{bs}|{way}"]["median"] = median
    if groups:
        print()
        print("CPU during the watched runs (cores busy, median over repeats):")
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            cpu = results.get(f"{bs}|watched", {}).get("cpu") or []
            if cpu:
                names = sorted({k for c in cpu for k in c})
                parts = [f"{n} {statistics.median(c.get(n, 0.0) for c in cpu):.2f}" for n in names]
                print(f"  batch {bs}: " + ", ".join(parts))
    info = {"cores": os.cpu_count(), "loadavg_1m": os.getloadavg()[0]}
    print(json.dumps(info))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()
