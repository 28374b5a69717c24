"""End to end in Chromium: the sidebar's Join / share shows a QR code that decodes (zxing-cpp, from
a screenshot) to the page on screen with its query, on a projector and on a phone; presenter view
starts with the sidebar collapsed, larger text, and stays on while moving between pages."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from cnnviz.share_link import SERVE_HALL, lan_address
from tests.test_browser import assert_no_exception, settle
from tests.test_browser_i18n import vi

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QR = ".st-key-share_qr img"
SIDEBAR = '[data-testid="stSidebar"]'
ROOT_FONT = "getComputedStyle(document.documentElement).fontSize"


def open_share(page):
    page.get_by_role("button", name="Join / share").click()
    page.locator(QR).wait_for(timeout=30_000)
    settle(page, extra_ms=300)


def decoded(page, zxingcpp) -> str:
    shot = Image.open(io.BytesIO(page.locator(QR).screenshot())).convert("L")
    found = zxingcpp.read_barcodes(shot)
    assert len(found) == 1, "no QR code read from the screenshot"
    return found[0].text


def test_join_share_shows_a_qr_code_of_this_page_with_its_query(
    app_server, page, artifacts, zxingcpp
):
    page.goto(f"{app_server}/convolution?lang=en")
    settle(page)
    open_share(page)
    page.screenshot(path=str(artifacts / "share-dialog-1280.png"))
    assert_no_exception(page, "the Join / share dialog")
    url = decoded(page, zxingcpp)
    parts, used = urlsplit(url), urlsplit(app_server)
    assert parts.path == "/convolution"
    assert parse_qs(parts.query)["lang"] == ["en"]
    assert parts.port == used.port
    assert parts.hostname in {used.hostname, lan_address()}
    dialog = page.locator('[data-testid="stDialog"]').inner_text()
    assert url in dialog  # the same address as text
    if parts.hostname == used.hostname:  # the test server listens on 127.0.0.1 only
        assert SERVE_HALL in dialog
    width = page.locator(QR).bounding_box()["width"]
    assert width >= 360, f"the QR code is {width:.0f} px wide on a 1280 projector"


def test_the_qr_code_fits_a_phone(app_server, browser, artifacts, zxingcpp):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(f"{app_server}/pooling?lang=vi")
        settle(page)
        sidebar_button = page.locator('[data-testid="stExpandSidebarButton"]')
        if sidebar_button.is_visible():
            sidebar_button.click()
            page.wait_for_timeout(500)
        page.get_by_role("button", name=vi("Join / share")).click()
        page.locator(QR).wait_for(timeout=30_000)
        settle(page, extra_ms=300)
        page.screenshot(path=str(artifacts / "share-dialog-390.png"))
        box = page.locator(QR).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        url = decoded(page, zxingcpp)
        assert urlsplit(url).path == "/pooling" and "lang=vi" in url
    finally:
        context.close()


def sidebar_width(page) -> float:
    box = page.locator(SIDEBAR).bounding_box()
    return box["width"] if box and box["x"] + box["width"] > 0 else 0.0


def test_presenter_view_collapses_the_sidebar_and_stays_on_across_pages(
    app_server, page, artifacts
):
    page.goto(f"{app_server}/?present=1")
    settle(page)
    assert sidebar_width(page) == 0
    assert page.evaluate(ROOT_FONT) == "22px"
    assert not page.locator('[data-testid="stToolbar"] [data-testid="stMainMenu"]').is_visible()
    page.screenshot(path=str(artifacts / "present-overview.png"))

    page.locator('[data-testid="stExpandSidebarButton"]').click()  # still reachable
    page.wait_for_timeout(500)
    page.locator('[data-testid="stSidebarNav"] a[href$="/pooling"]').click()
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == "Pooling"
    assert "present=1" in page.url and "/pooling" in page.url
    assert page.evaluate(ROOT_FONT) == "22px"

    page.get_by_role("button", name="Leave presenter view").click()
    settle(page)
    assert "present" not in page.url
    assert page.evaluate(ROOT_FONT) != "22px"


def test_without_it_the_sidebar_is_open_at_1280(app_server, page):
    page.goto(f"{app_server}/pooling")
    settle(page)
    assert sidebar_width(page) > 200
    assert "present" not in page.url
