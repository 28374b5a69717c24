"""Class mode's Streamlit parts (pages/7_class.py): join or start a class, the student's drawing
and Send, the lecturer's projector view (join code, QR code, live gallery, fine-tuning).

Everything a room holds is in the class store (:mod:`cnnviz.classroom`), opened once per process;
this session keeps only which room it is in (``state.CLASS_ROOM``), the host token when it is the
lecturer's (``state.CLASS_HOST``, checked by the store on every host action), and caches. The host
token is never in the address bar (a ``host=`` in a link is read, then dropped from the address)
and never in a link or QR code for the hall, which carry ``room=`` only.
"""

from __future__ import annotations

import html
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from cnnviz import nn, share_link
from cnnviz.classroom import open_store
from cnnviz.classroom.finetune import MIN_DIGITS
from cnnviz.errors import InputError
from cnnviz.i18n import N_, _
from cnnviz.plots import classroom as plots
from cnnviz.ui import inputs, language, models, state

SEND_EVERY = 3.0  # seconds between two sends of one person
WATCH_EVERY = 5.0  # seconds: how often a student's page looks whether the lecturer changed it
MOST_SENDS = 30  # drawings one person may send to one room
clock = time.monotonic  # the rate limit's clock (tests move it on)
GALLERY_MOST = 280  # tiles in the gallery (20 rows of 14): a projector's worth; a digit filters
TUNE_AT_LEAST = MIN_DIGITS  # drawings the class needs before "Learn the class's handwriting"
CODE = re.compile(r"[A-Za-z0-9-]{4,16}")  # what a link's room= may hold (the store decides)
BASE_MODELS = {"tutorial": N_("Tutorial network"), "strong": N_("Stronger network")}
CODE_STYLE = """<style>
.cnnviz-code { font-size: 5.5rem; font-weight: 700; letter-spacing: 0.12em; line-height: 1.1;
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.cnnviz-prompt { font-size: 2.2rem; font-weight: 600; }
</style>"""
DIGITS_WRAP = """<style>
.st-key-class_digit [role="radiogroup"], .st-key-class_digit [role="group"],
.st-key-class_digit [data-testid="stButtonGroup"] > div { flex-wrap: wrap; overflow: visible; }
</style>"""


# --- the store and the room ---------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _store(where: str | None):
    return open_store()  # None: CNNVIZ_CLASSROOM_DB or the default SQLite file


def store():
    """The class store, opened once per process (per ``CNNVIZ_CLASSROOM_DB``)."""
    return _store(os.environ.get("CNNVIZ_CLASSROOM_DB"))


def clean_code(text: str | None) -> str:
    """A code as typed ("  abc123 ") -> as stored ("ABC123"); ValueError when it cannot be one."""
    text = (text or "").strip().upper()
    if not CODE.fullmatch(text):
        raise ValueError(text)
    return text


def leave() -> None:
    """This session is in no room any more (its drawing stays on the canvas)."""
    for key in (state.CLASS_ROOM, state.CLASS_HOST, state.CLASS_GALLERY):
        st.session_state.pop(key, None)


def say(place: str, kind: str, sentence: str) -> None:
    """Keep one sentence (``kind`` "error", "warning", "info" or "success") to show at ``place``
    in the page's next run: actions are button callbacks, run before the page is drawn."""
    st.session_state.setdefault(state.CLASS_SAID, {})[place] = (kind, sentence)


def said(place: str) -> None:
    """Show (once) the sentence kept for ``place``."""
    kind, sentence = st.session_state.get(state.CLASS_SAID, {}).pop(place, (None, None))
    if sentence:
        getattr(st, kind)(sentence)


def current_room():
    """(Room, is_host) of this session, or (None, False). A room that does not exist or has
    ended, or a host token that is not the room's, is said in one sentence; the session then
    leaves the room (or becomes one of its students)."""
    code = st.session_state.get(state.CLASS_ROOM)
    if not code:
        return None, False
    try:
        room = store().room(code)
    except InputError as exc:
        leave()
        say("top", "error", str(exc))
        return None, False
    st.session_state[state.CLASS_ROOM] = room.code  # "abc-123" in a link -> ABC123
    token = st.session_state.get(state.CLASS_HOST)
    if not token:
        return room, False
    try:
        return store().check_host(code, token), True
    except InputError:
        st.session_state.pop(state.CLASS_HOST, None)
        say("top", "warning", _(
            "This link's host key does not open class {code}, so you see what a student sees. "
            "Use the link the class was started with."
        ).format(code=code))  # fmt: skip
        return room, False


