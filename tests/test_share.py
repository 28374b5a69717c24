"""Join / share: the link of the page on screen (path and query kept), localhost replaced by the
machine's LAN address only when the server listens there and one exists (never a made-up
address), a QR code that a decoder (zxing-cpp) reads back as that link, and the dialog in the
app in both languages."""

from __future__ import annotations

import io
import ipaddress
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import i18n, share_link
from cnnviz.share_link import is_loopback, lan_address, page_url, with_host
from cnnviz.share_link import share_link as decide

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
LAN = "192.168.1.20"


def decode(zxingcpp, png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, f"{len(found)} codes found"
    return found[0].text


# --- the link ---------------------------------------------------------------------------------


def test_the_link_keeps_the_page_path_and_the_query_in_order():
    url = page_url(
        "http://localhost:8501/convolution",
        {"lang": "vi", "input": "mnist:7", "pos": "0,1", "filter": ["custom"]},
    )
    assert url == "http://localhost:8501/convolution?lang=vi&input=mnist:7&pos=0,1&filter=custom"


def test_the_link_encodes_what_must_be_encoded_and_repeats_a_repeated_key():
    url = page_url("https://cnn.example.edu/app/pooling", {"note": "a b&c", "k": ["1", "2"]})
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cnn.example.edu", "/app/pooling")
    assert parse_qs(parts.query) == {"note": ["a b&c"], "k": ["1", "2"]}


def test_presenter_view_does_not_travel_to_the_phones():
    url = page_url("http://10.0.0.5:8501/pooling", {"lang": "en", "present": "1"})
    assert url == "http://10.0.0.5:8501/pooling?lang=en"


def test_no_query_no_question_mark():
    assert page_url("http://10.0.0.5:8501/", {}) == "http://10.0.0.5:8501/"


def test_the_default_page_gets_a_slash_before_its_query():
    assert page_url("http://localhost:8501", {"lang": "en"}) == "http://localhost:8501/?lang=en"


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "app.localhost"]
)
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["192.168.1.20", "10.0.0.1", "0.0.0.0", "cnn.example.edu", "localhost.example.com", ""]
)
def test_hosts_that_are_not_loopback(host):
    assert not is_loopback(host)


def test_with_host_keeps_scheme_port_path_and_query():
    assert with_host("http://localhost:8501/pooling?lang=en", LAN) == (
        f"http://{LAN}:8501/pooling?lang=en"
    )
    assert with_host("http://[::1]/x", "192.168.1.2") == "http://192.168.1.2/x"
    assert with_host("http://localhost:8501/", "fe80::1") == "http://[fe80::1]:8501/"


# --- which link the hall gets -----------------------------------------------------------------

LOCAL = "http://localhost:8501/convolution"


@pytest.mark.parametrize("server_address", [None, "", "0.0.0.0", "::"])
def test_localhost_becomes_the_lan_address_when_the_server_listens_everywhere(server_address):
    link = decide(LOCAL, {"lang": "en"}, server_address, lan=LAN)
    assert link.url == f"http://{LAN}:8501/convolution?lang=en"
    assert link.replaced and link.reachable and not link.local_only


@pytest.mark.parametrize("server_address", ["127.0.0.1", "localhost", "::1"])
def test_a_loopback_only_server_keeps_the_link_and_says_so(server_address):
    link = decide(LOCAL, {"lang": "en"}, server_address, lan=LAN)
    assert link.url == f"{LOCAL}?lang=en"
    assert link.local_only and not link.replaced and not link.reachable
    assert link.lan == LAN  # for the "students will then open it at" hint


def test_an_address_the_browser_used_on_the_network_is_kept():
    link = decide("http://10.1.2.3:8501/pooling", {"lang": "vi"}, None, lan=LAN)
    assert link.url == "http://10.1.2.3:8501/pooling?lang=vi"
    assert link.reachable and not link.replaced


@pytest.mark.parametrize("server_address", [None, "127.0.0.1"])
def test_no_lan_address_no_other_host(server_address):
    """Nothing is invented: without a LAN address the only host anywhere is the browser's."""
    link = decide(LOCAL, {"lang": "en"}, server_address, lan=None)
    assert urlsplit(link.url).hostname == "localhost"
    assert link.lan is None and not link.replaced and not link.reachable


def test_the_dialog_without_a_lan_address_shows_only_localhost(monkeypatch):
    monkeypatch.setattr(share_link, "lan_address", lambda: None)
    at = open_share_dialog("en", url="http://localhost:8501/")
    shown = " ".join(texts(at))
    hosts = {urlsplit(w.strip("`.,:")).hostname for w in shown.split() if "://" in w}
    assert hosts == {"localhost"}


def test_the_lan_address_is_this_machines_own():
    """Whatever lan_address() finds is an IPv4 address bound on this machine (a socket can be
    bound to it) and not loopback; None is allowed (a machine with only loopback)."""
    address = lan_address()
    if address is None:
        return
    ip = ipaddress.ip_address(address)
    assert ip.version == 4 and not ip.is_loopback and not ip.is_link_local
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))  # raises if the address is not this machine's


