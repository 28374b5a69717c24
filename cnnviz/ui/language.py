"""Which language a session reads, and the switch on every page.

``?lang=vi`` / ``?lang=en`` in the URL wins; otherwise the session's earlier choice; otherwise the
browser's language (``st.context.locale``: any ``vi-*`` means Vietnamese); otherwise English. The
choice is written back to the URL, so a shared link opens in the same language, and it stays
when moving between pages. Each session has its own language (:mod:`cnnviz.i18n` keeps it per
script thread), so two students on one server can read two languages at once.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import i18n
from cnnviz.i18n import _
from cnnviz.ui import state

SWITCH_KEY = "cnnviz.language_switch"


def _from_browser() -> str:
    try:
        locale = st.context.locale or ""
    except Exception:  # no browser behind this run (bare script, an old Streamlit)
        locale = ""
    return "vi" if locale.lower().startswith("vi") else i18n.DEFAULT


def choose() -> str:
    """Decide this run's language, apply it and write it back to the URL. Run first."""
    asked = st.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        lang = asked
    else:
        lang = st.session_state.get(state.LANGUAGE) or _from_browser()
    st.session_state[state.LANGUAGE] = lang
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    i18n.set_language(lang)
    return lang


def restore() -> None:
    """Take the session's language again at the top of a fragment: a fragment's own rerun does
    not run app.py, and may run in a new thread (where the language starts as English)."""
    i18n.set_language(st.session_state.get(state.LANGUAGE))


def _switched() -> None:
    lang = st.session_state[SWITCH_KEY]
    st.session_state[state.LANGUAGE] = lang
    st.query_params["lang"] = lang
    i18n.set_language(lang)


def switch() -> None:
    """The language switch, at the top of the sidebar."""
    current = st.session_state.get(state.LANGUAGE, i18n.DEFAULT)
    st.session_state[SWITCH_KEY] = current
    st.sidebar.segmented_control(
        _("Language"),
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.get,
        key=SWITCH_KEY,
        on_change=_switched,
        label_visibility="collapsed",
    )
