"""Vietnamese and English: the catalogs are complete, every message can be extracted, every page
runs in both languages, and an engine error reads in the session's language.

The Chromium checks (no English sentences on Vietnamese pages, the browser's locale, the switch,
two sessions in two languages) are in tests/test_browser_i18n.py.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import i18n
from cnnviz.errors import InputError
from cnnviz.ui.registry import PAGES
from scripts import i18n as catalogs

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SOURCES = [*sorted((ROOT / "cnnviz").rglob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_the_catalog_is_complete(lang):
    """Every marked message is in the catalog, translated, not fuzzy, with the same {fields}."""
    assert catalogs.problems(lang) == []


def _calls(tree, names):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in names:
                yield name, node


def test_every_message_is_a_literal_babel_can_extract():
    """No f-string reaches ``_()``, ``N_()`` or ``InputError()`` (it could not be in the
    catalog); ``N_()`` marks a plain literal; and ``InputError()`` gets a literal or a constant
    marked with ``N_()``, so the catalog holds exactly what is shown."""
    trees = {path: ast.parse(path.read_text()) for path in SOURCES if path.name != "cli.py"}
    marked = {  # module-level NAME = N_("...") constants, anywhere in the package
        target.id
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "N_"
        for target in node.targets
        if isinstance(target, ast.Name)
    }  # fmt: skip
    wrong = []
    for path, tree in trees.items():
        for name, node in _calls(tree, ("_", "N_", "InputError")):
            first = node.args[0]
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            constant = getattr(first, "id", getattr(first, "attr", None)) in marked
            if (
                isinstance(first, ast.JoinedStr)
                or (name == "N_" and not literal)
                or (name == "InputError" and not (literal or constant))
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}({ast.unparse(first)})")
    assert wrong == []


def test_an_input_error_reads_in_the_language_of_whoever_shows_it():
    error = InputError("The learning rate must be a positive number, not {value}.", value="-1")
    seen = {}

    def show(lang):
        i18n.set_language(lang)
        seen[lang] = str(error)

    threads = [threading.Thread(target=show, args=(lang,)) for lang in ("vi", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["en"] == "The learning rate must be a positive number, not -1."
    assert seen["vi"] != seen["en"] and "-1" in seen["vi"]
    assert i18n.language() == i18n.DEFAULT  # this thread was never switched


def test_numbers_in_prose_follow_the_language():
    i18n.set_language("vi")
    try:
        assert i18n.number(1_000_000_000_000) == "1.000.000.000.000"
        assert i18n.percent(0.9775, 2) == "97,75%"
    finally:
        i18n.set_language("en")
    assert i18n.number(1_000_000_000_000) == "1,000,000,000,000"
    assert i18n.percent(0.9775, 2) == "97.75%"


@pytest.fixture(autouse=True)
def english_afterwards():
    """AppTest formats widget options (``format_func``) in the test's own thread, so a test of
    a Vietnamese page switches this thread to Vietnamese too; it is English again afterwards."""
    yield
    i18n.set_language("en")


def open_in(lang: str | None, page: str | None = None) -> AppTest:
    i18n.set_language(lang)
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_every_page_runs_in_both_languages(page, lang):
    at = open_in(lang, page)
    assert at.session_state["cnnviz.language"] == lang
    title = at.title[0].value
    if lang == "vi":  # the same page's English title, translated by the catalog
        english = open_in("en", page).title[0].value
        i18n.set_language("vi")
        assert title == i18n._(english)


def test_without_a_choice_the_app_is_english():
    at = open_in(None)
    assert at.session_state["cnnviz.language"] == "en"
    assert at.query_params["lang"] == ["en"] or at.query_params["lang"] == "en"


def test_a_bad_upload_is_refused_in_vietnamese():
    from cnnviz.preprocess import to_mnist

    text_file = b"This is a text file renamed to digit.png\n" * 20
    with pytest.raises(InputError) as refused:
        to_mnist(text_file)
    at = open_in("vi", "pages/1_draw_predict.py")
    at.file_uploader(key="image_upload").upload("chu-so.png", text_file, "image/png")
    at.run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error == f"chu-so.png: {refused.value}"  # str() in this (Vietnamese) thread
    i18n.set_language("en")
    assert str(refused.value) not in error  # not the English sentence