def _join() -> None:
    try:  # the store reads "abc 123" or "ABC-123" as ABC123
        room = store().room(st.session_state.get("class.join_code") or "")
    except InputError as exc:
        say("join", "error", str(exc))
        return
    leave()
    st.session_state[state.CLASS_ROOM] = room.code


def join_form() -> None:
    """A code box and Join: a wrong or guessed code gets one sentence."""
    with st.container(border=True):
        st.subheader(_("Join a class"))
        st.text_input(_("The code on the lecturer's screen"), max_chars=16, key="class.join_code")
        st.button(_("Join"), type="primary", width="stretch", key="class.join", on_click=_join)
        said("join")


def _start() -> None:
    try:
        room = store().create_room(
            prompt=as_prompt(st.session_state.get("class.start_prompt")),
            base_model=st.session_state.get("class.start_model") or "strong",
        )
    except InputError as exc:
        say("start", "error", str(exc))
        return
    leave()
    st.session_state[state.CLASS_ROOM] = room.code
    st.session_state[state.CLASS_HOST] = room.host_token


def start_form() -> None:
    """The lecturer's form: the digit to draw (or any), the network to start from."""
    available = [key for key, label in BASE_MODELS.items() if label in nn.bundled_models()]
    with st.container(border=True):
        st.subheader(_("Start a class (lecturer)"))
        st.selectbox(
            _("What should everyone draw?"),
            PROMPTS,
            format_func=prompt_choice,
            index=8,
            key="class.start_prompt",
        )
        st.radio(
            _("The network the class starts with"),
            available or list(BASE_MODELS),
            format_func=lambda key: _(BASE_MODELS[key]),
            index=len(available) - 1 if available else 0,
            key="class.start_model",
            horizontal=True,
        )
        st.button(_("Start the class"), width="stretch", key="class.start", on_click=_start)
        said("start")


ANY = "any"  # the prompt boxes' "any digit" (a selectbox shows None as "Choose an option")
PROMPTS = [ANY, *range(10)]


def as_prompt(choice) -> int | None:
    """A prompt box's choice as the store keeps it: None for any digit, else the digit."""
    return None if choice in (None, ANY) else int(choice)


def prompt_choice(choice) -> str:
    return _("any digit") if choice in (None, ANY) else str(choice)


def prompt_text(prompt: int | None) -> str:
    return _("Draw any digit") if prompt is None else _("Draw a {digit}").format(digit=prompt)


# --- models and predictions ---------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=32)
def _class_model(code: str, model: str) -> nn.Sequential:
    return nn.load_model(store().model_bytes(code, model))  # model: "class:<id>"


def room_model(room) -> tuple[str, nn.Sequential | None]:
    """(its name in the reader's language, the model) the room predicts with now; shared by every
    session, so only traced, never trained."""
    if str(room.model).startswith("class:"):
        model_id = room.model.split(":", 1)[1]
        name = _("Fine-tuned on this class (#{id})").format(id=model_id)
        return name, _class_model(room.code, room.model)
    label = BASE_MODELS.get(room.model, BASE_MODELS["strong"])
    path = nn.bundled_models().get(label)
    if path is None:
        return _(models.QUICK_LABEL), models.quick_model()
    return _(label), models.load_bundled(str(path))


def predict(model: nn.Sequential, images: np.ndarray) -> np.ndarray:
    """uint8 drawings (N, 28, 28) -> probabilities (N, 10), in one batched pass per 256 (a pure
    trace: a model shared between sessions needs no lock)."""
    x = np.asarray(images, dtype=np.float32)[..., None] / np.float32(255) - np.float32(0.5)
    out = [model.trace(x[i : i + 256]).output for i in range(0, len(x), 256)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 10), np.float32)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A drawing (28, 28) in [0, 1] as the store keeps it: uint8 0-255."""
    return np.clip(np.rint(np.asarray(image) * 255), 0, 255).astype(np.uint8)


def read_drawing(model: nn.Sequential, image: np.ndarray) -> np.ndarray:
    """The probabilities (10,) of the drawing, as the lecturer's gallery gets them (uint8)."""
    return predict(model, as_uint8(image)[None])[0]


