"""A hall submitting into one class room at once: rows kept, time, and each submit's latency.

    python bench/class_store.py                                   # 20 x 50 on SQLite and PostgreSQL
    python bench/class_store.py --processes 60 --each 20 --backends sqlite
    python bench/class_store.py --url postgresql://user@host/db   # an existing database

N processes (multiprocessing, spawn; one per student phone's replica thread, the worst case)
wait at a barrier, then each submits M drawings to one room, each carrying (process, number)
in its first two pixels. Then every row is read back: "lost" and "twice" count the (process,
number) pairs missing or repeated. PostgreSQL, unless --url is given, is a throwaway server
started like the tests start it (tests/postgres.py: initdb + pg_ctl in a temporary folder).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ (not the root) on sys.path
    sys.path.insert(0, str(ROOT))

from cnnviz.classroom import open_store  # noqa: E402


def student(url: str, code: str, p: int, each: int, barrier, latencies) -> None:
    store = open_store(url)
    barrier.wait()
    mine = []
    for i in range(each):
        image = np.zeros((28, 28), np.uint8)
        image[0, 0], image[0, 1] = p, i
        t = time.perf_counter()
        store.submit(code, image, i % 10)
        mine.append(time.perf_counter() - t)
    latencies.put(mine)


def run(url: str, processes: int, each: int) -> dict:
    store = open_store(url)
    room = store.create_room()
    ctx = multiprocessing.get_context("spawn")
    barrier, latencies = ctx.Barrier(processes + 1), ctx.Queue()
    procs = [ctx.Process(target=student, args=(url, room.code, p, each, barrier, latencies))
             for p in range(processes)]  # fmt: skip
    for proc in procs:
        proc.start()
    barrier.wait(timeout=300)
    start = time.perf_counter()
    times = [t for _ in procs for t in latencies.get(timeout=600)]
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.join()
    got = store.submissions(room.code)
    pairs = [(int(s.image[0, 0]), int(s.image[0, 1])) for s in got]
    wanted = {(p, i) for p in range(processes) for i in range(each)}
    return {
        "backend": store.backend,
        "rows": len(got),
        "lost": len(wanted - set(pairs)),
        "twice": len(pairs) - len(set(pairs)),
        "seconds": seconds,
        "p50": np.percentile(times, 50) * 1000,
        "p95": np.percentile(times, 95) * 1000,
        "max": max(times) * 1000,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--url", help="use this database instead (SQLite path or postgresql://)")
    args = parser.parse_args(argv)

    print(f"{args.processes} processes x {args.each} drawings into one room\n")
    print("| database | rows | lost | twice | seconds | drawings/s | submit p50 / p95 / max (ms) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with contextlib.ExitStack() as stack:
        urls = [args.url] if args.url else []
        if not args.url and "sqlite" in args.backends:
            urls.append(str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "b.db"))
        if not args.url and "postgresql" in args.backends:
            from tests.postgres import postgres_server

            urls.append(stack.enter_context(postgres_server()).database())
        for url in urls:
            r = run(url, args.processes, args.each)
            print(f"| {r['backend']} | {r['rows']} | {r['lost']} | {r['twice']} "
                  f"| {r['seconds']:.2f} | {r['rows'] / r['seconds']:.0f} "
                  f"| {r['p50']:.1f} / {r['p95']:.1f} / {r['max']:.0f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
