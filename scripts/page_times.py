"""First-run time of every page, measured with Streamlit's AppTest in a fresh process.

    python scripts/page_times.py

Each page gets a new process: app.py's first run (the Overview page, which loads MNIST), then
the page's first run (its own models and computations for the first time), then a rerun
(caches filled). Prints a table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    "pages/0_overview.py",
    "pages/01_tutorial.py",
    "pages/1_draw_predict.py",
    "pages/2_convolution.py",
    "pages/3_pooling.py",
    "pages/4_softmax_backprop.py",
    "pages/5_train_live.py",
    "pages/6_why_convolution.py",
    "pages/7_class.py",
]

CHILD = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
page = sys.argv[1]
t0 = time.perf_counter()
at = AppTest.from_file("app.py", default_timeout=300)
at.run()
start = time.perf_counter() - t0
t0 = time.perf_counter()
at.switch_page(page)
at.run()
cold = time.perf_counter() - t0
t0 = time.perf_counter()
at.run()
warm = time.perf_counter() - t0
print(json.dumps({"page": page, "start": start, "cold": cold, "warm": warm,
                  "errors": len(at.exception)}))
"""


def main() -> None:
    print(
        "| page | app start: app.py + Overview, cold (s) | page's first run (s) | rerun (s) "
        "| exceptions |"
    )
    print("|---|---:|---:|---:|---:|")
    for page in PAGES:
        out = (
            subprocess.run(
                [sys.executable, "-c", CHILD, page],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        r = json.loads(out)
        print(f"| {page} | {r['start']:.2f} | {r['cold']:.2f} | {r['warm']:.2f} | {r['errors']} |")


if __name__ == "__main__":
    main()
