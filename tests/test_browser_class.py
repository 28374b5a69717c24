"""End to end: class mode (issue 16) in Debian's Chromium, one lecturer and three students, each
in a browser context of their own, against one ``streamlit run app.py`` with a class store of
the test's own (``CNNVIZ_CLASSROOM_DB``).

* The lecturer's address bar, on the projector, holds the room's code but not its host key.
* Three students draw a 7 with the mouse and press Send one right after the other; the
  lecturer's gallery shows all three (its tiles' labels are counted in the figure).
* With 200 drawings already in the room (put in through the store), a new drawing sent by a
  student is counted on the lecturer's screen within 2 s of pressing Send (the issue's target),
  three times.
* The lecturer presses "Learn the class's handwriting"; the before/after accuracies on the held
  out drawings and on MNIST's test set appear, and the room uses the fine-tuned network.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from cnnviz.classroom import open_store
from cnnviz.classroom.handwriting import hall_digits
from scripts.app_server import serve_app
from tests.test_browser import assert_no_exception, metric_value, settle
from tests.test_browser_canvas import DIGITS, canvas_box, densify, mouse_stroke, to_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEP_MS = 90_000  # generous: two shared cores, other test sessions running
TARGET_S = 2.0  # the issue's: a new drawing on the projector within 2 s of Send


@pytest.fixture(scope="module")
def class_app(tmp_path_factory):
    """(the app's URL, its class store): a server of this module's own, on its own database."""
    folder = tmp_path_factory.mktemp("class")
    database = str(folder / "class.sqlite3")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNVIZ_CLASSROOM_DB", database)
        with open(folder / "server.log", "w") as log:
            try:
                with serve_app(log) as url:
                    yield url, open_store(database)
            except RuntimeError as exc:
                pytest.fail(f"{exc}:\n{(folder / 'server.log').read_text()[-3000:]}")


def new_tab(browser, width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height})
    return context, context.new_page()


def open_view(page, url: str) -> None:
    page.goto(url)
    settle(page)
    assert_no_exception(page, url)


def draw_seven(page) -> None:
    """A 7 drawn with the mouse on the class canvas, then wait for the network's reading."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=STEP_MS)
    canvas.scroll_into_view_if_needed()
    box = canvas_box(page)
    mouse_stroke(page, to_page(box, densify(DIGITS[7])))
    settle(page)
    assert metric_value(page, "The network reads") == "7"


def count_on_screen(page) -> int:
    """The host view's "Drawings" number."""
    return int(metric_value(page, "Drawings").replace(",", ""))


def gallery_labels(page) -> int:
    """How many tiles the gallery figure labels (one text per drawing, "meant→read")."""
    gallery = page.locator(".js-plotly-plot").filter(has=page.locator("image"))
    return gallery.first.locator("g.textpoint").count()


def wait_for_count(page, count: int, timeout_ms: int) -> None:
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.startsWith('Drawings') &&
                       m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === n)""",
        arg=str(count),
        timeout=timeout_ms,
        polling=50,
    )


def test_three_students_and_the_lecturer(class_app, browser, artifacts):
    url, store = class_app
    room = store.create_room(prompt=7, base_model="strong")
    host_context, host = new_tab(browser)
    open_view(host, f"{url}/class?room={room.code}&host={room.host_token}")
    host.get_by_text(room.code, exact=True).first.wait_for(timeout=STEP_MS)
    # The projector's address bar keeps the room, not the host key (the session holds it).
    assert f"room={room.code}" in host.url and room.host_token not in host.url
    students = [new_tab(browser) for _ in range(3)]
    try:
        for _context, page in students:
            open_view(page, f"{url}/class?room={room.code}")
            assert page.get_by_text("Draw a 7").count() >= 1
            assert page.get_by_text(room.host_token).count() == 0
            draw_seven(page)
        for _context, page in students:  # all three press Send, one right after the other
            page.get_by_role("button", name="Send").click()
        for _context, page in students:
            page.get_by_text("Sent!").first.wait_for(timeout=STEP_MS)
            assert_no_exception(page, "after Send")
        assert store.count(room.code) == 3
        assert sorted(s.label for s in store.submissions(room.code)) == [7, 7, 7]
        wait_for_count(host, 3, STEP_MS)
        settle(host)
        assert gallery_labels(host) == 3
        host.screenshot(path=str(artifacts / "class-host-three.png"), full_page=True)
        assert_no_exception(host, "the host view")
    finally:
        for context, _page in students:
            context.close()
        host_context.close()


def test_a_new_drawing_reaches_the_projector_within_2_s_with_200_in_the_room(
    class_app, browser, artifacts
):
    url, store = class_app
    room = store.create_room(prompt=7, base_model="strong")
    images, labels = hall_digits(200, seed=3)
    for image, label in zip(images, labels, strict=True):
        store.submit(room.code, image, int(label))
    host_context, host = new_tab(browser)
    open_view(host, f"{url}/class?room={room.code}&host={room.host_token}")
    wait_for_count(host, 200, STEP_MS)
    settle(host, extra_ms=2000)
    assert gallery_labels(host) == 200
    students = [new_tab(browser, width=390, height=844) for _ in range(3)]
    took = []
    try:
        for _context, page in students:
            open_view(page, f"{url}/class?room={room.code}")
            draw_seven(page)
        for n, (_context, page) in enumerate(students, start=201):
            send = page.get_by_role("button", name="Send")
            send.scroll_into_view_if_needed()
            start = time.perf_counter()
            send.click()
            wait_for_count(host, n, STEP_MS)
            took.append(time.perf_counter() - start)
            settle(host, extra_ms=500)
        print(f"\nSend -> counted on the projector, 200 in the room: {np.round(took, 2)} s")
        assert max(took) <= TARGET_S, took
        assert gallery_labels(host) == 203
        host.screenshot(path=str(artifacts / "class-host-203.png"), full_page=True)
        assert_no_exception(host, "the host view with 203 drawings")

        # The lecturer lets the network learn the class's handwriting.
        host.get_by_role("button", name="Learn the class's handwriting").click()
        held = metric_value(host, "Held-out class drawings", timeout_ms=180_000)
        mnist = metric_value(host, "MNIST test set")
        assert held.endswith("%") and mnist.endswith("%")
        assert host.get_by_text("before ").count() >= 2  # "before x% → after y%", twice
        (saved,) = store.models(room.code)
        assert held == f"{saved.metrics['held_after']:.1%}"
        assert store.room(room.code).model == saved.model
        settle(host, extra_ms=1500)
        assert metric_value(host, "Model").startswith("Fine-tuned on this class")
        host.screenshot(path=str(artifacts / "class-host-finetuned.png"), full_page=True)
        assert_no_exception(host, "after fine-tuning")
        for _context, page in students:  # untouched, the phones now read with it too
            page.get_by_text("Model: Fine-tuned on this class").first.wait_for(timeout=30_000)
    finally:
        for context, _page in students:
            context.close()
        host_context.close()


def test_a_phone_nobody_touches_follows_the_lecturer(class_app, browser, artifacts):
    """The lecturer changes what to draw, then closes the class: a student's phone shows each
    within a few seconds without being touched (its page looks every 5 s), and the digit
    picker follows the new prompt."""
    from cnnviz.classroom.checks import CLOSED

    url, store = class_app
    room = store.create_room(prompt=7, base_model="strong")
    context, page = new_tab(browser, width=390, height=844)
    try:
        open_view(page, f"{url}/class?room={room.code}")
        page.get_by_text("Draw a 7").first.wait_for(timeout=STEP_MS)
        picked = page.locator(
            ".st-key-class_digit [aria-checked='true'], .st-key-class_digit [aria-pressed='true']"
        )
        assert picked.first.inner_text().strip() == "7"

        changed = time.perf_counter()
        store.set_prompt(room.code, room.host_token, 3)
        page.get_by_text("Draw a 3").first.wait_for(timeout=30_000)
        print(
            f"\nprompt changed -> on the untouched phone in {time.perf_counter() - changed:.1f} s"
        )
        settle(page)
        assert picked.first.inner_text().strip() == "3"
        assert_no_exception(page, "after the prompt changed")

        store.close(room.code, room.host_token)
        page.get_by_text(CLOSED).first.wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts / "class-student-closed.png"), full_page=True)
        assert_no_exception(page, "after the class closed")
    finally:
        context.close()