def test_lan_address_is_none_when_only_loopback_answers(monkeypatch):
    class LoopbackOnly:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def connect(self, address):
            raise OSError("Network is unreachable")

    monkeypatch.setattr(share_link.socket, "socket", LoopbackOnly)
    monkeypatch.setattr(
        share_link.socket, "getaddrinfo", lambda *a: [(2, 1, 6, "", ("127.0.1.1", 0))]
    )
    assert lan_address() is None


# --- the QR code ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20:8501/convolution?lang=en&input=mnist:7&filter=horizontal-sobel",
        "http://localhost:8501/?lang=vi",
        "https://cnn.example.edu/app/train_live?lang=en&preset=custom&dataset=MNIST&net=strong"
        "&filters=16&opt=adam&lr=0.001&batch=64&epochs=3&train=all&test=all&seed=42",
    ],
)
def test_the_qr_code_reads_back_as_the_link(zxingcpp, url):
    assert decode(zxingcpp, share_link.qr_png(url)) == url


def test_the_qr_code_is_dark_on_white_with_its_quiet_zone():
    image = Image.open(io.BytesIO(share_link.qr_png("http://192.168.1.20:8501/?lang=en")))
    grey = image.convert("L")
    width, height = grey.size
    assert width == height >= 300
    border = 4 * 12  # four modules of 12 px
    assert all(grey.getpixel((x, y)) == 255 for x in range(border) for y in range(height))
    assert grey.getpixel((border, border)) == 0  # the finder pattern's dark corner


# --- the dialog in the app --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def texts(at: AppTest) -> list[str]:
    return (
        [m.value for m in at.markdown]
        + [c.value for c in at.code]
        + [c.value for c in at.caption]
        + [w.value for w in at.warning]
        + [i.value for i in at.info]
    )


def kinds_in_dialog(at: AppTest) -> list[str]:
    """The element types inside the (one) open dialog."""

    def walk(node, inside):
        kind = getattr(node, "type", None)
        found = [kind] if inside and kind else []
        for child in getattr(node, "children", {}).values():
            found += walk(child, inside or kind == "dialog")
        return found

    return walk(at._tree, False)


def open_share_dialog(lang: str, url: str | None, page: str | None = None) -> AppTest:
    """app.py with ``?lang=`` and the browser's URL, the Join / share button clicked."""
    i18n.set_language(lang)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = lang
    at.context = {"url": url} if url else {}
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    at.button(key="cnnviz.share_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_the_dialog_shows_the_qr_code_and_the_link(lang, monkeypatch):
    monkeypatch.setattr(share_link, "lan_address", lambda: LAN)
    at = open_share_dialog(lang, "http://localhost:8501/", page="pages/3_pooling.py")
    (code,) = [c.value for c in at.code]
    # AppTest runs without a server: server.address is unset, as when Streamlit listens on
    # every interface, so localhost becomes the LAN address.
    # The page's own state travels too (docs/links.md): the Pooling page's input, mode, size.
    assert code.startswith(f"http://{LAN}:8501/pooling?lang={lang}&")
    assert {"input=4x4", "mode=max", "size=2"} <= set(code.split("?", 1)[1].split("&"))
    assert kinds_in_dialog(at).count("image") == 1  # the QR code, inside the dialog
    i18n.set_language(lang)
    assert any(i18n._("Scan the code with your phone's camera, or type the address:") in t
               for t in texts(at))  # fmt: skip
    assert any(LAN in t for t in texts(at) if t != code)


def test_the_dialog_without_a_browser_url_says_so():
    at = open_share_dialog("vi", url=None)
    i18n.set_language("vi")
    assert [i.value for i in at.info] == [
        i18n._("The browser has not said this page's address yet. Close this and try again.")
    ]


def test_sharing_a_drawing_says_the_drawing_does_not_travel(monkeypatch):
    import numpy as np

    from cnnviz.ui import state

    monkeypatch.setattr(share_link, "lan_address", lambda: LAN)
    i18n.set_language("en")
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"url": "http://localhost:8501/"}
    at.session_state[state.CURRENT_IMAGE] = np.zeros((28, 28), np.float32)
    at.session_state[state.CURRENT_IMAGE_SOURCE] = "drawing"
    at.run()
    at.switch_page("pages/4_softmax_backprop.py")
    at.run()
    at.button(key="cnnviz.share_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (code,) = [c.value for c in at.code]
    assert "input=drawing" in code
    assert any("a drawing cannot travel in a link" in t for t in texts(at))
    # An MNIST digit does travel: no such sentence.
    at.session_state[state.CURRENT_IMAGE_SOURCE] = "MNIST test digit #5"
    at.run()
    at.button(key="cnnviz.share_button").click().run()
    assert any("input=test" in c.value for c in at.code)
    assert not any("a drawing cannot travel in a link" in t for t in texts(at))
