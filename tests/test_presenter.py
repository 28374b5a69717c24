"""Presenter view (``?present=1``): kept in the session and the URL across pages like the
language, left with ``?present=0`` or the sidebar's button, every chart drawn 1.3 times larger
(fonts included) on a copy. The collapsed sidebar and the hidden toolbar are checked in Chromium
(tests/test_browser_share.py)."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import i18n
from cnnviz.ui import presenter, state

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
POOLING = "pages/3_pooling.py"


def figure() -> go.Figure:
    fig = go.Figure(
        go.Heatmap(z=[[1, 2], [3, 4]], text=[["1", "2"], ["3", "4"]], textfont=dict(size=14))
    )
    fig.update_layout(width=400, height=300, font=dict(size=16), margin=dict(l=40, t=20))
    fig.update_xaxes(tickfont=dict(size=10))
    fig.add_annotation(text="note", x=0, y=0, font=dict(size=12))
    return fig


def test_scaled_grows_size_margins_and_every_font_on_a_copy():
    fig = figure()
    before = fig.to_plotly_json()
    big = presenter.scaled(fig, 1.5)
    assert fig.to_plotly_json() == before  # the original is left alone
    assert (big.layout.width, big.layout.height) == (600, 450)
    assert (big.layout.margin.l, big.layout.margin.t) == (60, 30)
    assert big.layout.font.size == 24
    assert big.layout.xaxis.tickfont.size == 15
    assert big.layout.annotations[0].font.size == 18
    assert big.data[0].textfont.size == 21
    assert big.data[0].z == fig.data[0].z


def test_scaled_gives_a_figure_without_a_font_size_plotlys_default_times_the_factor():
    big = presenter.scaled(go.Figure(go.Bar(y=[1, 2])), 2)
    assert big.layout.font.size == 24
    assert big.layout.width is None and big.layout.height is None  # autosized stays autosized


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def run(query: dict[str, str] | None = None, page: str | None = None, at=None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def first_chart_layout(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]


def test_present_1_is_kept_in_the_session_and_the_url_across_pages():
    at = run({"present": "1", "lang": "en"})
    assert at.session_state[state.PRESENT] is True
    at.switch_page(POOLING)
    at.query_params.clear()  # moving to a page starts with a bare URL; the app writes it back
    at.run()
    assert at.session_state[state.PRESENT] is True
    assert at.query_params["present"] in ("1", ["1"]) and at.query_params["lang"] in ("en", ["en"])


def test_without_it_the_url_stays_clean_and_charts_keep_their_size():
    plain = run(page=POOLING)
    assert plain.session_state[state.PRESENT] is False
    assert "present" not in plain.query_params
    shown = run({"present": "1"}, page=POOLING)
    small, big = first_chart_layout(plain), first_chart_layout(shown)
    assert big["width"] == round(small["width"] * presenter.SCALE)
    assert big["font"]["size"] == pytest.approx(small["font"]["size"] * presenter.SCALE)


def test_present_0_and_the_sidebar_button_leave_it():
    at = run({"present": "1"})
    at.query_params["present"] = "0"
    at.run()
    assert at.session_state[state.PRESENT] is False and "present" not in at.query_params
    at = run({"present": "1"}, page=POOLING)
    leave = at.button(key=presenter.BUTTON_KEY)
    assert leave.label == "Leave presenter view"
    leave.click().run()
    assert at.session_state[state.PRESENT] is False and "present" not in at.query_params
    assert at.button(key=presenter.BUTTON_KEY).label == "Presenter view"


def test_the_button_reads_vietnamese():
    i18n.set_language("vi")
    at = run({"present": "1", "lang": "vi"})
    assert at.button(key=presenter.BUTTON_KEY).label == i18n._("Leave presenter view")
    assert at.button(key=presenter.BUTTON_KEY).label != "Leave presenter view"
