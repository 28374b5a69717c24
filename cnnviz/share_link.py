"""The link a lecturer shows the hall (the sidebar's Join / share), without Streamlit.

What the browser used (``st.context.url``: scheme, host, port, page path) plus the page's
query string is the link. Students cannot open ``localhost``: when the lecturer's browser
reached the app through a loopback host and the server listens on every interface (Streamlit's
default), the link uses this machine's address on the local network instead. When the server
listens on loopback only, nobody else can reach it: the link stays as it is and the page says
how to serve the hall. No address is ever made up: :func:`lan_address` reads the machine's own.

>>> share_link("http://localhost:8501/pooling", {"lang": "en"}, None, lan="192.168.1.20").url
'http://192.168.1.20:8501/pooling?lang=en'
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
ALL_INTERFACES = {"", "0.0.0.0", "::", "[::]"}
# Never in a link shown to the hall: the lecturer's presenter view (a phone should not start in
# it) and the host token of a class (Class page): whoever holds it controls the room.
NOT_SHARED = ("present", "host")
SERVE_HALL = "streamlit run app.py --server.address 0.0.0.0"
# Addresses a UDP socket is "connected" to, to learn which local address the system would send
# from. A UDP connect sends no packet; the first gives the LAN address on most networks.
_PROBES = ("10.254.254.254", "192.168.254.254", "8.8.8.8")


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.x.x.x and ::1 (with or without brackets)."""
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reachable(address: str) -> bool:
    """An IPv4 address another machine could use: not loopback, unspecified or link-local."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local)


def lan_address() -> str | None:
    """This machine's IPv4 address on the local network, or None when it only has loopback.

    Asks the system which address it would send from (a connected UDP socket: no packet is
    sent), then what the machine's name resolves to.
    """
    for probe in _PROBES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))
                address = s.getsockname()[0]
            except OSError:
                continue
        if _reachable(address):
            return address
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    for *_, sockaddr in infos:
        if _reachable(sockaddr[0]):
            return sockaddr[0]
    return None


def page_url(context_url: str, query: Mapping[str, str | Sequence[str]]) -> str:
    """``context_url`` (the page's address without its query) with ``query`` as its query
    string, in the order given; a key with several values appears once per value; ":" and ","
    stay as they are (``input=mnist:7``, ``pos=0,1``); the keys of ``NOT_SHARED`` are left out."""
    parts = urlsplit(context_url)
    pairs = []
    for key, values in query.items():
        if key in NOT_SHARED:
            continue
        for value in [values] if isinstance(values, str) else values:
            pairs.append((key, value))
    path = parts.path or "/"  # st.context.url of the default page has no path at all
    return urlunsplit(parts._replace(path=path, query=urlencode(pairs, safe=":,"), fragment=""))


def with_host(url: str, host: str) -> str:
    """``url`` with its host replaced (scheme, port, path and query kept)."""
    parts = urlsplit(url)
    name = f"[{host}]" if ":" in host else host
    netloc = f"{name}:{parts.port}" if parts.port else name
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class ShareLink:
    url: str  # what the QR code holds and the text shows
    local_only: bool  # the server listens on loopback only: other machines cannot open it
    lan: str | None  # this machine's LAN address, when it has one
    replaced: bool  # ``url`` uses ``lan`` instead of the loopback host the browser used
    reachable: bool  # another machine can probably open ``url``


def share_link(
    context_url: str,
    query: Mapping[str, str | Sequence[str]],
    server_address: str | None,
    lan: str | None,
) -> ShareLink:
    """What to show the hall: the link, and whether students can reach it.

    ``context_url`` is the page's address as the browser used it, ``server_address`` Streamlit's
    ``server.address`` option (None or "" means every interface, its default), ``lan`` what
    :func:`lan_address` found (None: only loopback).
    """
    url = page_url(context_url, query)
    host = urlsplit(url).hostname
    listens_everywhere = (server_address or "").strip() in ALL_INTERFACES
    local_only = is_loopback(server_address)
    if is_loopback(host) and listens_everywhere and lan:
        return ShareLink(with_host(url, lan), False, lan, replaced=True, reachable=True)
    reachable = not is_loopback(host) and not local_only
    return ShareLink(url, local_only, lan, replaced=False, reachable=reachable)


def qr_png(text: str, module_px: int = 12, border: int = 4) -> bytes:
    """A PNG of the QR code of ``text``: dark on white, ``module_px`` pixels per module and the
    quiet zone of ``border`` modules kept (a phone needs it to find the code)."""
    import segno

    buffer = io.BytesIO()
    code = segno.make(text, micro=False)
    code.save(buffer, kind="png", scale=module_px, border=border, dark="black", light="white")
    return buffer.getvalue()
