"""Two languages, Vietnamese (``vi``) and English (``en``), from gettext catalogs.

The catalogs are ``cnnviz/locale/<lang>/LC_MESSAGES/cnnviz.po``, managed with Babel
(``python scripts/i18n.py extract|update|check``) and compiled in memory with Babel's API the
first time a language is used in a process: no ``.mo`` files to keep in step.

The language is per thread of execution (a ``ContextVar``): the app sets it at the start of
each session's script run (:mod:`cnnviz.ui.language`), so two students on one server can read
two languages at once. Everything else (the engine, the command line, the tests) runs in
English unless it calls :func:`set_language`.

>>> set_language("vi"); _("Prediction")        # doctest: +SKIP
'Dự đoán'

Messages are marked for extraction with :func:`_` (translated now) or :func:`N_` (a constant
translated later, where it is shown). ``cnnviz.errors.InputError`` takes a message template and
its parameters, and renders it in the language of the code that reads it.
"""

from __future__ import annotations

import functools
import gettext
import io
from contextvars import ContextVar
from pathlib import Path

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "en"
DOMAIN = "cnnviz"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language: ContextVar[str] = ContextVar("cnnviz_language", default=DEFAULT)


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (once per process); English falls back to the source."""
    path = catalog_path(lang)
    if lang == DEFAULT or not path.is_file():  # the source text is English
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def set_language(lang: str | None) -> str:
    """Use ``lang`` ("vi" or "en"; anything else means English) from here on in this thread."""
    lang = lang if lang in LANGUAGES else DEFAULT
    _language.set(lang)
    return lang


def language() -> str:
    return _language.get()


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it yet (constants, tables)."""
    return message


def babel_locale() -> str:
    return "vi_VN" if language() == "vi" else "en_US"


def number(value: float, decimals: int | None = None) -> str:
    """A number in prose, written as the current language writes it (1,000.5 / 1.000,5)."""
    from babel.numbers import format_decimal

    if decimals is None:
        return format_decimal(value, locale=babel_locale())
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


def percent(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage in the current language (97.8% / 97,8%)."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
    return format_percent(value, format=pattern, locale=babel_locale())