# --- the student --------------------------------------------------------------------------


@st.cache_data(ttl=1.5, show_spinner=False, max_entries=256)
def room_state(code: str) -> tuple | None:
    """(prompt, model) of the open room ``code``, or None when it has ended; read from the
    store at most every 1.5 s per room and process, however many phones ask."""
    try:
        room = store().room(code)
    except InputError:
        return None
    return room.prompt, room.model


@st.fragment(run_every=WATCH_EVERY)
def watch(code: str, shown: tuple) -> None:
    """On a student's page, every few seconds: when the lecturer has changed the prompt or the
    network, or closed the class, since the page showed ``shown`` = (prompt, model), the whole
    page runs again, so a phone nobody touches still shows what the projector says. Draws
    nothing; the drawing on the canvas stays."""
    language.restore()
    try:
        now = room_state(code)
    except Exception:  # the database busy or gone: look again next time
        return
    if now != shown:
        st.rerun()


def keep_drawing(image: np.ndarray, steps: list) -> None:
    """The class canvas's use of a new drawing: kept for Send, not the other pages' input."""
    st.session_state[state.CLASS_DRAWING] = np.asarray(image, dtype=np.float32)


def label_picker(room) -> int:
    """ "Which digit did you draw?", set to the prompt's digit (again when the prompt changes)."""
    if st.session_state.get("class.label_for") != (room.code, room.prompt):
        st.session_state["class.label_for"] = (room.code, room.prompt)
        st.session_state["class.label"] = room.prompt
    with st.container(key="class_digit"):  # its ten buttons wrap on a 390 px phone
        st.html(DIGITS_WRAP)
        return st.pills(_("Which digit did you draw?"), list(range(10)), key="class.label")


def refused(code: str) -> str | None:
    """The rate limit's sentence when this session may not send to ``code`` now, else None."""
    sends = st.session_state.setdefault(state.CLASS_SENDS, {}).get(code, [])
    if len(sends) >= MOST_SENDS:
        return _("You have sent {count} drawings to this class, the most one person can.").format(
            count=MOST_SENDS
        )
    if sends and clock() - sends[-1] < SEND_EVERY:
        return _("Wait {seconds} seconds between two drawings, then press Send again.").format(
            seconds=int(SEND_EVERY)
        )
    return None


def send(code: str) -> None:
    """Send's callback: the drawing with its label to room ``code``; any refusal is one
    sentence and the drawing stays on the canvas."""
    image, label = st.session_state.get(state.CLASS_DRAWING), st.session_state.get("class.label")
    if image is None:
        return say("send", "info", _("Draw a digit on the canvas first."))
    if label is None:
        return say("send", "info", _("Choose which digit you drew, then press Send."))
    key = (inputs.image_key(image), label)
    last = st.session_state.get(state.CLASS_LAST)
    if last and last["room"] == code and last["key"] == key:
        again = _("This drawing is already sent: clear the canvas and draw another.")
        return say("send", "info", again)
    sentence = refused(code)
    if sentence:
        return say("send", "warning", sentence)
    try:
        submission = store().submit(code, as_uint8(image), int(label))
    except InputError as exc:
        kept = _("{error} Your drawing is still on the canvas.").format(error=exc)
        return say("send", "error", kept)
    except Exception as exc:  # the database busy or gone: say so, keep the drawing
        busy = _(
            "The class could not take your drawing just now ({error}); it is still on the "
            "canvas: press Send again in a moment."
        ).format(error=type(exc).__name__)
        return say("send", "error", busy)
    st.session_state[state.CLASS_SENDS].setdefault(code, []).append(clock())
    st.session_state[state.CLASS_LAST] = {"room": code, "key": key, "id": submission.id}


def sent_line(room, label) -> None:
    last = st.session_state.get(state.CLASS_LAST)
    image = st.session_state.get(state.CLASS_DRAWING)
    if not last or last["room"] != room.code or image is None:
        return
    if last["key"] == (inputs.image_key(image), label):
        st.success(_("Sent! It is on the lecturer's screen now. Draw another one if you like."))


# --- the host -----------------------------------------------------------------------------


