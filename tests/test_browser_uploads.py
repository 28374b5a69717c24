"""End to end in Chromium: a phone photo (4000 x 3000 JPEG, 6-10 MB) goes through the real
uploader, is read and predicted right, and the page shows how it became the 28x28 input."""

from __future__ import annotations

import pytest

from cnnviz.data import mnist
from tests.drawings import phone_photo
from tests.test_browser import assert_no_exception, metric_value, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_phone_photo_is_uploaded_and_predicted_right(app_server, page, artifacts, tmp_path):
    _, (x_test, y_test) = mnist.load_data_shared()
    index = 15  # a "5" written on unevenly lit, grainy paper
    path = tmp_path / "IMG_20261204_101500.jpg"
    path.write_bytes(phone_photo(x_test[index]))
    assert 6e6 <= path.stat().st_size <= 10e6

    page.goto(f"{app_server}/draw_predict")
    settle(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(
        has_text="Upload a picture of a digit"
    )
    uploader.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_text(f"upload: {path.name}").first.wait_for(timeout=90_000)
    settle(page, extra_ms=1000)
    assert_no_exception(page, "after uploading a phone photo")
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert metric_value(page, "Prediction") == str(int(y_test[index]))
    recipe = page.get_by_text("How your picture became the 28x28 input").first
    recipe.click()
    page.get_by_text("1. Original").first.wait_for(timeout=30_000)
    assert page.get_by_text("(3000 × 4000 px)").count() >= 1
    page.screenshot(path=str(artifacts / "draw-predict-phone-photo.png"), full_page=True)
