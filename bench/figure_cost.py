"""Milliseconds Chromium's main thread spends drawing the Draw & predict feature-map figure.

    python bench/figure_cost.py                                  # this checkout
    python bench/figure_cost.py --app-dir /path/to/before --app-dir .   # A/B, alternated

For each ``--app-dir``, a child process builds the stronger network's feature-map figure
(``cnnviz.plots.predict.feature_maps_figure``, 16 maps a layer, 1100 px) for six MNIST test
digits with that checkout's code. One Chromium page (Debian's /usr/bin/chromium through
Playwright, software rendering, as bench/browser_cost.py) then draws them with
``Plotly.newPlot`` (the plotly.js shipped in the ``plotly`` Python package), the checkouts in
turn, ``--rounds`` times six figures each, and times each call with ``performance.now()``
(the figure's JSON parse included). Alternating in one page keeps the machine's load and the
JIT the same for every checkout, so differences of a few milliseconds show, which
bench/browser_cost.py (a whole page, seconds per round) cannot resolve on a shared machine.
Prints the median and quartiles per checkout; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

BUILD = r"""
import json, sys
import numpy as np, plotly.io as pio
from cnnviz import nn, preprocess
from cnnviz.data import load_dataset
from cnnviz.nn import inspect
from cnnviz.nn.recipes import BUNDLED
from cnnviz.plots import predict
_unused, (x_test, _labels) = load_dataset("MNIST")
model = nn.load_model(str(BUNDLED["Stronger network"]))
figures = []
for k in range(6):
    trace = model.trace(preprocess.to_model_input(x_test[k].astype(np.float32) / 255))
    fig = predict.feature_maps_figure(inspect.maps_of(trace), columns=8, max_maps=16, width_px=1100)
    figures.append(json.loads(pio.to_json(fig, validate=False)))
print(json.dumps(figures))
"""

DRAW = """async ([tag, n]) => {
  const root = document.getElementById('root'); const times = [];
  for (let i = 0; i < n; i++) {
    const f = FIGS[tag][i % FIGS[tag].length]; root.innerHTML = '';
    const div = document.createElement('div'); div.style.width = '1100px'; root.appendChild(div);
    const t0 = performance.now();
    await Plotly.newPlot(div, JSON.parse(f.data), JSON.parse(f.layout));
    times.push(performance.now() - t0);
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)));
  }
  return times; }"""


def figures_of(app_dir: Path) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-c", BUILD], cwd=app_dir, capture_output=True, text=True, check=True
    ).stdout
    return [
        {"data": json.dumps(f["data"]), "layout": json.dumps(f["layout"])} for f in json.loads(out)
    ]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", action="append", type=Path, help="a checkout (repeatable)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    dirs = [d.resolve() for d in (args.app_dir or [ROOT])]
    figs = {str(i): figures_of(d) for i, d in enumerate(dirs)}
    script = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    page_html = Path("/tmp") / "cnnviz_figure_cost.html"
    page_html.write_text(
        f"<html><body><div id=root></div><script>{script}</script>"
        f"<script>window.FIGS={json.dumps(figs)}</script></body></html>"
    )
    times: dict[str, list[float]] = {tag: [] for tag in figs}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(page_html.as_uri())
        for tag in figs:  # warm up the JIT on every variant
            page.evaluate(DRAW, [tag, 12])
        for _ in range(args.rounds):
            for tag in figs:
                times[tag] += page.evaluate(DRAW, [tag, 6])
        browser.close()
    page_html.unlink()
    print("| checkout | median ms | 25% | 75% | draws |")
    print("|---|---:|---:|---:|---:|")
    for tag, d in zip(figs, dirs, strict=True):
        q1, median, q3 = statistics.quantiles(times[tag], n=4)
        print(f"| {d} | {median:.1f} | {q1:.1f} | {q3:.1f} | {len(times[tag])} |")


if __name__ == "__main__":
    main()
