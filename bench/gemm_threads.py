"""BLAS thread policies for the stronger network's training, alternated in one process.

    python bench/gemm_threads.py                  # 4 rounds, batch 32, 1,600 images per run
    python bench/gemm_threads.py --rounds 6 --batch 16

Three policies, each a ``model.fit`` epoch per round, in turn (1, wide, everywhere, 1, ...):
1 BLAS thread (as shipped); 2 threads only for wide matrix products (``CNNVIZ_GEMM_THREADS=2``:
conv2's three GEMMs); 2 threads everywhere (``CNNVIZ_BLAS_THREADS=2``). Prints median, min
and max samples/s and the cores used (CPU time / wall time), with the load average. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import common as C

POLICIES = {"1 thread (as shipped)": (1, 1), "2 for wide GEMMs": (1, 2), "2 everywhere": (2, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--samples", type=int, default=1600)
    args = ap.parse_args(argv)
    from cnnviz.nn import threads

    print(C.machine_line())
    _, x, y = C.load_mnist(args.samples)
    net = C.build_cnnviz("strong")
    net.fit(x[: 10 * args.batch], y[: 10 * args.batch], batch_size=args.batch, verbose=0)
    rates = {k: [] for k in POLICIES}
    cores = {k: [] for k in POLICIES}
    load0 = os.getloadavg()[0]
    try:
        for _ in range(args.rounds):
            for key, (blas, gemm) in POLICIES.items():
                threads.set_blas_threads(blas)
                threads.set_gemm_threads(gemm)
                t, cpu = time.perf_counter(), time.process_time()
                net.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)
                wall = time.perf_counter() - t
                rates[key].append(len(x) / wall)
                cores[key].append((time.process_time() - cpu) / wall)
    finally:
        threads.set_blas_threads(int(os.environ.get("CNNVIZ_BLAS_THREADS", "1")))
        threads.set_gemm_threads(int(os.environ.get("CNNVIZ_GEMM_THREADS", "1")))
    print(f"\nstrong network, batch {args.batch}, {args.rounds} rounds; load average "
          f"{load0:.2f} -> {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    rows = [
        [k, f"{statistics.median(v):,.0f}", f"{min(v):,.0f}", f"{max(v):,.0f}",
         f"{statistics.median(cores[k]):.2f}"]
        for k, v in rates.items()
    ]  # fmt: skip
    print(C.markdown_table(["BLAS policy", "median samples/s", "min", "max", "cores"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
