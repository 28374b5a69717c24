"""Take the README's screenshots: every page of the app in use, 1280 px wide, and three screens
of a 390 px phone side by side (11-phone.png).

    python scripts/screenshots.py [--out docs/screenshots] [--lang vi]

Starts ``streamlit run app.py`` on a free port, drives Debian's Chromium with Playwright (no
browser download), draws a digit, picks MNIST digits, runs the quick training demo, and saves
one PNG per page. Needs ``apt-get install chromium`` and ``pip install playwright``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cnnviz import i18n  # noqa: E402
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402


def settle(page, extra_ms: int = 800) -> None:
    page.wait_for_timeout(600)
    for _ in range(120):
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(extra_ms)


def shoot(page, path: Path, height: int) -> None:
    page.evaluate(
        "for (const e of document.querySelectorAll('*')) if (e.scrollTop) e.scrollTop = 0"
    )
    page.set_viewport_size({"width": 1280, "height": height})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 800})
    print(path)


def go(page, title: str) -> None:
    page.get_by_role("link", name=title).first.click()
    settle(page)


def class_room(database: str, drawings: int = 60) -> tuple[str, str]:
    """A class with ``drawings`` digits in a hall's handwriting (cnnviz.classroom.handwriting,
    MNIST digits written thick and tilted): (code, host key)."""
    from cnnviz.classroom import open_store
    from cnnviz.classroom.handwriting import hall_digits

    store = open_store(database)
    room = store.create_room(prompt=None, base_model="strong")
    for image, label in zip(*hall_digits(drawings, seed=1), strict=True):
        store.submit(room.code, image, int(label))
    return room.code, room.host_token


def draw_seven(page, scale: float = 1.0) -> None:
    """A 7 drawn with the mouse on the page's drawing canvas (smaller with ``scale`` < 1)."""
    box = page.locator("canvas").first.bounding_box()
    points = [(70, 60), (200, 55), (205, 65), (120, 240)]
    (x, y), *rest = [(box["x"] + scale * x, box["y"] + scale * y) for x, y in points]
    page.mouse.move(x, y)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


def end_at_last_chart(page) -> None:
    """Scroll so the page's last chart ends at the bottom of the screen."""
    page.locator('[data-testid="stPlotlyChart"]').last.evaluate(
        "e => e.scrollIntoView({block: 'end'})"
    )
    page.wait_for_timeout(800)


def phone_views(browser, url: str, lang: str, code: str, path: Path) -> None:
    """Three screens of a 390 x 844 phone side by side in one PNG: the class's student view
    with a digit drawn, Draw & predict's feature maps, the Convolution page's bank of filters."""
    from PIL import Image

    t = i18n._
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    shots = []
    try:
        page.goto(f"{url}/class?room={code}&lang={lang}")
        settle(page, 2500)
        draw_seven(page, scale=0.85)
        settle(page, 2000)
        shots.append(page.screenshot())

        page.goto(f"{url}/draw_predict?lang={lang}")
        settle(page, 1500)
        page.get_by_role("button", name=t("Random MNIST test digit")).first.click()
        settle(page, 2500)
        end_at_last_chart(page)
        shots.append(page.screenshot())

        page.goto(f"{url}/convolution?lang={lang}")
        settle(page, 2500)
        end_at_last_chart(page)
        shots.append(page.screenshot())
    finally:
        context.close()
    images = [Image.open(io.BytesIO(shot)).convert("RGB") for shot in shots]
    gap = 24
    sheet = Image.new("RGB", (3 * 390 + 2 * gap, 844), "#d0d4da")
    for i, image in enumerate(images):
        sheet.paste(image, (i * (390 + gap), 0))
    sheet.save(path)
    print(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--lang", choices=list(i18n.LANGUAGES), default="en")
    ap.add_argument("--only", choices=["all", "class"], default="all")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    i18n.set_language(args.lang)  # the labels to click, in the page's language
    t = i18n._
    suffix = "" if args.lang == "en" else f"-{args.lang}"
    folder = tempfile.mkdtemp(prefix="cnnviz-screenshots-")
    os.environ["CNNVIZ_CLASSROOM_DB"] = database = os.path.join(folder, "class.sqlite3")
    # Listening on the local network, as a lecturer serves the hall: the Class page's join link
    # and QR code carry this computer's address, not a warning that phones cannot reach it.
    with serve_app(address="0.0.0.0") as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # The Class page's projector view: the join code, its QR code and a class's digits.
            code, key = class_room(database)
            page.goto(f"{url}/class?room={code}&host={key}&lang={args.lang}")
            settle(page, 3000)
            shoot(page, args.out / f"10-class{suffix}.png", 1450)
            phone_views(browser, url, args.lang, code, args.out / f"11-phone{suffix}.png")
            if args.only == "class":
                return
            page.goto(f"{url}/?lang={args.lang}")
            settle(page, 1500)
            shoot(page, args.out / f"0-overview{suffix}.png", 1500)

            go(page, t("Draw & predict"))
            page.wait_for_timeout(2500)  # the canvas component loads after the page
            draw_seven(page)
            settle(page, 1500)
            shoot(page, args.out / f"1-draw-predict{suffix}.png", 1450)

            go(page, t("Convolution"))
            page.get_by_text(t("Tutorial 4×4 example")).first.click()
            settle(page)
            page.get_by_role("button", name=t("Next ▶")).first.click()
            settle(page)
            shoot(page, args.out / f"2-convolution{suffix}.png", 1750)

            go(page, t("Pooling"))
            shoot(page, args.out / f"3-pooling{suffix}.png", 1500)

            go(page, t("Softmax & backprop"))
            shoot(page, args.out / f"4-softmax-backprop{suffix}.png", 1900)

            go(page, t("Train live"))
            page.get_by_role("button", name=t("Start")).first.click()
            page.wait_for_timeout(3000)
            for _ in range(120):
                if page.get_by_text(t("Training finished")).count():
                    break
                page.wait_for_timeout(500)
            settle(page, 1500)
            shoot(page, args.out / f"5-train-live{suffix}.png", 2300)

            go(page, t("Why convolution"))
            shoot(page, args.out / f"6-why-convolution{suffix}.png", 1700)

            go(page, t("Tutorial"))
            shoot(page, args.out / f"7-tutorial{suffix}.png", 1800)

            # A lecture: the tutorial's -192 in presenter view, then the Join / share dialog.
            page.goto(
                f"{url}/convolution?input=tutorial&filter=vertical-sobel&pos=0,1"
                f"&present=1&lang={args.lang}"
            )
            settle(page, 1500)
            shoot(page, args.out / f"8-presenter{suffix}.png", 1300)
            page.goto(f"{url}/convolution?input=tutorial&filter=vertical-sobel&lang={args.lang}")
            settle(page, 1500)
            page.get_by_role("button", name=t("Join / share")).first.click()
            settle(page, 1500)
            page.screenshot(path=str(args.out / f"9-join-share{suffix}.png"))
            print(args.out / f"9-join-share{suffix}.png")
            browser.close()


if __name__ == "__main__":
    main()
