"""Small page helpers shared by the Draw & predict and Train live pages."""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import _
from cnnviz.ui import links, presenter


def ensure_app_navigation() -> None:
    """Make sure the page runs inside app.py's st.navigation, not Streamlit's old pages/ mode.

    A Streamlit quirk: until app.py has called ``st.navigation`` once in the server process,
    a ``pages/`` folder beside it switches on the old (v1) multipage mode, so the very first
    visitor who opens a page's URL directly gets the page without app.py (no wide layout, a
    sidebar listing file names). Switching that mode off and rerunning runs app.py instead.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without that class has no such mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(title: str, lead: str | None = None) -> None:
    """The page title and one or two sentences saying what the page shows (run first); both
    already in the reader's language (``_("...")``)."""
    ensure_app_navigation()  # a direct link opened first still runs inside app.py
    st.title(title)
    links.notice()  # a link that could not be used fully says so here, once
    if lead:
        st.markdown(lead)


def wrap_link_labels(key: str) -> None:
    """Let the labels of ``st.page_link`` inside the container ``key`` run onto a second line
    instead of being cut with "…" (Streamlit keeps them on one line): long labels on a phone."""
    st.html(
        f"<style>.st-key-{key} [data-testid='stPageLink'] :is(span, div, p) "
        "{ white-space: normal; }</style>"
    )


CHART_CONFIG = {"displayModeBar": False}  # no Plotly toolbar: nothing to zoom on a projector


def chart(fig, key: str | None = None, width="content", where=None, **options):
    """Draw a Plotly figure as cnnviz.plots built it (its own fonts and colours, theme=None),
    without Plotly's toolbar; ``width`` "content" (the figure's size) or "stretch";
    ``options`` go to ``st.plotly_chart`` (``on_select``, ``selection_mode``). In presenter
    view a scaled copy is drawn (:func:`cnnviz.ui.presenter.scaled`)."""
    if presenter.active():
        fig = presenter.scaled(fig)
    return (where or st).plotly_chart(
        fig, width=width, config=CHART_CONFIG, theme=None, key=key, **options
    )


def layer_caption(name: str, shape: tuple[int, ...]) -> str:
    """E.g. "conv2d: 26 x 26 x 8" for a feature-map heading."""
    return f"{name}: {' x '.join(str(s) for s in shape)}"


def seconds_text(seconds: float | None) -> str:
    """12 s, 3 min 5 s, 1 h 02 min; an em dash when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    if seconds < 3600:
        return _("{minutes} min {seconds} s").format(
            minutes=seconds // 60, seconds=f"{seconds % 60:02d}"
        )
    return _("{hours} h {minutes} min").format(
        hours=seconds // 3600, minutes=f"{(seconds % 3600) // 60:02d}"
    )


def session_alive_probe():
    """A function telling whether this browser session is still connected, or None.

    Given to :class:`cnnviz.training.TrainingWorker` as ``owner_alive`` so a run stops itself
    when its tab has been closed (Streamlit's ``Runtime.is_active_session``; thread-safe).
    None when there is no Streamlit server (AppTest, bare mode): the run then only stops
    when the session state holding it is dropped.
    """
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return None
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return None
    runtime = Runtime.instance()
    session_id = ctx.session_id

    def alive() -> bool:
        return runtime.is_active_session(session_id)

    return alive
