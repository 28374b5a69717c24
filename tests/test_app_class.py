"""AppTest of the Class page (issue 16): joining, the student's drawing and Send, the lecturer's
projector view, and every host action refused to a student.

The store is the real one (cnnviz.classroom) on an SQLite file of the test's own
(``CNNVIZ_CLASSROOM_DB``); rooms and drawings are put in and read back through it, not through
the page. Oracles: the network's reading of a drawing is the bundled model run directly on the
28x28 image MNIST's recipe makes (``preprocess.to_mnist``, scaled x / 255 - 0.5), the class's
accuracy the same model on the MNIST digits put in the room; the rate limit's numbers are the
issue's (one send per 3 s, 30 per room).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import i18n, nn, preprocess, share_link
from cnnviz.classroom import open_store
from cnnviz.errors import InputError
from cnnviz.ui import classroom, state
from tests.drawings import black_canvas

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = "pages/7_class.py"
HOST_WIDGETS = ("class.host_prompt", "class.tune", "class.close")

needs_bundled = pytest.mark.skipif(
    "Stronger network" not in nn.bundled_models(), reason="the bundled stronger model is missing"
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A class store of this test's own, the one the page opens too."""
    monkeypatch.setenv("CNNVIZ_CLASSROOM_DB", str(tmp_path / "class.sqlite3"))
    return open_store()


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


@pytest.fixture(scope="module")
def strong():
    return nn.load_model(nn.bundled_models()["Stronger network"])


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_class(query: dict[str, str] | None = None, at: AppTest | None = None) -> AppTest:
    """A new browser opening /class with ``query`` (the app's first page first)."""
    at = AppTest.from_file(APP, default_timeout=120) if at is None else at  # an AppTest is falsy
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page(PAGE)
    return ok(at.run())


def query(at: AppTest) -> dict[str, str]:
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in dict(at.query_params).items()}


def keys(at: AppTest) -> set[str]:
    """The keys of every widget on the page."""
    found = set()

    def walk(node):
        key = getattr(node, "key", None)
        if key:
            found.add(key)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def dialog_codes(at: AppTest) -> list[str]:
    """The text of every st.code inside the open dialog (Join / share)."""

    def walk(node, inside):
        kind = getattr(node, "type", None)
        found = [node.value] if inside and kind == "code" else []
        for child in getattr(node, "children", {}).values():
            found += walk(child, inside or kind == "dialog")
        return found

    return walk(at._tree, False)


def sentences(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]


def metric(at: AppTest, label: str):
    found = [m.value for m in at.metric if m.label == label]
    return found[0] if found else None


