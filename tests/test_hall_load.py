"""A short run of the lecture-hall load test (bench/hall_load.py): 5 students for 10 s.

The script starts its own ``streamlit run app.py`` and speaks Streamlit's websocket protocol
(no browser). It runs in a subprocess: importing Locust monkey-patches the standard library
for gevent, which must not happen inside the test process. No timing is asserted (the numbers
depend on the machine; docs/performance.md reports them): only that every field is there, that
students acted without a failure and that real predictions came back, digits 0-9, mostly the
true label of the MNIST digit uploaded or picked. The JSON is kept in
test-artifacts/hall_load.json.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, skip_or_fail

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {
    "users",
    "seconds",
    "actions",
    "failures",
    "p50_ms",
    "p95_ms",
    "max_ms",
    "server_cpu_s_per_action",
    "server_rss_mb_peak",
    "predictions",
    "predictions_labelled",
    "predictions_correct",
    "by_kind",
}


def test_hall_load_smoke(tmp_path):
    for module in ("locust", "websocket"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail(f"{module} is not installed (pip install -r requirements-dev.txt)")
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "hall_load.json"  # kept for a look at the numbers
    proc = subprocess.run(
        [sys.executable, "bench/hall_load.py", "--users", "5", "--seconds", "10", "--digits", "20"]
        + ["--json", str(out), "--server-log", str(tmp_path / "server.log")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + (tmp_path / "server.log").read_text()[-2000:]
    result = json.loads(out.read_text())

    assert FIELDS <= result.keys()
    assert result["users"] == 5 and result["seconds"] == 10
    assert result["actions"] > 0
    assert result["failures"] == 0, result["errors"]
    assert result["predictions"] > 0
    assert result["predictions_are_digits"]  # each Prediction metric read a digit 0-9
    assert result["p50_ms"] is not None and result["p95_ms"] >= result["p50_ms"]
    assert result["server_cpu_s_per_action"] > 0
    assert result["server_rss_mb_peak"] > 0
    # Uploaded and picked MNIST test digits have known labels; the bundled network is right
    # on about 98% of MNIST, so most of these must come back right.
    labelled = result["predictions_labelled"]
    assert labelled == result["predictions"]
    assert result["predictions_correct"] >= 0.7 * labelled
