"""Stepping through the cells of an output: Previous / Next / Play, row and column sliders, and
a click on the output heatmap. Shared by the Convolution and Pooling pages.

The position lives in ``st.session_state["<prefix>.row"]`` and ``["<prefix>.col"]``; the
widgets use the keys ``<prefix>.prev``, ``<prefix>.next``, ``<prefix>.play`` and the output
figure's key is ``<prefix>.fig_output``.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import lessons
from cnnviz.i18n import _
from cnnviz.ui import language, links


def _keys(prefix: str) -> tuple[str, str]:
    return f"{prefix}.row", f"{prefix}.col"


def keep_inside(prefix: str, out_shape: tuple[int, ...]) -> None:
    """Clamp the stored position when the output got smaller (padding, stride, input)."""
    rk, ck = _keys(prefix)
    st.session_state[rk], st.session_state[ck] = lessons.clamp_position(
        st.session_state.get(rk, 0), st.session_state.get(ck, 0), out_shape
    )


def step(prefix: str, out_shape: tuple[int, ...], delta: int) -> None:
    """Move ``delta`` cells in reading order (wrapping around)."""
    rk, ck = _keys(prefix)
    st.session_state[rk], st.session_state[ck] = lessons.step_position(
        st.session_state[rk], st.session_state[ck], out_shape, delta
    )


def tick(prefix: str, out_shape: tuple[int, ...], playing: bool) -> tuple[int, int]:
    """The top of a stepping fragment: the session's language again (a fragment's own rerun
    skips app.py), one step forward while playing, then the controls; returns (row, col)."""
    language.restore()
    if playing:
        step(prefix, out_shape, 1)
    row, col = controls(prefix, out_shape)
    links.publish_one(st.session_state.get(links.PAGE, ""), "pos", f"{row},{col}")
    return row, col


def clicked(prefix: str, out_shape: tuple[int, ...]) -> None:
    """on_select callback of the output heatmap: a click picks that cell."""
    points = st.session_state[f"{prefix}.fig_output"].selection.points
    if points:
        rk, ck = _keys(prefix)
        st.session_state[rk], st.session_state[ck] = lessons.clamp_position(
            points[0]["y"], points[0]["x"], out_shape
        )


def play_toggle(prefix: str, label: str) -> bool:
    return st.toggle(label, key=f"{prefix}.play")


def controls(prefix: str, out_shape: tuple[int, ...]) -> tuple[int, int]:
    """Previous / Next buttons and the two sliders; returns the current (row, col)."""
    rk, ck = _keys(prefix)
    buttons = st.columns([1, 1, 2.2, 2.2])
    buttons[0].button(
        _("◀ Previous"),
        key=f"{prefix}.prev",
        on_click=step,
        args=(prefix, out_shape, -1),
        width="stretch",
    )
    buttons[1].button(
        _("Next ▶"),
        key=f"{prefix}.next",
        on_click=step,
        args=(prefix, out_shape, 1),
        width="stretch",
    )
    with buttons[2]:
        st.slider(_("Output row"), 0, max(out_shape[0] - 1, 1), key=rk, disabled=out_shape[0] == 1)
    with buttons[3]:
        st.slider(
            _("Output column"), 0, max(out_shape[1] - 1, 1), key=ck, disabled=out_shape[1] == 1
        )
    return st.session_state[rk], st.session_state[ck]
