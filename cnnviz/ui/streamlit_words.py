"""Streamlit's own words on the page in the reader's language.

Streamlit (1.67) writes a few words of its own that no API can change: the file uploader's
"Upload" button, its "32MB per file • PNG, JPG" line, "Drag and drop a file here" while a file
is dragged over it and "image/gif files are not allowed." when a file of the wrong type is
dropped (beside the file and in the tooltip over it). A Vietnamese page with these in English
is half translated on the projector. A tiny component of ours (:func:`translate`, mounted once
per run by app.py, taking no room) rewrites those text nodes in place, with the catalog's
translations, whenever Streamlit draws them; in English it puts back what it changed. Only the
text of existing text nodes is changed (``nodeValue``), never the elements React manages, so
React's own updates still land.
"""

from __future__ import annotations

import functools

import streamlit as st

from cnnviz.i18n import N_, _

KEY = "cnnviz_streamlit_words"

# Streamlit's English (frontend: FileUploader) -> the catalog's message for it.
EXACT = {
    "Upload": N_("Upload"),
    "Upload directories": N_("Upload directories"),
    "Drag and drop a file here": N_("Drag and drop a file here"),
    "Drag and drop files here": N_("Drag and drop files here"),
    "Drag and drop directories here": N_("Drag and drop directories here"),
    "This type of files are not allowed.": N_("Files of this type are not allowed."),
    "Error:": N_("Error:"),  # before a refused file's reason, for screen readers
}
# "<size> per file" and "<type> files are not allowed.": a pattern, the catalog's message.
PATTERNS = [
    (r"^(.+) per file$", N_("{size} per file"), "size"),
    (r"^(.+) files are not allowed\.$", N_("{type} files are not allowed."), "type"),
]

_JS = """
// the uploader, and the tooltip that shows a refused file's reason (drawn at the page's end)
const ROOTS = '[data-testid="stFileUploader"], [data-testid="stTooltipErrorContent"]';
// One observer and one table for the page's life: a run with another language only swaps the
// table (an observer per run would fight over the words).
const shared = (window.__cnnvizStreamlitWords ||= {
  exact: {}, patterns: [], observer: null, frame: 0,
  changed: new Map(),  // text node -> [what Streamlit wrote, what we wrote]
});

function translate(text) {
  const trimmed = text.trim();
  if (Object.hasOwn(shared.exact, trimmed)) return text.replace(trimmed, shared.exact[trimmed]);
  for (const [re, message, name] of shared.patterns) {
    const m = trimmed.match(re);
    if (m) return text.replace(trimmed, message.replace("{" + name + "}", m[1]));
  }
  return text;
}

function pass() {
  for (const [node, [original, written]] of shared.changed) {
    if (!node.isConnected) { shared.changed.delete(node); continue; }
    const source = node.nodeValue === written ? original : node.nodeValue;  // React wrote anew
    const text = translate(source);
    shared.changed.set(node, [source, text]);
    if (node.nodeValue !== text) node.nodeValue = text;
  }
  for (const root of document.querySelectorAll(ROOTS)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (shared.changed.has(node) || !node.nodeValue.trim()) continue;
      const text = translate(node.nodeValue);
      if (text !== node.nodeValue) {
        shared.changed.set(node, [node.nodeValue, text]);
        node.nodeValue = text;
      }
    }
  }
}

export default function (component) {
  const { data } = component;
  shared.exact = (data && data.exact) || {};
  shared.patterns = ((data && data.patterns) || [])
    .map(([re, text, name]) => [new RegExp(re), text, name]);
  pass();
  if (!shared.observer) {
    shared.observer = new MutationObserver(() => {
      cancelAnimationFrame(shared.frame);
      shared.frame = requestAnimationFrame(pass);
    });
    shared.observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  }
}
"""


@functools.cache  # registered once per process
def _component():
    return st.components.v2.component("cnnviz.streamlit_words", js=_JS, isolate_styles=False)


def words() -> dict:
    """The translations for this run's language (English: Streamlit's own words back)."""
    return {
        "exact": {english: _(message) for english, message in EXACT.items()},
        "patterns": [[pattern, _(message), name] for pattern, message, name in PATTERNS],
    }


def translate() -> None:
    """Mount (once per script run, outside any fragment) the invisible element that writes
    Streamlit's own uploader words in this run's language. It takes no room on the page."""
    st.html(f"<style>.st-key-{KEY} {{ display: none; }}</style>")
    _component()(key=KEY, data=words())
