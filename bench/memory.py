"""Peak resident memory of a full-MNIST training epoch run through cnnviz's command line.

    python bench/memory.py               # a full-MNIST epoch at batch 32 (see below)
    python bench/memory.py --limit 5000  # a quicker smoke run on 5,000 images
    python bench/memory.py --model strong --json memory.json

The measured command is ``python -m cnnviz train --epochs 1 --batch-size 32 --quiet``.
Each command runs in a fresh process, started by a small fresh Python wrapper that waits for
it and then reads ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak resident set
size (RSS) of that one child, in KiB on Linux. The interpreter with cnnviz imported is measured
the same way, as a baseline. Issue 3's target: <= 400 MB for the full-MNIST epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import common as C

TARGET_MB = 400

WRAPPER = r"""
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=sys.stderr)
seconds = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": proc.returncode, "maxrss_kib": ru.ru_maxrss, "seconds": seconds,
                  "user_seconds": ru.ru_utime, "system_seconds": ru.ru_stime}))
"""


def peak_rss(cmd: list[str]) -> dict:
    """Run ``cmd`` as the only child of a fresh wrapper process; its peak RSS and times."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(C.ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd],
        cwd=C.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"The wrapper failed:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["output_tail"] = proc.stderr.strip().splitlines()[-3:]
    result["peak_rss_mb"] = result["maxrss_kib"] * 1024 / 1e6
    result["peak_rss_mib"] = result["maxrss_kib"] / 1024
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["tutorial", "strong"], default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)

    print(C.machine_line())
    train = ["-m", "cnnviz", "train", "--epochs", str(args.epochs)]
    train += ["--batch-size", str(args.batch_size), "--quiet"]
    if args.model:
        train += ["--model", args.model]
    if args.limit:
        train += ["--limit", str(args.limit)]
    runs = [
        ("Python + import cnnviz.nn, cnnviz.data", ["-c", "import cnnviz.nn, cnnviz.data.mnist"]),
        (
            "Python + cnnviz + MNIST loaded",
            ["-c", "from cnnviz.data import mnist; mnist.load_data_shared()"],
        ),
        ("python " + " ".join(train), train),
    ]
    rows, results = [], []
    for label, cmd in runs:
        print(f"running: python {' '.join(cmd)}", file=sys.stderr, flush=True)
        r = peak_rss([sys.executable, *cmd])
        ok = "ok" if r["returncode"] == 0 else f"exit {r['returncode']}"
        rows.append([label, r["peak_rss_mb"], r["peak_rss_mib"], r["seconds"], ok])
        results.append({"label": label, "command": ["python", *cmd], **r})
    print(
        f"\nPeak resident memory (ru_maxrss of a fresh process); issue 3 target for the "
        f"training run: <= {TARGET_MB} MB.\n"
    )
    print(C.markdown_table(["process", "peak RSS (MB)", "(MiB)", "wall s", "status"], rows))
    last = results[-1]
    if last["output_tail"]:
        print("\nTraining run's last output: " + " / ".join(last["output_tail"]))
    full = not args.limit
    verdict = "met" if last["peak_rss_mb"] <= TARGET_MB else "NOT met"
    print(
        f"\nIssue 3 target, peak RSS <= {TARGET_MB} MB"
        + (" (full-MNIST epoch)" if full else f" (only {args.limit} images: not the target's run)")
        + f": {last['peak_rss_mb']:.0f} MB ({verdict})"
    )
    payload = {
        "benchmark": "memory",
        "command": C.command_line("memory.py", argv),
        "settings": vars(args),
        "results": results,
        "target_mb": TARGET_MB,
    }
    C.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
