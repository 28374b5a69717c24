"""The Tutorial page: it runs in both languages, names all 20 figures of the tutorial (Hình 1-20)
and links each to a live view whose query parameters are the ones docs/links.md documents; the
4×4 example's links point at the positions whose numbers the tutorial prints; and in Chromium
every link opens its page, without an exception, under the page's own title.

The allowed parameter values below are copied from docs/links.md by hand, not imported from the
code, so a link the pages would not understand fails here.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, urlsplit

import numpy as np
import pytest
from scipy.signal import correlate2d
from streamlit.testing.v1 import AppTest

from cnnviz import i18n, tutorial_path
from tests.test_i18n import APP

PAGE = "pages/01_tutorial.py"

# --- docs/links.md, by hand -------------------------------------------------------------------
INDEX = r"\d+"
TEST_INPUT = rf"test:{INDEX}|drawing"
MODELS = {"tutorial", "strong", "session", "upload"}
FILTERS = {
    "vertical-sobel", "horizontal-sobel", "vertical-scharr", "horizontal-scharr",
    "vertical-prewitt", "horizontal-prewitt", "laplacian", "sharpen", "box-blur",
    "gaussian-blur", "emboss", "identity", "custom",
}  # fmt: skip
NUMBER = r"-?\d+(\.\d+)?"
COUNT_OR_ALL = rf"{INDEX}|all"
SHIFT = {str(n) for n in range(-8, 9)}
EVERY_PAGE = {"lang": {"en", "vi"}, "present": {"1"}}
ALLOWED: dict[str, dict[str, set[str] | str]] = {  # url path -> parameter -> values or a regex
    "": {},  # the Overview (the default page)
    "overview": {},
    "draw_predict": {"input": TEST_INPUT, "model": MODELS},
    "convolution": {
        "input": rf"tutorial|mnist:{INDEX}|test:{INDEX}|drawing",
        "filter": FILTERS,
        "kernel": rf"{NUMBER}(,{NUMBER}){{8}}",
        "padding": {"valid", "same"},
        "pad": {"0", "255", "mean"},
        "stride": {"1", "2"},
        "pos": rf"{INDEX},{INDEX}",
    },
    "pooling": {
        "input": {"4x4", "6x6", "conv"},
        "mode": {"max", "average", "min"},
        "size": {"2", "3"},
        "pos": rf"{INDEX},{INDEX}",
        "grad": {"ones", "random"},
    },
    "softmax_backprop": {
        "input": TEST_INPUT,
        "model": MODELS,
        "label": {str(n) for n in range(10)},
        "lr": {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1"},
    },
    "train_live": {
        "preset": {"quick-demo", "tutorial", "custom"},
        "dataset": r"[\w-]+",
        "net": {"tutorial", "strong"},
        "filters": INDEX,
        "opt": {"sgd", "adam"},
        "lr": NUMBER,
        "batch": INDEX,
        "epochs": INDEX,
        "train": COUNT_OR_ALL,
        "test": COUNT_OR_ALL,
        "seed": INDEX,
    },
    "why_convolution": {
        "h": INDEX,
        "w": INDEX,
        "c": {"1", "3"},
        "f": INDEX,
        "k": {"3", "5", "7"},
        "dx": SHIFT,
        "dy": SHIFT,
    },
}
# Only two values that cannot travel in a link (docs/links.md): a drawing and a model of one
# browser's session. A link on the Tutorial page must not use them.
CANNOT_TRAVEL = {"drawing", "session", "upload"}
# The English title of each page (h1), by url path: the browser test checks a link lands there.
TITLES = {
    "": "How a convolutional neural network sees a digit",
    "overview": "How a convolutional neural network sees a digit",
    "draw_predict": "Draw & predict",
    "convolution": "Convolution",
    "pooling": "Pooling",
    "softmax_backprop": "Softmax & backprop",
    "train_live": "Train live",
    "why_convolution": "Why convolution?",
}


def problems_with(page: str, params: dict[str, list[str]], lang: str) -> list[str]:
    """What in one link does not follow docs/links.md."""
    if page not in ALLOWED:
        return [f"{page}: no such page in docs/links.md"]
    wrong = []
    if params.get("lang") != [lang]:
        wrong.append(f"{page}: lang={params.get('lang')}, not the reader's {lang}")
    allowed = {**EVERY_PAGE, **ALLOWED[page]}
    for name, values in params.items():
        if name not in allowed or len(values) != 1:
            wrong.append(f"{page}: {name}={values}")
            continue
        value, rule = values[0], allowed[name]
        ok = value in rule if isinstance(rule, set) else re.fullmatch(rule, value)
        if not ok or value in CANNOT_TRAVEL:
            wrong.append(f"{page}: {name}={value}")
    return wrong


# --- AppTest ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def open_tutorial(lang: str) -> AppTest:
    i18n.set_language(lang)  # AppTest formats widgets in this thread too
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_links(at: AppTest) -> list[tuple[str, dict[str, list[str]], str]]:
    """(url path, query parameters, label) of every page link in the main area."""
    return [
        (link.proto.page, parse_qs(link.proto.query_string), link.proto.label)
        for link in at.main.get("page_link")
    ]


@pytest.mark.parametrize("lang, word", [("en", "Figure"), ("vi", "Hình")])
def test_the_page_names_all_20_figures_in_the_readers_language(lang, word):
    at = open_tutorial(lang)
    text = "\n".join(m.value for m in at.markdown)
    named = {int(n) for n in re.findall(rf"\b{word} (\d+)\b", text)}
    assert len(named) >= 15
    assert named == set(range(1, 21))
    if lang == "vi":
        assert not re.search(r"\bFigure \d", text)
        assert "Bảng tính giá trị cho 1 pixel trên output image" in text  # Hình 8's caption
        assert "So sánh loss giữa train và validation" in text  # Hình 20's


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_every_link_opens_a_live_view_with_parameters_from_docs_links(lang):
    at = open_tutorial(lang)
    links = shown_links(at)
    live = [link for link in links if link[0] not in ("", "overview")]
    assert len(live) >= 12
    wrong = [p for page, params, _ in links for p in problems_with(page, params, lang)]
    assert wrong == []
    assert all(label.strip() for _, _, label in links)
    # Every live view of the app is reached from the tutorial.
    assert {page for page, _, _ in live} == set(ALLOWED) - {"", "overview"}


# --- the figures' links against the tutorial's own numbers -------------------------------------

# The tutorial's 4×4 image and its 3×3 filter (Hình 5 and Hình 4), and the two numbers its
# text prints: 29 at the top-left (Hình 8: 62 - 33) and -192 next to it (Hình 9).
TUTORIAL_IMAGE = np.array([[0, 50, 0, 29], [0, 80, 31, 2], [33, 90, 0, 75], [0, 9, 0, 95]])
VERTICAL_SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def figure(number: int) -> tutorial_path.Figure:
    (found,) = [f for f in tutorial_path.figures() if f.number == number]
    return found


def positions(number: int) -> list[tuple[int, int]]:
    out = []
    for link in figure(number).links:
        if link.params.get("input") == "tutorial":
            assert link.params["filter"] == "vertical-sobel"
            out.append(tuple(int(v) for v in link.params["pos"].split(",")))
    return out


def test_the_4x4_examples_links_show_the_positions_the_tutorial_computes():
    valid = correlate2d(TUTORIAL_IMAGE, VERTICAL_SOBEL, mode="valid")
    assert [valid[p] for p in positions(8)] == [29]  # the per-pixel table: 62 - 33
    assert [valid[p] for p in positions(7)] == [29]  # the filter on the top-left corner
    shown = {valid[p] for p in positions(9)}
    assert -192 in shown  # Hình 9's second number
    assert set(positions(9)) | set(positions(8)) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    (same,) = figure(13).links
    assert same.params["padding"] == "same" and same.params["pad"] == "0"


def test_the_figures_are_the_tutorials_twenty_in_order_each_with_a_link():
    numbers = [f.number for f in tutorial_path.figures()]
    assert numbers == list(range(1, 21))
    assert all(f.links for f in tutorial_path.figures())
    pages = {f.number: {link.page for link in f.links} for f in tutorial_path.figures()}
    assert pages[15] == {"pages/3_pooling.py"}  # max pooling 2×2
    assert pages[17] == {"pages/4_softmax_backprop.py"}
    assert {"pages/5_train_live.py"} == pages[19] == pages[20]  # the epoch log and the curves


# --- Chromium ---------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_every_link_on_the_page_opens_its_view_in_chromium(app_server, page, artifacts):
    from tests.test_browser import assert_no_exception, settle

    lang = "en"
    page.goto(f"{app_server}/tutorial?lang={lang}")
    settle(page)
    assert_no_exception(page, "the Tutorial page")
    assert page.locator("h1").first.inner_text().strip() == "Tutorial"
    page.screenshot(path=str(artifacts / "tutorial.png"), full_page=True)
    anchors = page.locator('[data-testid="stMain"] [data-testid="stPageLink"] a')
    hrefs = [anchors.nth(i).get_attribute("href") for i in range(anchors.count())]
    assert len(hrefs) >= 12
    for href in dict.fromkeys(hrefs):  # each distinct link once, in order
        url = href if href.startswith("http") else f"{app_server}/{href.lstrip('/')}"
        path = urlsplit(url).path.strip("/")
        page.goto(url)
        settle(page, extra_ms=1000)
        assert_no_exception(page, url)
        title = page.locator("h1").first
        title.wait_for(timeout=60_000)
        assert title.inner_text().strip() == TITLES[path], url
        assert f"lang={lang}" in page.url, url
        # The view took every value of the link: no "could not be used" line, and the
        # address the app wrote back still holds them.
        assert not page.get_by_text("could not be used").count(), url
        assert not page.get_by_text("cannot travel in a link").count(), url
        asked = dict(parse_qsl(urlsplit(url).query))
        assert asked.items() <= dict(parse_qsl(urlsplit(page.url).query)).items(), url


@pytest.mark.browser
@pytest.mark.slow
def test_a_click_on_figure_9s_link_shows_minus_192(app_server, page):
    """Clicked inside the app (the same session, no reload): the 4x4 example at position
    (0, 1), where the tutorial's Hình 9 prints -192."""
    from tests.test_browser import settle

    page.goto(f"{app_server}/tutorial?lang=en")
    settle(page)
    page.locator(
        '[data-testid="stMain"] [data-testid="stPageLink"] a[href*="pos=0%2C1"]'
    ).first.click()
    settle(page, extra_ms=1000)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Sum = output").first
    metric.wait_for(timeout=60_000)
    assert "(0, 1)" in metric.inner_text() and "-192" in metric.inner_text()
