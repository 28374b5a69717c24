"""End to end in Chromium: a Vietnamese browser gets Vietnamese without asking, every page in
Vietnamese is free of English sentences, ``?lang=`` wins over the browser, the choice survives
moving between pages, the switch works, a bad upload is refused in Vietnamese, and two sessions
on one server read two languages at once."""

from __future__ import annotations

import re

import pytest

from cnnviz import i18n
from cnnviz.ui.registry import PAGES
from tests.test_browser import assert_no_exception, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Common English function words: Vietnamese prose with English technical terms (filter,
# padding, softmax ...) has almost none of them.
FUNCTION_WORDS = set(
    "the and of to is are was with your you this that these for from by it its an on in into "
    "each what which how be as at or not than then when where has have will can".split()
)
VIETNAMESE_LETTERS = re.compile(
    "[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE
)
MAIN_TEXT = """() => {
    const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
    main.querySelectorAll('pre, code, [data-testid="stCode"]').forEach(e => e.remove());
    return main.innerText;
}"""


def vi(text: str) -> str:
    i18n.set_language("vi")
    try:
        return i18n._(text)
    finally:
        i18n.set_language("en")


def english_share(text: str) -> tuple[float, int]:
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(w in FUNCTION_WORDS for w in words) / max(len(words), 1), len(words)


@pytest.fixture
def vietnamese_browser(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    yield context
    context.close()


@pytest.mark.parametrize("page_info", PAGES, ids=lambda p: p.url_path)
def test_vietnamese_pages_have_no_english_sentences(app_server, page, artifacts, page_info):
    path = "" if page_info is PAGES[0] else page_info.url_path
    page.goto(f"{app_server}/{path}?lang=vi")
    settle(page, extra_ms=1500)
    assert_no_exception(page, f"{path} in Vietnamese")
    text = page.evaluate(MAIN_TEXT)
    share, count = english_share(text)
    letters = len(VIETNAMESE_LETTERS.findall(text))
    page.screenshot(path=str(artifacts / f"vi-{page_info.url_path}.png"), full_page=True)
    assert count > 20
    assert share <= 0.03, f"{share:.1%} English function words of {count}: {text[:600]}"
    assert letters >= 36, f"only {letters} Vietnamese letters"


def test_a_vietnamese_browser_gets_vietnamese_and_lang_en_wins(app_server, vietnamese_browser):
    page = vietnamese_browser.new_page()
    page.goto(f"{app_server}/convolution")
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == vi("Convolution")
    assert "lang=vi" in page.url
    page.goto(f"{app_server}/convolution?lang=en")
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == "Convolution"
    assert "lang=en" in page.url


def test_the_choice_survives_a_click_to_another_page_and_the_switch(app_server, page):
    page.goto(f"{app_server}/pooling?lang=vi")
    settle(page)
    page.locator('[data-testid="stSidebarNav"] a[href$="/convolution"]').click()
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == vi("Convolution")
    assert "lang=vi" in page.url and "/convolution" in page.url
    page.get_by_role("radio", name="English").click()  # the sidebar's language switch
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == "Convolution"
    assert "lang=en" in page.url
    page.locator('[data-testid="stSidebarNav"] a[href$="/pooling"]').click()
    settle(page)
    assert page.locator("h1").first.inner_text().strip() == "Pooling"
    assert "lang=en" in page.url


def test_a_text_file_uploaded_as_an_image_is_refused_in_vietnamese(app_server, page, tmp_path):
    from cnnviz.errors import InputError
    from cnnviz.preprocess import to_mnist

    path = tmp_path / "chu-so.png"
    path.write_bytes(b"This is a text file renamed to digit.png\n" * 20)
    with pytest.raises(InputError) as refused:
        to_mnist(path.read_bytes())
    page.goto(f"{app_server}/draw_predict?lang=vi")
    settle(page)
    page.locator('.st-key-image_upload input[type="file"]').set_input_files(str(path))
    settle(page, extra_ms=1000)
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    i18n.set_language("vi")
    try:
        expected = str(refused.value)
    finally:
        i18n.set_language("en")
    assert error.inner_text().strip() == f"chu-so.png: {expected}"


def test_two_sessions_read_two_languages_at_once(app_server, browser):
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    try:
        pages = [c.new_page() for c in contexts]
        for p, lang in zip(pages, ("vi", "en"), strict=True):
            p.goto(f"{app_server}/why_convolution?lang={lang}")
        for p in pages:
            settle(p)
        # both reload at once, each must keep its own language
        for p in pages:
            p.reload()
        for p in pages:
            settle(p)
        titles = [p.locator("h1").first.inner_text().strip() for p in pages]
        assert titles == [vi("Why convolution?"), "Why convolution?"]
    finally:
        for c in contexts:
            c.close()


def test_the_uploaders_own_words_follow_the_language(app_server, page, tmp_path):
    """Streamlit writes "Upload", "<size> per file" and "<type> files are not allowed." itself:
    in Vietnamese they are Vietnamese, and English again after the switch."""
    uploader = page.locator(".st-key-image_upload")

    def words() -> str:
        return " ".join(uploader.inner_text().split())

    page.goto(f"{app_server}/draw_predict?lang=vi")
    settle(page, extra_ms=1000)
    per_file = re.escape(vi("{size} per file")).replace(re.escape("{size}"), r"\d+MB")
    assert re.search(per_file, words()), words()
    assert vi("Upload") in words() and vi("Upload") != "Upload"
    assert "per file" not in words() and not re.search(r"\bUpload\b", words())

    page.get_by_role("radio", name="English").click()  # the sidebar's language switch
    settle(page, extra_ms=1000)
    assert re.search(r"\d+MB per file", words()), words()  # what was rewritten is put back
    assert re.search(r"\bUpload\b", words()) and vi("Upload") not in words()

    page.get_by_role("radio", name="Tiếng Việt").click()
    settle(page, extra_ms=1000)
    text = tmp_path / "notes.txt"  # not a picture: Streamlit itself refuses its type
    text.write_text("not a digit\n")
    uploader.locator('input[type="file"]').set_input_files(str(text))
    expected = vi("{type} files are not allowed.").format(type="text/plain")
    page.get_by_text(expected).first.wait_for(timeout=30_000)
    assert "not allowed" not in words() and "Error" not in words(), words()
    uploader.get_by_text("notes.txt").hover()  # the reason again, in a tooltip
    tooltip = page.locator('[data-testid="stTooltipErrorContent"]').first
    tooltip.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert tooltip.inner_text().strip() == expected
