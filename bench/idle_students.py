"""What a hall of students who are not touching their phones costs, on the Class page.

    python bench/idle_students.py                          # this checkout, 8 phones, 60 s
    python bench/idle_students.py --app-dir /tmp/before --app-dir . --students 8 --seconds 60

For each ``--app-dir`` in turn the app is started (``streamlit run app.py`` from that checkout,
a class store of its own), a room is opened, and ``--students`` phones (Chromium contexts of
390 x 844, Debian's /usr/bin/chromium through Playwright) open the room's student view and
then sit still for ``--seconds``. Over that time the server's and the browsers' CPU seconds
(from /proc) and the bytes the phones received over Streamlit's websocket are counted; the table
gives them per student and minute, and what 100 such students would cost the server (a share
of one core). Since session 7 a student's page looks every 5 s whether the lecturer changed the
prompt, the network or closed the class (``cnnviz.ui.classroom.watch``): this is its price.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.browser_cost import chromium_pids, cpu_seconds  # noqa: E402
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402


def server_pid(port: int) -> int:
    """The process running ``streamlit run app.py`` on ``port``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in argv and str(port).encode() in argv:
                return int(entry.name)
    raise SystemExit(f"no streamlit server on port {port}")


def one_run(app_dir: Path, students: int, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    from cnnviz.classroom import open_store

    database = os.path.join(tempfile.mkdtemp(prefix="cnnviz-idle-"), "class.sqlite3")
    os.environ["CNNVIZ_CLASSROOM_DB"] = database
    room = open_store(database).create_room(prompt=7, base_model="strong")
    with serve_app(app_dir=app_dir) as url, sync_playwright() as p:
        server = server_pid(int(url.rsplit(":", 1)[1]))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        received = [0]
        pages = []

        def count(payload) -> None:
            received[0] += len(payload)

        for _ in range(students):
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.on("websocket", lambda ws: ws.on("framereceived", count))
            pages.append(page)
        for page in pages:
            page.goto(f"{url}/class?room={room.code}&lang=en")
        for page in pages:
            page.get_by_text("Draw a 7").first.wait_for(timeout=120_000)
        pages[0].wait_for_timeout(5000)  # the first runs' tail (the phones report their width)
        pids = chromium_pids()
        server0, browser0, bytes0 = cpu_seconds(server), sum(map(cpu_seconds, pids)), received[0]
        pages[0].wait_for_timeout(seconds * 1000)  # (Playwright's events keep coming in)
        server1, browser1, bytes1 = cpu_seconds(server), sum(map(cpu_seconds, pids)), received[0]
        browser.close()
    per = students * seconds / 60  # student-minutes
    return dict(
        server=(server1 - server0) / per,
        browser=(browser1 - browser0) / per,
        kb=(bytes1 - bytes0) / 1024 / per,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", action="append", type=Path, help="a checkout (repeatable)")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    rows = []
    for app_dir in [d.resolve() for d in (args.app_dir or [ROOT])]:
        load = os.getloadavg()[0]
        run = one_run(app_dir, args.students, args.seconds)
        rows.append((app_dir, run, load))
        print(f"{app_dir}: {run} (load {load:.1f})", flush=True)
    print()
    print(
        "| checkout | server CPU s / student-minute | browser CPU s / student-minute "
        "| KB / student-minute | 100 idle students: server |"
    )
    print("|---|---:|---:|---:|---:|")
    for app_dir, run, _load in rows:
        share = run["server"] * 100 / 60  # CPU s per second for 100 students
        print(
            f"| {app_dir} | {run['server']:.3f} | {run['browser']:.3f} | {run['kb']:.1f} "
            f"| {share:.0%} of a core |"
        )


if __name__ == "__main__":
    main()
