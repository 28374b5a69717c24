"""End to end on the Convolution page (Debian's Chromium via Playwright, ``streamlit run app.py``):
choose the tutorial's 4x4 example and the vertical Sobel filter, step to output (0, 0) and see the
tutorial's 29, press Next and see -192. Screenshots land in test-artifacts/."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def settle(page, extra_ms: int = 600, timeout_s: float = 60) -> None:
    """Wait until Streamlit has finished running the script (its status widget is gone)."""
    page.wait_for_timeout(400)
    waited = 0.0
    while page.locator('[data-testid="stStatusWidget"]').count() and waited < timeout_s:
        page.wait_for_timeout(250)
        waited += 0.25
    page.wait_for_timeout(extra_ms)


def sum_metric(page):
    """(label, value) of the "Sum = output (r, c)" metric, waiting for it to appear."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Sum = output").first
    metric.wait_for(timeout=60_000)
    label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
    value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return label, value


def no_exception(page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()[:500]


def test_convolution_steps_the_tutorial_example_29_then_minus_192(app_server, page, artifacts):
    page.goto(f"{app_server}/convolution")
    settle(page)
    no_exception(page)

    page.get_by_text("Tutorial 4×4 example", exact=True).click()
    settle(page)
    page.get_by_role("combobox").first.click()  # the Filter select box
    page.get_by_role("option", name="Vertical Sobel", exact=True).click()
    settle(page)

    for _ in range(4):  # step until the output position is (0, 0)
        if sum_metric(page)[0] == "Sum = output (0, 0)":
            break
        page.get_by_role("button", name="Next ▶").click()
        settle(page)
    assert sum_metric(page) == ("Sum = output (0, 0)", "29")
    page.screenshot(path=str(artifacts / "convolution-29.png"))

    page.get_by_role("button", name="Next ▶").click()
    settle(page)
    assert sum_metric(page) == ("Sum = output (0, 1)", "-192")
    no_exception(page)
    page.screenshot(path=str(artifacts / "convolution-minus-192.png"))


def test_clicking_an_output_cell_explains_it(app_server, page, artifacts):
    page.goto(f"{app_server}/convolution")
    settle(page)
    assert sum_metric(page) == ("Sum = output (0, 0)", "29")  # the tutorial example by default
    output = page.locator('[data-testid="stPlotlyChart"]').nth(3)  # input, filter, padded, output
    output.scroll_into_view_if_needed()
    expected = ("Sum = output (1, 1)", "-22")
    for attempt in range(5):  # on a busy machine the chart may not take the first click yet
        page.wait_for_timeout(500 + 500 * attempt)
        area = output.locator(".nsewdrag").first.bounding_box()
        x, y = area["x"] + 0.75 * area["width"], area["y"] + 0.75 * area["height"]
        page.mouse.move(x, y)  # hover first: Plotly tracks the cell under the pointer
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        for _ in range(20):
            settle(page)
            if sum_metric(page) == expected:
                break
        if sum_metric(page) == expected:
            break
    # Output (1, 1) of the vertical Sobel on the tutorial image: [[80, 31, 2], [90, 0, 75],
    # [9, 0, 95]] weighted by [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] = -78 - 30 + 86 = -22.
    assert sum_metric(page) == expected
    no_exception(page)
    page.screenshot(path=str(artifacts / "convolution-click.png"))
