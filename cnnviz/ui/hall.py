"""A lecture hall served by several replicas (deploy/hall.py): say once when a student's
browser came back on another replica because the one it was on stopped.

HAProxy sets the ``cnnviz_page_replica`` cookie with every page it serves (the HTML, not the
websocket or the page's other requests) to the replica that served it; each replica knows its
own name from ``CNNVIZ_REPLICA``. When a session starts with that cookie naming another
replica, the open page reconnected here after its replica stopped: its
settings came back with the page's address (cnnviz.ui.links), but its drawing, uploads and any
model trained there are gone, and one line above the page says so until the student opens
another page. Outside a hall (no ``CNNVIZ_REPLICA``) this
does nothing.
"""

from __future__ import annotations

import os

import streamlit as st

from cnnviz.i18n import _
from cnnviz.ui import links, state

REPLICA_ENV = "CNNVIZ_REPLICA"
PAGE_COOKIE = "cnnviz_page_replica"


def moved_from(here: str | None, page: str | None) -> str | None:
    """The replica that served the browser's open page, if it is not this one."""
    return page if here and page and page != here else None


def notice_a_move(page: str) -> None:
    """Say it if this session's browser came from a replica that stopped: checked at the
    session's first run (after :func:`cnnviz.ui.links.restore`), then shown above the page on
    every run until the student opens another page."""
    if not st.session_state.get(state.HALL_CHECKED):
        st.session_state[state.HALL_CHECKED] = True
        try:
            served_by = st.context.cookies.get(PAGE_COOKIE)
        except Exception:  # no browser behind this run (AppTest, a bare script)
            served_by = None
        if moved_from(os.environ.get(REPLICA_ENV), served_by):
            st.session_state[state.HALL_MOVED] = page
    said_on = st.session_state.get(state.HALL_MOVED)
    if said_on is None:
        return
    if said_on != page:  # said; the student has moved on
        del st.session_state[state.HALL_MOVED]
        return
    # The page's address may name a drawing or an upload, which "cannot travel": the link's own
    # line would say the same again, in other words.
    st.session_state.pop(links.NOTICE, None)
    st.info(
        _(
            "The server this page was on stopped, so it is now on another one: its settings came "
            "back, but your drawing, uploads and any model trained there are lost."
        ),
        icon=":material/sync_problem:",
    )