def button(at: AppTest, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def put_digits(store, code: str, x: np.ndarray, y: np.ndarray) -> None:
    for image, label in zip(x, y, strict=True):
        store.submit(code, image, int(label))


def reading(model, rgba: np.ndarray) -> tuple[int, np.ndarray]:
    """The oracle: MNIST's recipe on the canvas, then the model run directly (x / 255 - 0.5)."""
    image = np.rint(preprocess.to_mnist(rgba) * 255).astype(np.uint8)
    probs = model.predict(image[None, :, :, None] / 255.0 - 0.5)[0]
    return int(probs.argmax()), image


# --- joining ----------------------------------------------------------------------------------


def test_joining_with_a_wrong_code_says_one_sentence(store):
    store.create_room(prompt=7)  # a real room exists; the code typed is another one
    at = open_class()
    assert [s.value for s in at.subheader][:2] == ["Join a class", "Start a class (lecturer)"]
    for typed in ("QQQQQQ", "not a code!", ""):
        at.text_input(key="class.join_code").input(typed)
        ok(button(at, "Join").click().run())
        (sentence,) = sentences(at)
        assert sentence.count(".") == 1 and "code" in sentence, sentence
        assert state.CLASS_ROOM not in at.session_state
        assert "room" not in query(at)


def test_a_room_in_a_link_that_does_not_exist_says_one_sentence(store):
    room = store.create_room()
    store.close(room.code, room.host_token)
    for code in ("QQQQQQ", room.code, "<b>x</b>"):
        at = open_class({"room": code})
        said = sentences(at) + [c.value for c in at.caption if "link" in c.value]
        assert len(said) == 1, said
        assert "Join a class" in [s.value for s in at.subheader]  # back to joining
        assert "room" not in query(at)


def test_joining_with_the_code_opens_the_student_view(store):
    room = store.create_room(prompt=4)
    at = open_class()
    at.text_input(key="class.join_code").input(room.code.lower()[:3] + " " + room.code[3:].lower())
    ok(button(at, "Join").click().run())
    assert at.session_state[state.CLASS_ROOM] == room.code
    assert query(at)["room"] == room.code and "host" not in query(at)
    assert any(m.value == "### Draw a 4" for m in at.markdown)
    # A link with the code as a person types it is read the same way, and written back clean.
    typed = open_class({"room": f"{room.code[:3].lower()}-{room.code[3:].lower()}"})
    assert query(typed)["room"] == room.code
    assert any(m.value == "### Draw a 4" for m in typed.markdown)


@needs_bundled
def test_starting_a_class_opens_the_host_view(store):
    at = open_class()
    at.selectbox(key="class.start_prompt").set_value(3)
    at.radio(key="class.start_model").set_value("tutorial")
    ok(at.button(key="class.start").click().run())
    code = at.session_state[state.CLASS_ROOM]
    room = store.room(code)
    assert (room.prompt, room.model) == (3, "tutorial")
    assert store.check_host(code, at.session_state[state.CLASS_HOST]).code == code
    assert set(HOST_WIDGETS) <= keys(at)
    assert query(at) == {"lang": "en", "room": code}  # the key is not in the address
    assert metric(at, "Drawings") == "0"


# --- the student ------------------------------------------------------------------------------


@needs_bundled
def test_student_draws_sees_the_guess_and_sends(store, canvas, mnist_test, strong, monkeypatch):
    x_test, _y = mnist_test
    room = store.create_room(prompt=7, base_model="strong")
    at = open_class({"room": room.code})
    assert at.session_state["class.label"] == 7  # "Which digit did you draw?" set to the prompt
    assert not set(HOST_WIDGETS) & keys(at)
    # Send before drawing: one sentence, nothing stored.
    ok(button(at, "Send").click().run())
    assert "Draw a digit on the canvas first." in sentences(at) and store.count(room.code) == 0

    seven = black_canvas(x_test[0])  # MNIST test digit 0 is a 7
    canvas.draw(seven)
    ok(at.run())
    expected, image = reading(strong, seven)
    assert metric(at, "The network reads") == str(expected) == "7"
    now = [1000.0]
    monkeypatch.setattr(classroom, "clock", lambda: now[0])
    ok(button(at, "Send").click().run())
    (sent,) = store.submissions(room.code)
    assert sent.label == 7 and np.array_equal(sent.image, image)
    assert any("Sent!" in s.value for s in at.success)

    # The same drawing again: said, not stored twice.
    now[0] += 10
    ok(button(at, "Send").click().run())
    assert store.count(room.code) == 1 and any("already sent" in s for s in sentences(at))
    # Another drawing within 3 s of the last send: the rate limit's sentence; the drawing stays.
    now[0] = 1000.0 + 1.0
    canvas.draw(black_canvas(x_test[17]))  # another 7
    ok(at.run())
    ok(button(at, "Send").click().run())
    assert store.count(room.code) == 1
    assert any("Wait 3 seconds" in s for s in sentences(at))
    assert at.session_state[state.CLASS_DRAWING] is not None
    now[0] += 3.5
    ok(button(at, "Send").click().run())
    assert store.count(room.code) == 2
    # At most 30 per room per session.
    at.session_state[state.CLASS_SENDS] = {room.code: [0.0] * classroom.MOST_SENDS}
    canvas.draw(black_canvas(x_test[26]))
    now[0] += 10
    ok(at.run())
    ok(button(at, "Send").click().run())
    assert store.count(room.code) == 2
    assert any("the most one person can" in s for s in sentences(at))


def test_a_drawing_sent_to_a_closed_room_stays_on_the_canvas(store, canvas, mnist_test):
    x_test, _y = mnist_test
    room = store.create_room(prompt=None)
    at = open_class({"room": room.code})
    canvas.draw(black_canvas(x_test[1]))
    at.pills(key="class.label").set_value(2)
    ok(at.run())
    store.close(room.code, room.host_token)  # the lecturer ends the class while they draw
    ok(button(at, "Send").click().run())
    assert sentences(at) == ["This room has been closed by its host."]  # one sentence
    # The drawing is kept: joining another class, it is still there to send.
    assert at.session_state[state.CLASS_DRAWING] is not None
    other = store.create_room(prompt=2)
    at.text_input(key="class.join_code").input(other.code)
    ok(button(at, "Join").click().run())
    ok(button(at, "Send").click().run())
    (sent,) = store.submissions(other.code)
    assert sent.label == 2


def test_a_database_error_on_send_is_one_sentence_and_the_drawing_stays(store, canvas, mnist_test):
    import sqlite3

    x_test, _y = mnist_test
    room = store.create_room(prompt=7)
    at = open_class({"room": room.code})
    canvas.draw(black_canvas(x_test[0]))
    ok(at.run())
    page_store = classroom.store()

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(page_store, "submit", locked)
        ok(button(at, "Send").click().run())
    (said,) = [e.value for e in at.error]
    assert "OperationalError" in said and "still on the canvas" in said
    ok(button(at, "Send").click().run())  # the same drawing, once the database answers again
    (sent,) = store.submissions(room.code)
    assert sent.label == 7


# --- the host ---------------------------------------------------------------------------------


def host_view(store, room, lang: str = "en", **extra) -> AppTest:
    return open_class({"room": room.code, "host": room.host_token, "lang": lang, **extra})


@needs_bundled
def test_host_view_shows_code_link_gallery_and_the_class_accuracy(store, mnist_test, strong,
                                                                   monkeypatch):  # fmt: skip
    monkeypatch.setattr(share_link, "lan_address", lambda: "192.168.1.20")
    x_test, y_test = mnist_test
    room = store.create_room(prompt=None, base_model="strong")
    # MNIST digits, some with a wrong label, as a careless class would send.
    labels = y_test[:40].copy()
    labels[:5] = (labels[:5] + 1) % 10
    put_digits(store, room.code, x_test[:40], labels)
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"url": "http://localhost:8501/class"}
    at = open_class({"room": room.code, "host": room.host_token}, at=at)
    assert set(HOST_WIDGETS[:1]) <= keys(at)
    assert any(room.code in m.value and "cnnviz-code" in m.value for m in at.markdown)
    assert metric(at, "Drawings") == "40"
    read = strong.predict(x_test[:40, :, :, None] / 255.0 - 0.5).argmax(1)
    assert metric(at, "Class accuracy") == f"{np.mean(read == labels):.0%}"
    # The join link: the room, never the host key.
    (link,) = [m.value for m in at.markdown if m.value.startswith("Open **")]
    assert f"http://192.168.1.20:8501/class?room={room.code}" in link
    assert room.host_token not in link and "host=" not in link
    # The address bar (on the projector) keeps the room but not the host key; the session does.
    assert query(at)["room"] == room.code and "host" not in query(at)
    # The lecturer's own link, in a closed expander, brings a new browser back to this view.
    (own,) = [c.value for c in at.code if "host=" in c.value]
    assert own == f"http://192.168.1.20:8501/class?room={room.code}&lang=en&host={room.host_token}"
    again = open_class(dict(part.split("=", 1) for part in own.split("?", 1)[1].split("&")))
    assert set(HOST_WIDGETS) <= keys(again) and "host" not in query(again)
    # New drawings appear on the next refresh (only new rows are read).
    put_digits(store, room.code, x_test[40:43], y_test[40:43])
    ok(at.run())
    assert metric(at, "Drawings") == "43"
    # The prompt is the lecturer's to change.
    at.selectbox(key="class.host_prompt").set_value(3)
    ok(at.run())
    assert store.room(room.code).prompt == 3