def code_block(room) -> None:
    """The join code, large enough to read from the back of a hall, and the prompt."""
    st.html(CODE_STYLE)
    st.markdown(
        f"<div class='cnnviz-code'>{html.escape(room.code)}</div>"
        f"<div class='cnnviz-prompt'>{html.escape(prompt_text(room.prompt))}</div>",
        unsafe_allow_html=True,
    )


def join_link(room) -> share_link.ShareLink | None:
    """The students' link to the room (``room=`` and the language only: never the host token)."""
    try:
        url = st.context.url
    except Exception:  # no browser behind this run
        url = None
    if not url:
        return None
    query = {"room": room.code, "lang": st.query_params.get("lang") or "en"}
    return share_link.share_link(
        url, query, st.get_option("server.address"), share_link.lan_address()
    )


def host_link(link: share_link.ShareLink) -> str:
    """The lecturer's own link back to the projector view (the join link and the host key)."""
    return link.url + "&" + urlencode({"host": st.session_state.get(state.CLASS_HOST, "")})


@st.cache_data(show_spinner=False, max_entries=16)
def qr(text: str) -> bytes:
    return share_link.qr_png(text, module_px=10)


def host_action(action, *args) -> bool:
    """Run a store call that needs the host token (the store checks it, every time); a refusal
    is said in one sentence under the host's controls."""
    code, token = st.session_state.get(state.CLASS_ROOM), st.session_state.get(state.CLASS_HOST)
    if not code or not token:
        say("host", "error", _("Only the lecturer who started this class can do that."))
        return False
    try:
        action(code, token, *args)
    except InputError as exc:
        say("host", "error", str(exc))
        return False
    return True


def change_prompt() -> None:
    """The prompt box's callback."""
    prompt = as_prompt(st.session_state.get("class.host_prompt"))
    host_action(lambda code, token: store().set_prompt(code, token, prompt))


def close_room() -> None:
    """Close's callback: the room takes no more drawings; this session leaves it."""
    code = st.session_state.get(state.CLASS_ROOM)
    if host_action(lambda c, token: store().close(c, token)):
        leave()
        say("top", "info", _("Class {code} is closed.").format(code=code))


@dataclass
class Gallery:
    """The host session's copy of the room's drawings and their predictions by one model, read
    a few new rows at a time (``since_id``) and predicted in one batch."""

    room: str
    model: str = ""
    last_id: int = 0
    images: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.uint8))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    probs: np.ndarray = field(default_factory=lambda: np.zeros((0, 10), np.float32))

    def update(self, rows, model_key: str, model) -> None:
        if rows:
            self.last_id = max(self.last_id, max(r.id for r in rows))
            new_images = np.stack([np.asarray(r.image, np.uint8) for r in rows])
            self.images = np.concatenate([self.images, new_images])
            self.labels = np.concatenate([self.labels, [int(r.label) for r in rows]])
        if model_key != self.model:  # another model: every drawing again, in one batch
            self.model, self.probs = model_key, predict(model, self.images)
        elif len(self.probs) < len(self.images):
            self.probs = np.concatenate(
                [self.probs, predict(model, self.images[len(self.probs) :])]
            )

    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1) if len(self.probs) else np.zeros(0, np.int64)

    def shown(self, digit: int | None, newest_first: bool, most: int = GALLERY_MOST):
        """(images, meant, read, confidence) of the first ``most`` drawings of ``digit`` (None:
        all) in the gallery's order, and how many drawings of it there are."""
        read, sure = self.predicted(), self.probs.max(axis=1) if len(self.probs) else np.zeros(0)
        rows = np.flatnonzero(self.labels == digit) if digit is not None else np.arange(len(read))
        order = rows[plots.gallery_order(self.labels[rows], read[rows], sure[rows], newest_first)]
        order = order[:most]
        return self.images[order], self.labels[order], read[order], sure[order], len(rows)


def gallery(room, model) -> Gallery:
    """The room's drawings so far with their predictions (only new rows are read)."""
    kept = st.session_state.get(state.CLASS_GALLERY)
    if not isinstance(kept, Gallery) or kept.room != room.code:
        kept = st.session_state[state.CLASS_GALLERY] = Gallery(room.code)
    kept.update(store().submissions(room.code, since_id=kept.last_id), str(room.model), model)
    return kept
