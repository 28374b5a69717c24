"""Keep streamlit-drawable-canvas's toolbar off the drawing area.

The canvas component (0.13) floats its toolbar (update, undo, redo, edit, reset) over the top
right of the canvas: at rest it is invisible (``opacity: 0``) but sits ``1rem`` above the
canvas and is about 50 px tall, so it covers the canvas's top ~30 px from its middle to its
right edge and takes the pointer-down of a stroke started there (even pressing an invisible
button). Hovering slides it up after 0.1 s, which a quick mouse, a pen or a finger never does,
and even then its padding still covers the top 4 px. The component renders in a shadow root
(``isolate_styles=True``), which the page's CSS cannot reach, and has no option for the
toolbar's place. So a tiny component of our own (:func:`keep_toolbar_below_canvas`) puts a
stylesheet into every canvas's (open) shadow root that shows the toolbar, always visible,
below the canvas instead of over it.
"""

from __future__ import annotations

import functools
import json

import streamlit as st

FIX_KEY = "canvas_toolbar_fix"

# Inside the canvas's shadow root: the toolbar leaves the overlay and follows the canvas.
TOOLBAR_CSS = """
.dc-root > .dc-toolbar,
.dc-root:hover > .dc-toolbar,
.dc-root > .dc-toolbar:hover,
.dc-root > .dc-toolbar:focus-within,
.dc-root > .dc-toolbar[data-pinned] {
  position: static !important;
  top: auto !important;
  opacity: 1 !important;
  transition: none !important;
  justify-content: flex-end;
  padding: 0.3rem 0 0 0 !important;
}
.dc-container { touch-action: none; }
"""

_JS = """
const CSS = %CSS%;
const MARK = "data-cnnviz-toolbar-fix";

function patchAll() {
  for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
    const root = host.shadowRoot;
    if (!root || root.querySelector(`style[${MARK}]`) || !root.querySelector(".canvas-root")) {
      continue;
    }
    const style = document.createElement("style");
    style.setAttribute(MARK, "");
    style.textContent = CSS;
    root.appendChild(style);
  }
}

export default function () {
  patchAll();
  let frame = 0;
  const observer = new MutationObserver(() => {
    // A canvas's shadow root is filled just after its host is added: patch on the next frames.
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => { patchAll(); frame = requestAnimationFrame(patchAll); });
  });
  observer.observe(document.body, { childList: true, subtree: true });
  const timer = setInterval(patchAll, 500);  // a backstop for anything the observer missed
  return () => { observer.disconnect(); clearInterval(timer); cancelAnimationFrame(frame); };
}
"""


@functools.cache  # registered once per process; it re-registers itself on a new runtime
def _fix_component():
    return st.components.v2.component(
        "cnnviz.canvas_toolbar_fix",
        js=_JS.replace("%CSS%", json.dumps(TOOLBAR_CSS)),
        isolate_styles=False,
    )


def keep_toolbar_below_canvas() -> None:
    """Mount (once per page run) the invisible helper that moves every drawing canvas's toolbar
    below its canvas. Call it next to ``st_canvas``; it takes no room on the page."""
    # Its element takes no space: hide the helper's (empty) element container.
    st.html(f"<style>.st-key-{FIX_KEY} {{ display: none; }}</style>")
    _fix_component()(key=FIX_KEY)