def test_the_join_share_dialog_on_the_host_view_carries_no_host_key(store, monkeypatch):
    monkeypatch.setattr(share_link, "lan_address", lambda: "192.168.1.20")
    room = store.create_room()
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"url": "http://localhost:8501/class"}
    at = open_class({"room": room.code, "host": room.host_token, "present": "1"}, at=at)
    ok(at.button(key="cnnviz.share_button").click().run())
    (code,) = dialog_codes(at)
    assert f"room={room.code}" in code
    assert "host" not in code and room.host_token not in code and "present" not in code


def test_closing_the_class(store):
    room = store.create_room()
    at = host_view(store, room)
    ok(at.button(key="class.close").click().run())
    assert any(f"Class {room.code} is closed." == s for s in sentences(at))
    with pytest.raises(InputError):
        store.room(room.code)
    assert "room" not in query(at) and "host" not in query(at)


@needs_bundled
def test_learning_the_class_handwriting(store, mnist_test):
    x_test, y_test = mnist_test
    room = store.create_room(base_model="tutorial")
    put_digits(store, room.code, x_test[100:124], y_test[100:124])
    at = host_view(store, room)
    ok(at.button(key="class.tune").click().run())
    job = at.session_state[state.CLASS_TUNING]
    job.thread.join(timeout=300)
    assert job.done and job.error is None, job.error
    ok(at.run())
    assert store.room(room.code).model == f"class:{job.model_id}"
    (saved,) = store.models(room.code)
    # The numbers shown are the ones fine_tune measured and the store kept.
    assert metric(at, "Held-out class drawings") == f"{saved.metrics['held_after']:.1%}"
    assert metric(at, "MNIST test set") == f"{saved.metrics['mnist_after']:.1%}"
    assert saved.metrics["n_train"] + saved.metrics["n_held"] == 24
    (download,) = at.download_button
    assert download.label == "Download the model (.npz)"
    # Everyone in the room now reads with the fine-tuned model.
    assert metric(at, "Model") == f"Fine-tuned on this class (#{job.model_id})"


