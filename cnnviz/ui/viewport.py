"""How wide the page's content is, for figures laid out for a phone.

Plotly figures have a fixed height: on a 390 px phone Streamlit narrows a figure built for a
700-1100 px page but keeps its height, so a row of eight feature maps becomes eight 30 px
specks above a band of empty space, and panel titles run into each other. The server cannot
see the screen, so a tiny component of ours (:func:`measure`, mounted once per run by app.py,
taking no room) reports the main column's width, but only while it is narrower than
:data:`NARROW` (a laptop or a projector never sends anything, so it never costs a rerun);
pages then build their figures for that width (:func:`width`, :func:`narrow`). A phone turned
sideways reports its new width, and a rerun lays the figures out again.
"""

from __future__ import annotations

import functools

import streamlit as st

KEY = "cnnviz_viewport"
NARROW = 700  # px of content: below this, figures are built for the width the browser reports
STEP = 10  # px: widths are rounded down to this, so a scroll bar's coming and going is no rerun
SMALLEST = 240

_JS = """
const NARROW = %NARROW%, STEP = %STEP%, SMALLEST = %SMALLEST%;

function contentWidth() {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  if (!main) return null;
  const style = getComputedStyle(main);
  return main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

export default function (component) {
  const { data, setStateValue } = component;
  let known = data ? data.known : null;  // what the server lays its figures out for
  const report = () => {
    const width = contentWidth();
    if (width === null || width <= 0) return;  // not laid out yet (a hidden tab)
    const value = width >= NARROW ? null : Math.max(SMALLEST, Math.floor(width / STEP) * STEP);
    if (value !== known) {
      known = value;
      setStateValue("width", value);
    }
  };
  let frame = requestAnimationFrame(report);
  const later = () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(report); };
  const observer = new ResizeObserver(later);
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  if (main) observer.observe(main);
  window.addEventListener("resize", later);
  return () => {
    observer.disconnect();
    window.removeEventListener("resize", later);
    cancelAnimationFrame(frame);
  };
}
"""


@functools.cache  # registered once per process
def _component():
    js = (
        _JS.replace("%NARROW%", str(NARROW))
        .replace("%STEP%", str(STEP))
        .replace("%SMALLEST%", str(SMALLEST))
    )
    return st.components.v2.component("cnnviz.viewport", js=js, isolate_styles=False)


def _reported() -> int | None:
    state = st.session_state.get(KEY)
    value = state.get("width") if hasattr(state, "get") else getattr(state, "width", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e5:
        return max(SMALLEST, int(value))
    return None


def measure() -> None:
    """Mount (once per script run, outside any fragment) the invisible element that reports
    the content width while it is below :data:`NARROW`. It takes no room on the page."""
    st.html(f"<style>.st-key-{KEY} {{ display: none; }}</style>")
    _component()(key=KEY, data={"known": _reported()}, on_width_change=lambda: None)


def width(default: int = NARROW) -> int:
    """The pixels a figure may take: ``default``, or less on a narrow screen."""
    reported = _reported()
    return default if reported is None else min(default, reported)


def narrow() -> bool:
    """Whether the browser reported a content width below :data:`NARROW` (a phone)."""
    return _reported() is not None
