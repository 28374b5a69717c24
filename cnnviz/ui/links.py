"""Every view is a link: the query string holds the state of the page on screen.

Each page's :class:`Param` s are listed in :mod:`cnnviz.ui.views` (docs/links.md documents
them). app.py calls :func:`restore` and :func:`publish` before the page runs, and
:func:`publish` again after it: a page that stops early (``st.stop()``) can send nothing more,
so the first one keeps the address right (the widgets' new values are in the session before
the run); the second adds what the run itself set (first-run defaults, a clamped position).

Restore, on the first run of a session or of a visit to the page (later runs are the person's
own changes): when the URL is not what this session wrote last for the page (a link opened in
a new browser, a tutorial link, an edited address), every parameter is applied to the session,
a missing one as the page's default; a value that is invalid or cannot travel (a drawing)
falls back to the default, and one small line says so. Publish: the state goes back into the
URL, so the address bar always holds the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import streamlit as st

from cnnviz.errors import InputError
from cnnviz.i18n import N_, _

PAGE = "cnnviz.links.page"  # the page this run shows (its url_path)
WRITTEN = "cnnviz.links.written"  # page -> {name: text} this session last put in the URL
NOTICE = "cnnviz.links.notice"  # the sentence of the last link that could not be used fully

BAD_VALUES = N_(
    "Part of this link could not be used ({names}); those settings are back to their defaults."
)


class CannotTravel(InputError):  # noqa: N818 (a sentence, like InputError)
    """A value that is fine in the browser that made it but does not exist in this one (a
    drawing, an upload, a model trained in another session): said in its own sentence."""


@dataclass(frozen=True)
class Param:
    """One query parameter: ``read()`` gives its text for the URL (None: leave it out);
    ``apply(text)`` puts a link's value into the session (None: the page's default) and raises
    ValueError, KeyError or InputError for a value it cannot use."""

    name: str
    read: Callable[[], str | None]
    apply: Callable[[str | None], None]


def _reset(key: str) -> None:
    """A widget back to its default: forget its value, the widget starts again."""
    st.session_state.pop(key, None)


def choice(name: str, key: str, values: Mapping[str, object]) -> Param:
    """A widget with a closed set of values, each with a short URL text: {"same": "same"}."""

    def read():
        value = st.session_state.get(key)
        return next((text for text, v in values.items() if v == value), None)

    def apply(text):
        if text is None:
            _reset(key)
        else:
            st.session_state[key] = values[text]

    return Param(name, read, apply)


def number_text(value: float) -> str:
    """A number as short as it reads: 1, 0.1, 0.0003, 1000."""
    return f"{value:g}"


def among(name: str, key: str, values: list) -> Param:
    """A widget whose values are numbers (or a few words, "all"), written as they read."""
    return choice(name, key, {number_text(v) if not isinstance(v, str) else v: v for v in values})


def integer(name: str, key: str, low: int, high: int) -> Param:
    """A whole-number widget between ``low`` and ``high``."""

    def read():
        value = st.session_state.get(key)
        return None if value is None else str(int(value))

    def apply(text):
        if text is None:
            _reset(key)
            return
        value = int(text)
        if not low <= value <= high:
            raise ValueError(text)
        st.session_state[key] = value

    return Param(name, read, apply)


def position(name: str, prefix: str) -> Param:
    """The stepper's position "row,col" (``<prefix>.row`` / ``<prefix>.col``), from 0; the page
    clamps it to its output's size."""
    rk, ck = f"{prefix}.row", f"{prefix}.col"

    def read():
        if rk not in st.session_state:
            return None
        return f"{st.session_state[rk]},{st.session_state[ck]}"

    def apply(text):
        if text is None:
            row, col = 0, 0
        else:
            row, col = (int(part) for part in text.split(","))
            if row < 0 or col < 0 or row > 10_000 or col > 10_000:
                raise ValueError(text)
        st.session_state[rk], st.session_state[ck] = row, col

    return Param(name, read, apply)


def _shortened(text: str | None, most: int = 24) -> str:
    """A link's value as the notice quotes it: a tampered one may be any length."""
    text = str(text)
    return text if len(text) <= most else text[: most - 1] + "…"


def _incoming(params) -> dict[str, str]:
    return {p.name: st.query_params[p.name] for p in params if p.name in st.query_params}


def _written() -> dict:
    return st.session_state.setdefault(WRITTEN, {})


def restore(page: str, params) -> None:
    """Apply the URL to the session when it came from outside this session (see the module)."""
    previous, st.session_state[PAGE] = st.session_state.get(PAGE), page
    if previous == page:
        # A rerun of the page on screen (a widget changed): its widgets hold the view. The
        # browser's address may lag a run behind (a click before the last run's address came
        # back), so it is never read again here; links arrive with a new session or page.
        return
    incoming = _incoming(params)
    if not incoming or incoming == _written().get(page):
        return  # no link (the page opened from the navigation), or our own address
    _written().pop(page, None)  # until it is written back, the link's view is the page's
    bad, moved = [], []
    for param in params:
        text = incoming.get(param.name)
        try:
            param.apply(text)
        except CannotTravel as error:
            moved.append(str(error))
            param.apply(None)
        except (ValueError, KeyError, TypeError, InputError):
            bad.append(f"{param.name}={_shortened(text)}")
            param.apply(None)
    sentences = moved + ([_(BAD_VALUES).format(names=", ".join(bad))] if bad else [])
    st.session_state.pop(NOTICE, None)
    if sentences:
        st.session_state[NOTICE] = (page, " ".join(sentences))


def publish(page: str, params) -> None:
    """Write the session's state of the page to the URL (and remember it as ours)."""
    written = {}
    for param in params:
        text = param.read()
        if text is None:
            if param.name in st.query_params:
                del st.query_params[param.name]
        else:
            written[param.name] = text
            if st.query_params.get(param.name) != text:
                st.query_params[param.name] = text
    before = _written().get(page)
    if before is not None and before != written:
        st.session_state.pop(NOTICE, None)  # the view changed since the link: no more notice
    _written()[page] = written


def publish_one(page: str, name: str, text: str) -> None:
    """Write one parameter (a fragment's stepper position) without the page's other ones."""
    if st.query_params.get(name) != text:
        st.query_params[name] = text
    _written().setdefault(page, {})[name] = text


def notice() -> None:
    """The one small line about a link that could not be used fully, on the page it was for
    (:func:`cnnviz.ui.layout.header` shows it under the title)."""
    kept = st.session_state.get(NOTICE)
    if kept and kept[0] == st.session_state.get(PAGE):
        st.caption(":material/link_off: " + kept[1])