# --- host actions from a student are refused --------------------------------------------------


def test_a_student_has_no_host_actions(store):
    room = store.create_room(prompt=5)
    at = open_class({"room": room.code})
    assert not set(HOST_WIDGETS) & keys(at)
    assert "class.gallery" not in keys(at)
    assert button(at, "Send")
    assert store.room(room.code).prompt == 5


@pytest.mark.parametrize("token", ["wrong-token-0123456789abcdefghijk", "x"])
def test_a_wrong_host_key_gets_the_student_view(store, token):
    room = store.create_room(prompt=5)
    at = open_class({"room": room.code, "host": token})
    assert not set(HOST_WIDGETS) & keys(at)
    (warning,) = [w.value for w in at.warning]
    assert room.code in warning and token not in warning
    assert button(at, "Send")
    assert "host" not in query(at) and query(at)["room"] == room.code
    assert store.room(room.code).prompt == 5 and not store.room(room.code).closed


def test_a_student_who_forges_a_host_key_in_the_session_is_refused(store):
    room = store.create_room(prompt=5)
    other = store.create_room(prompt=1)
    at = open_class({"room": room.code})
    at.session_state[state.CLASS_HOST] = other.host_token  # another room's real key
    ok(at.run())
    assert not set(HOST_WIDGETS) & keys(at)
    assert state.CLASS_HOST not in at.session_state
    assert store.room(room.code).prompt == 5 and not store.room(room.code).closed
    assert store.room(room.code).model == "strong"


# --- Vietnamese -------------------------------------------------------------------------------


def test_the_views_in_vietnamese(store):
    room = store.create_room(prompt=7)
    i18n.set_language("vi")
    host = host_view(store, room, lang="vi")
    student = open_class({"room": room.code, "lang": "vi"})
    lobby = open_class({"lang": "vi"})
    i18n.set_language("vi")
    assert metric(host, i18n._("Drawings")) == "0" and i18n._("Drawings") != "Drawings"
    assert button(student, i18n._("Send"))
    assert i18n._("Join a class") in [s.value for s in lobby.subheader]
    assert i18n._("Join a class") != "Join a class"
