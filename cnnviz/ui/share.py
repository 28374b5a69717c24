"""The sidebar's Join / share: a dialog with the QR code of the page on screen, big enough to
scan from the back of a hall, and its address as text. The link itself is decided by the pure
:mod:`cnnviz.share_link`."""

from __future__ import annotations

import streamlit as st

from cnnviz import share_link
from cnnviz.i18n import N_, _
from cnnviz.ui import state

NO_DRAWING = N_(
    "The link holds this page's settings but not your drawing or upload: a drawing cannot "
    "travel in a link, so on another device draw it again (or pick an MNIST digit)."
)
BUTTON_KEY = "cnnviz.share_button"
QR_KEY = "share_qr"  # the QR code's container: .st-key-share_qr in the page
QR_WIDTH = 480  # px on screen: over a third of a 1280 projector; a phone shrinks it to fit


def _context_url() -> str | None:
    try:
        return st.context.url
    except Exception:  # no browser behind this run
        return None


def current() -> share_link.ShareLink | None:
    """The link of the page on screen with its query, or None when no browser said its URL."""
    url = _context_url()
    if not url:
        return None
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    return share_link.share_link(
        url, query, st.get_option("server.address"), share_link.lan_address()
    )


def notes(link: share_link.ShareLink) -> None:
    """Whether phones can open ``link``, and how to serve the hall when they cannot."""
    if link.local_only:
        text = _(
            "This app only listens on this computer, so phones cannot open it. To serve the "
            "hall, start it with `{command}`."
        ).format(command=share_link.SERVE_HALL)
        if link.lan:
            text += " " + _("Students will then open it at {url}.").format(
                url=f"`{share_link.with_host(link.url, link.lan)}`"
            )
        st.warning(text, icon=":material/wifi_off:")
    elif link.replaced:
        st.caption(
            _(
                "This computer's address on the local network is {address}: phones on the "
                "same network (the hall's Wi-Fi) can open it."
            ).format(address=link.lan)
        )
    elif not link.reachable:
        st.warning(
            _(
                "This computer has no address on a local network that phones could reach. "
                "Connect it to the hall's network and open this again."
            ),
            icon=":material/wifi_off:",
        )


def _show() -> None:
    link = current()
    if link is None:
        st.info(_("The browser has not said this page's address yet. Close this and try again."))
        return
    qr, text = st.columns([5, 4], vertical_alignment="center")
    with qr.container(key=QR_KEY):
        st.image(share_link.qr_png(link.url), width=QR_WIDTH)
    with text:
        st.markdown("#### " + _("Scan the code with your phone's camera, or type the address:"))
        st.code(link.url, language=None, wrap_lines=True)
        if st.query_params.get("input") == "drawing":
            st.caption(_(NO_DRAWING))
        notes(link)


def _asked() -> None:
    st.session_state[state.SHARE_ASKED] = True


def button() -> None:
    """The Join / share button in the sidebar; its click opens the dialog on the next run of
    app.py (a flag in the session rather than the button's value, which a rerun before app.py
    has run, e.g. layout.ensure_app_navigation's, would lose)."""
    st.sidebar.button(
        _("Join / share"),
        icon=":material/qr_code_2:",
        key=BUTTON_KEY,
        width="stretch",
        on_click=_asked,
    )
    if st.session_state.pop(state.SHARE_ASKED, False):
        st.dialog(_("Join / share"), width="large")(_show)()
