"""Where cnnviz's training time goes: a pyinstrument profile of batch-1 and batch-32 fits.

    python bench/profile_hot_paths.py                         # tutorial network, batch 1 and 32
    python bench/profile_hot_paths.py --model strong --batch-sizes 32 --samples 2000
    python bench/profile_hot_paths.py --tree                  # also pyinstrument's call tree

For each batch size the script trains one epoch over the first ``--samples`` MNIST images
(``model.fit(x, y, batch_size, epochs=1, verbose=0)``, float32 x / 255 - 0.5) under
pyinstrument's statistical profiler, after an unprofiled warm-up, and prints the functions with
the most SELF time (time in the function's own lines, including the NumPy/BLAS calls made
from them, which pyinstrument cannot see into) and their cumulative time. Profiling slows the
run down; the samples/s printed here are for orientation only (see train_speed.py).
"""

from __future__ import annotations

import argparse
import sys
import time

import common as C

AUTO_SAMPLES = {"tutorial": {1: 3000, 32: 16000}, "strong": {1: 300, 32: 2000}}


def flatten(frame, self_times: dict, cum_times: dict, path: frozenset = frozenset()) -> None:
    """Add self and cumulative time per function over pyinstrument's raw frame tree (a
    function already on the path, i.e. recursion, is counted once for cumulative time)."""
    if frame is None:
        return
    key = _key(frame)
    if not frame.is_synthetic:
        self_times[key] = self_times.get(key, 0.0) + frame.total_self_time
        if key not in path:
            cum_times[key] = cum_times.get(key, 0.0) + frame.time
            path = path | {key}
    for child in frame.children:
        flatten(child, self_times, cum_times, path)


def _key(frame) -> str:
    where = frame.file_path_short or frame.file_path or "?"
    cls = f"{frame.class_name}." if getattr(frame, "class_name", None) else ""
    return f"{cls}{frame.function} ({where}:{frame.line_no})"


def profile_fit(args, batch: int, n: int):
    from pyinstrument import Profiler

    _, x, y = C.load_mnist(n)
    net = C.build_cnnviz(args.model, seed=args.seed)
    net.fit(x[: 8 * batch], y[: 8 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
    prof = Profiler(interval=args.interval)
    prof.start()
    t0 = time.perf_counter()
    net.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True, seed=args.seed)
    seconds = time.perf_counter() - t0
    prof.stop()
    return prof, seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["tutorial", "strong"], default="tutorial")
    p.add_argument("--batch-sizes", type=C.int_list, default=[1, 32])
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="images in the profiled epoch (default tutorial 3000 / 16000, strong 300 / 2000)",
    )
    p.add_argument("--top", type=int, default=15, help="functions listed per profile")
    p.add_argument("--interval", type=float, default=0.0005, help="sampling interval (s)")
    p.add_argument("--tree", action="store_true", help="also print pyinstrument's call tree")
    p.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit NumPy's BLAS to this many threads (threadpoolctl); default: as configured",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    if not C.have("pyinstrument"):
        raise SystemExit("pyinstrument is not installed: pip install -r requirements-bench.txt")

    print(C.machine_line())
    results = []
    for batch in args.batch_sizes:
        default = AUTO_SAMPLES[args.model]
        n = args.samples or default.get(batch, default[1 if batch < 8 else 32])
        print(f"profiling batch {batch} over {n} images", file=sys.stderr, flush=True)
        with C.blas_limit(args.blas_threads):
            prof, seconds = profile_fit(args, batch, n)
        root = prof.last_session.root_frame()
        self_t, cum_t = {}, {}
        flatten(root, self_t, cum_t)
        total = root.time if root is not None else 0.0
        top = [kv for kv in sorted(self_t.items(), key=lambda kv: -kv[1]) if kv[1] > 0]
        pct = 100 / total if total else 0.0
        rows = [
            [name, 1e3 * t, pct * t, 1e3 * cum_t.get(name, 0.0), pct * cum_t.get(name, 0.0)]
            for name, t in top[: args.top]
        ]
        print(
            f"\n### {args.model} network, batch {batch}, BLAS threads "
            f"{args.blas_threads or 'as configured'}: {n} images in {seconds:.2f} s under the "
            f"profiler ({n / seconds:,.0f} samples/s; {1e6 * seconds / n:.0f} us per image)\n"
        )
        headers = ["function (file:line)", "self ms", "self %", "cum. ms", "cum. %"]
        print(C.markdown_table(headers, rows))
        tree = prof.output_text(unicode=False, color=False, show_all=False)
        if args.tree:
            print("\n```text\n" + tree.strip() + "\n```")
        results.append(
            {
                "model": args.model,
                "batch": batch,
                "samples": n,
                "seconds": seconds,
                "samples_per_second_profiled": n / seconds,
                "profiled_total_seconds": total,
                "top_self": [{"function": r[0], "self_ms": r[1], "cum_ms": r[3]} for r in rows],
                "tree": tree,
            }
        )
    payload = {
        "benchmark": "profile_hot_paths",
        "command": C.command_line("profile_hot_paths.py", argv),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "results": results,
    }
    C.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
