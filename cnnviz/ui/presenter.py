"""Presenter view (``?present=1``): for a projector, the lesson alone, in larger text and charts.

The flag is kept like the language (:mod:`cnnviz.ui.language`): ``?present=1`` turns it on,
``?present=0`` off, otherwise the session's earlier choice stays; it is written back to the URL
on every run, so moving between pages stays in presenter view. The sidebar starts collapsed;
Streamlit's toolbar and decoration are hidden (the sidebar's open button stays); the text is
larger (CSS) and every chart is scaled by :data:`SCALE` in :func:`cnnviz.ui.layout.chart`.
"""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import _
from cnnviz.ui import state

PARAM = "present"
SCALE = 1.3  # charts, their fonts included
BUTTON_KEY = "cnnviz.presenter_button"
PLOTLY_DEFAULT_FONT = 12
# Larger text (Streamlit's sizes are in rem, so the root font size scales them all), less
# padding above the lesson, and none of Streamlit's own chrome except the sidebar's button.
STYLE = """
<style>
html { font-size: 22px; }
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"] {
  visibility: hidden;
}
[data-testid="stExpandSidebarButton"] { visibility: visible; }
[data-testid="stHeader"] { background: transparent; }
[data-testid="stMainBlockContainer"] { padding: 2.5rem 2rem 4rem; max-width: none; }
</style>
"""


def choose() -> bool:
    """This run's presenter flag (URL first, then the session), kept in the session and written
    back to the URL. Reads only the query, so it may run before ``st.set_page_config``."""
    asked = st.query_params.get(PARAM)
    if asked in ("0", "1"):
        on = asked == "1"
    else:
        on = bool(st.session_state.get(state.PRESENT, False))
    _keep(on)
    return on


def _keep(on: bool) -> None:
    st.session_state[state.PRESENT] = on
    if on and st.query_params.get(PARAM) != "1":
        st.query_params[PARAM] = "1"
    elif not on and PARAM in st.query_params:
        del st.query_params[PARAM]


def active() -> bool:
    """Whether this session is in presenter view (fragments and charts ask this)."""
    try:
        return bool(st.session_state.get(state.PRESENT, False))
    except Exception:  # no session (a bare script)
        return False


def sidebar_state(on: bool) -> str | None:
    """For ``st.set_page_config``: collapsed in presenter view, else left as the user has it."""
    return "collapsed" if on else None


def style(on: bool) -> None:
    """The presenter view's CSS, when on."""
    if on:
        st.html(STYLE)


def _toggle() -> None:
    _keep(not active())


def switch(on: bool) -> None:
    """A small sidebar button: "Leave presenter view" in it, "Presenter view" otherwise."""
    st.sidebar.button(
        _("Leave presenter view") if on else _("Presenter view"),
        icon=":material/close_fullscreen:" if on else ":material/co_present:",
        key=BUTTON_KEY,
        type="tertiary",
        on_click=_toggle,
    )


def _grow_fonts(node, factor: float, in_font: bool = False) -> None:
    """Multiply every ``size`` of a font (``font``, ``textfont``, ``tickfont``...) in a figure's
    JSON by ``factor``, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if in_font and key == "size" and isinstance(value, int | float):
                node[key] = value * factor
            elif isinstance(value, dict | list | tuple):
                _grow_fonts(value, factor, key.endswith("font"))
    elif isinstance(node, list | tuple):
        for item in node:
            if isinstance(item, dict):
                _grow_fonts(item, factor, in_font)


def scaled(fig, factor: float = SCALE):
    """A copy of the Plotly figure ``fig`` with its width, height, margins and every font size
    multiplied by ``factor`` (``fig`` itself is left as it is)."""
    data = fig.to_plotly_json()
    layout = data.setdefault("layout", {})
    _grow_fonts(data, factor)
    font = layout.setdefault("font", {})
    font.setdefault("size", PLOTLY_DEFAULT_FONT * factor)
    for key in ("width", "height"):
        if isinstance(layout.get(key), int | float):
            layout[key] = round(layout[key] * factor)
    margin = layout.get("margin") or {}
    for side in ("l", "r", "t", "b"):
        if isinstance(margin.get(side), int | float):
            margin[side] = round(margin[side] * factor)
    return type(fig)(data)
