"""Every view is a link, in a real browser (Debian's Chromium via Playwright, ``streamlit run
app.py``): what one browser chose opens the same in another, fresh browser (a new context: no
cookies, no session)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.test_browser import assert_no_exception, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def fresh_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    return context, context.new_page()


def state_of(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


def settled_url(page) -> str:
    """The address once the app has written the view into it (it does so after each run):
    the language is in it and it has not changed for 1.5 s."""
    settle(page)
    url, still = page.url, 0
    for _ in range(120):
        page.wait_for_timeout(250)
        still = still + 1 if page.url == url and "lang=" in url else 0
        url = page.url
        if still >= 6:
            break
    return url


def checked_radio(page, label: str) -> str:
    group = page.locator('[data-testid="stRadio"]').filter(has_text=label).first
    return group.locator("label:has(input:checked)").inner_text().strip()


def selectbox_value(page, label: str) -> str:
    return page.get_by_role("combobox", name=label).first.input_value().strip()


def test_a_convolution_view_opens_the_same_in_a_fresh_browser(app_server, page, browser):
    # The target: choose an MNIST digit, the Horizontal Sobel filter, same padding.
    page.goto(f"{app_server}/convolution")
    settle(page)
    page.get_by_text("MNIST digit", exact=True).click()
    page.wait_for_url(re.compile(r"input=mnist"), timeout=60_000)
    settle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Filter").first.click()
    page.get_by_role("option", name="Horizontal Sobel", exact=True).click()
    page.wait_for_url(re.compile(r"filter=horizontal-sobel"), timeout=60_000)
    settle(page)
    page.get_by_text("same", exact=True).first.click()
    page.wait_for_url(re.compile(r"padding=same"), timeout=60_000)
    url = settled_url(page)
    path, params = state_of(url)
    assert path == "/convolution"
    assert params["input"].startswith("mnist:") and params["filter"] == "horizontal-sobel"
    assert params["padding"] == "same"

    context, other = fresh_page(browser)
    try:
        other.goto(url)
        settle(other)
        assert_no_exception(other, "the link in a fresh browser")
        assert checked_radio(other, "Input image") == "MNIST digit"
        assert selectbox_value(other, "Filter") == "Horizontal Sobel"
        assert checked_radio(other, "Padding") == "same"
        assert state_of(settled_url(other)) == (path, params)
    finally:
        context.close()


LINKS = [
    "/draw_predict?input=test:42&model=tutorial",
    "/convolution?input=tutorial&filter=vertical-sobel&pos=0,1",
    "/pooling?input=6x6&mode=average&size=3&pos=1,0",
    "/softmax_backprop?input=test:7&label=3&lr=0.5",
    "/train_live?preset=tutorial",
    "/why_convolution?h=64&w=64&c=3&f=16&k=5&dx=-2&dy=3",
]


@pytest.mark.parametrize("link", LINKS)
def test_every_page_round_trips_through_its_address(app_server, browser, link):
    """Open a link, take the address the app wrote, open it in a fresh browser: the same
    address comes back (the whole view), and the link's own values are kept."""
    context, first = fresh_page(browser)
    try:
        first.goto(app_server + link)
        written = settled_url(first)
        assert_no_exception(first, link)
    finally:
        context.close()
    path, params = state_of(written)
    asked_path, asked = state_of(app_server + link)
    assert path == asked_path
    assert asked.items() <= params.items(), (asked, params)

    context, second = fresh_page(browser)
    try:
        second.goto(written)
        again = settled_url(second)
        assert_no_exception(second, written)
        assert not second.get_by_text("could not be used").count()
    finally:
        context.close()
    assert state_of(again) == (path, params)


def test_the_tutorials_second_position_shows_minus_192(app_server, page):
    page.goto(f"{app_server}/convolution?input=tutorial&filter=vertical-sobel&pos=0,1")
    settle(page)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Sum = output").first
    metric.wait_for(timeout=60_000)
    assert "(0, 1)" in metric.inner_text() and "-192" in metric.inner_text()
