"""The Train live page's run controls: Start, Pause / Resume, One batch, Stop, Reset, and
"use this model". Each button's callback finds the session's run in ``st.session_state``; a
click drawn before a Reset (a stale page, a double click) finds none and is ignored."""

from __future__ import annotations

import streamlit as st

from cnnviz.errors import InputError
from cnnviz.i18n import _
from cnnviz.training import TrainingWorker
from cnnviz.ui import layout, models, state, train_settings


def new_worker(paused: bool) -> None:
    old = st.session_state.get(state.TRAINER)
    if old is not None:
        old.stop()
    try:
        config = train_settings.read_config()
        fresh = TrainingWorker(config, owner_alive=layout.session_alive_probe())
    except InputError as exc:  # the template and its parameters: shown in the reader's language
        st.session_state[state.TRAIN_ERROR] = (exc.template, exc.params)
        return
    st.session_state.pop(state.TRAIN_ERROR, None)
    st.session_state[state.TRAINER] = fresh
    if paused:
        fresh.step()
    else:
        fresh.start()


def on_step() -> None:
    current = st.session_state.get(state.TRAINER)
    if current is None or not current.alive:
        new_worker(paused=True)
    else:
        current.step()


def on_command(name: str) -> None:
    """pause / resume / stop the run. A click on a button drawn before a Reset (a stale page,
    a double click) finds no run: ignore it."""
    if (current := st.session_state.get(state.TRAINER)) is not None:
        getattr(current, name)()


def on_reset() -> None:
    current = st.session_state.pop(state.TRAINER, None)
    if current is not None:
        current.stop()


def on_use() -> None:
    current = st.session_state.get(state.TRAINER)
    if current is None:
        return
    st.session_state[state.SESSION_MODEL] = current.model
    st.session_state[state.CURRENT_MODEL_CHOICE] = models.SESSION_LABEL


def controls(worker: TrainingWorker | None) -> None:
    """Start, Pause / Resume, One batch, Stop, Reset."""
    running = worker is not None and worker.alive
    paused = running and worker.paused
    b1, b2, b3, b4, b5 = st.columns(5)
    wide = {"width": "stretch"}
    start = {"on_click": new_worker, "args": (False,), "type": "primary"}
    b1.button(_("Start"), icon=":material/play_arrow:", disabled=running, **start, **wide)
    if paused:
        b2.button(
            _("Resume"), icon=":material/resume:", on_click=on_command, args=("resume",), **wide
        )
    else:
        pause = {"on_click": on_command, "args": ("pause",), "disabled": not running}
        b2.button(_("Pause"), icon=":material/pause:", **pause, **wide)
    b3.button(
        _("One batch"),
        icon=":material/skip_next:",
        on_click=on_step,
        disabled=running and not paused,
        help=_("Pause, then train exactly one more batch."),
        **wide,
    )
    stop = {"on_click": on_command, "args": ("stop",), "disabled": not running}
    b4.button(_("Stop"), icon=":material/stop:", **stop, **wide)
    reset = {"on_click": on_reset, "disabled": worker is None}
    b5.button(_("Reset"), icon=":material/restart_alt:", **reset, **wide)
