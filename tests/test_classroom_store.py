"""The class room store on SQLite (a temporary file) and on PostgreSQL (a throwaway server).

PostgreSQL is started by tests/postgres.py (initdb + pg_ctl as the postgres user); without its
binaries the PostgreSQL half is skipped with the reason, except in CI (CI=true), where it fails.
Oracles: the bytes written are compared with the bytes read, the SHA-256 of the host key is
computed here with hashlib, rows are counted with SQL written here, and the concurrency test
encodes (process, number) in each drawing's pixels and checks every pair arrives exactly once.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import re
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from cnnviz import nn
from cnnviz.classroom import ALPHABET, checks, open_store
from cnnviz.classroom import store as store_module
from cnnviz.errors import InputError
from cnnviz.training.worker import _plain_main_module
from tests.conftest import skip_or_fail
from tests.postgres import PostgresMissing, postgres_server

AMBIGUOUS = "0O1IL"


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole session (skipped without one, except in CI)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail('psycopg is not installed (pip install "psycopg[binary]")')
    try:
        with postgres_server() as server:
            yield server
    except PostgresMissing as exc:
        skip_or_fail(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A fresh, empty database: an SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "classroom.sqlite3")
    return request.getfixturevalue("postgres").database()


class Clock:
    """A clock the test moves by hand (seconds since 1970)."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def one_sentence(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.endswith("."), text
    assert len(re.findall(r"[.!?](?:\s|$)", text)) == 1, text
    return text


def drawing(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def model_npz(input_shape=(28, 28, 1)) -> bytes:
    return nn.to_bytes(nn.tutorial_model(seed=0, input_shape=input_shape))


def rows(store, table: str, code: str | None = None) -> int:
    where = " WHERE room = ?" if code and table != "rooms" else ""
    where = " WHERE code = ?" if code and table == "rooms" else where
    sql = f"SELECT COUNT(*) FROM {table}{where}"
    return store.db.run(lambda tx: tx.execute(sql, (code,) if code else ()).one()[0])


# ----------------------------------------------------------------------------- rooms


def test_the_alphabet_has_31_unambiguous_characters():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set(AMBIGUOUS) & set(ALPHABET)
    assert ALPHABET == ALPHABET.upper()


def test_codes_are_six_unambiguous_characters_and_unique(url):
    store = open_store(url)
    codes = [store.create_room().code for _ in range(60)]
    assert all(len(c) == 6 and set(c) <= set(ALPHABET) for c in codes)
    assert len(set(codes)) == len(codes)
    assert len(set("".join(codes))) > 20  # drawn from the whole alphabet, not a few letters


def test_a_room_is_found_whatever_the_case_spaces_and_dashes(url):
    store = open_store(url)
    room = store.create_room(prompt=7, base_model="tutorial")
    typed = f" {room.code[:3].lower()}-{room.code[3:].lower()} "
    found = store.room(typed)
    assert (found.code, found.prompt, found.model, found.closed) == (
        room.code,
        7,
        "tutorial",
        False,
    )
    assert found.host_token is None and found.created_at < found.expires_at
    assert str(found.instruction) == "Draw a 7."
    assert store.submit(typed, drawing(0), 7).room == room.code


def test_the_database_holds_only_the_host_keys_sha256(url):
    store = open_store(url)
    room = store.create_room()
    assert len(room.host_token) >= 22
    stored = store.db.run(
        lambda tx: tx.execute("SELECT * FROM rooms WHERE code = ?", (room.code,)).one()
    )
    assert hashlib.sha256(room.host_token.encode()).hexdigest() in stored
    assert not any(room.host_token in str(v) for v in stored)
    if store.backend == "sqlite":
        store.close_connections()
        with open(url, "rb") as f:
            assert room.host_token.encode() not in f.read()


def test_a_submission_is_stored_byte_for_byte_and_polled_in_order(url):
    store = open_store(url)
    room = store.create_room()
    images = [drawing(i) for i in range(5)]
    made = [store.submit(room.code, img, i) for i, img in enumerate(images)]
    assert [s.id for s in made] == sorted(s.id for s in made)
    got = store.submissions(room.code)
    assert [s.image.tobytes() for s in got] == [img.tobytes() for img in images]
    assert [s.label for s in got] == list(range(5))
    assert all(s.image.dtype == np.uint8 and s.image.shape == (28, 28) for s in got)
    assert [s.id for s in store.submissions(room.code, since_id=made[2].id)] == [
        made[3].id,
        made[4].id,
    ]
    assert store.count(room.code) == 5
    # floats in [0, 1] are stored as the nearest of the 256 grey levels
    grey = np.linspace(0, 1, 784).reshape(28, 28)
    stored = store.submit(room.code, grey, 3).image
    assert np.array_equal(stored, np.rint(grey * 255).astype(np.uint8))


def test_another_rooms_drawings_are_not_seen(url):
    store = open_store(url)
    a, b = store.create_room(), store.create_room()
    store.submit(a.code, drawing(1), 1)
    assert store.submissions(b.code) == [] and store.count(b.code) == 0


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((27, 28), np.uint8),
        np.zeros((28, 28, 3), np.uint8),
        np.zeros(784, np.uint8),
        np.full((28, 28), np.nan),
        np.full((28, 28), 1.5),
        np.full((28, 28), -0.1),
        np.full((28, 28), 256),
        np.full((28, 28), -1),
        np.full((28, 28), True),
        "a drawing",
        None,
        [[0] * 28] * 27 + [[0] * 27],
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else f"{v.dtype}{v.shape}",
)
def test_a_malformed_drawing_is_refused(url, image):
    store = open_store(url)
    room = store.create_room()
    with pytest.raises(InputError) as exc:
        store.submit(room.code, image, 3)
    one_sentence(exc)
    assert rows(store, "submissions") == 0


@pytest.mark.parametrize("label", [-1, 10, 3.0, True, "7", None, np.float32(2)])
def test_a_label_that_is_not_a_digit_is_refused(url, label):
    store = open_store(url)
    room = store.create_room()
    with pytest.raises(InputError) as exc:
        store.submit(room.code, drawing(0), label)
    assert "0 to 9" in one_sentence(exc)
    assert store.count(room.code) == 0


def test_numpy_integers_are_digits(url):
    store = open_store(url)
    room = store.create_room(prompt=np.int64(4))
    assert store.submit(room.code, drawing(0), np.uint8(9)).label == 9
    assert store.room(room.code).prompt == 4


@pytest.mark.parametrize(
    "kwargs",
    [{"prompt": 10}, {"prompt": -1}, {"prompt": 2.5}, {"prompt": "7"}, {"ttl_hours": 0},
     {"ttl_hours": -1}, {"ttl_hours": 24 * 365}, {"ttl_hours": float("nan")},
     {"base_model": "class:1"}, {"base_model": "resnet"}],
)  # fmt: skip
def test_a_room_with_impossible_settings_is_refused(url, kwargs):
    store = open_store(url)
    with pytest.raises(InputError) as exc:
        store.create_room(**kwargs)
    one_sentence(exc)
    assert rows(store, "rooms") == 0


def test_a_full_room_says_so(url, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_SUBMISSIONS", 3)
    store = open_store(url)
    room = store.create_room()
    for i in range(3):
        store.submit(room.code, drawing(i), 1)
    with pytest.raises(InputError) as exc:
        store.submit(room.code, drawing(9), 1)
    assert "3 drawings" in one_sentence(exc)
    assert store.count(room.code) == 3 == rows(store, "submissions", room.code)


def test_the_real_limit_is_2000_drawings():
    assert store_module.MAX_SUBMISSIONS == 2000


@pytest.mark.parametrize("code", ["", "ABC", "ABCDEFG", "ABCDE0", "AB CD 1I", 123456, None])
def test_a_code_that_cannot_exist_gets_the_unknown_room_sentence(url, code):
    store = open_store(url)
    with pytest.raises(InputError) as exc:
        store.room(code)
    assert one_sentence(exc) == str(InputError(checks.UNKNOWN))


# ----------------------------------------------------------------------------- the host


def host_actions(store, code, token):
    """Every action only the host may take, as (name, call)."""
    npz = model_npz()
    return [
        ("check_host", lambda: store.check_host(code, token)),
        ("set_prompt", lambda: store.set_prompt(code, token, 3)),
        ("close", lambda: store.close(code, token)),
        ("save_model", lambda: store.save_model(code, token, "ours", npz, {"accuracy": 0.9})),
        ("use_model", lambda: store.use_model(code, token, "tutorial")),
    ]


def test_every_host_action_is_refused_without_the_right_key(url):
    store = open_store(url)
    room = store.create_room(prompt=7)
    other = store.create_room()
    wrong = [None, "", "x", room.host_token[:-1], room.host_token + "x", other.host_token, 42]
    for token in wrong:
        for name, action in host_actions(store, room.code, token):
            with pytest.raises(InputError) as exc:
                action()
            assert "host" in one_sentence(exc), name
    after = store.room(room.code)
    assert (after.prompt, after.closed, after.model) == (7, False, "strong")
    assert store.models(room.code) == []


def test_the_host_key_allows_every_host_action(url):
    store = open_store(url)
    room = store.create_room()
    assert store.check_host(room.code.lower(), room.host_token).code == room.code
    store.set_prompt(room.code, room.host_token, 3)
    assert store.room(room.code).prompt == 3
    store.set_prompt(room.code, room.host_token, None)
    assert store.room(room.code).prompt is None
    assert str(store.room(room.code).instruction) == "Draw any digit and say which one it is."
    with pytest.raises(InputError):
        store.set_prompt(room.code, room.host_token, 11)
    record = store.save_model(room.code, room.host_token, " class A ", model_npz(), {"acc": 0.5})
    assert (record.name, record.metrics, record.model) == (
        "class A",
        {"acc": 0.5},
        f"class:{record.id}",
    )
    store.use_model(room.code, room.host_token, record.model)
    assert store.room(room.code).model == record.model
    store.use_model(room.code, room.host_token, "tutorial")
    assert store.room(room.code).model == "tutorial"
    store.close(room.code, room.host_token)
    with pytest.raises(InputError) as exc:
        store.check_host(room.code, room.host_token)
    assert one_sentence(exc) == str(InputError(checks.CLOSED))


# ----------------------------------------------------------------------------- models


def test_models_are_shared_in_their_room_only(url):
    store = open_store(url)
    room, other = store.create_room(), store.create_room()
    npz = model_npz()
    record = store.save_model(room.code, room.host_token, "ours", npz, {"held_after": 0.93})
    assert store.model_bytes(room.code, record.id) == npz
    assert store.model_bytes(room.code, record.model) == npz
    assert nn.load_model(store.model_bytes(room.code, record.model)).count_params() == 13602
    assert [m.id for m in store.models(room.code)] == [record.id] and record.size == len(npz)
    assert store.models(other.code) == []
    for call in (
        lambda: store.model_bytes(other.code, record.id),
        lambda: store.use_model(other.code, other.host_token, record.model),
        lambda: store.use_model(room.code, room.host_token, "class:999"),
        lambda: store.use_model(room.code, room.host_token, "class:x"),
        lambda: store.use_model(room.code, room.host_token, "vgg"),
    ):
        with pytest.raises(InputError) as exc:
            call()
        one_sentence(exc)


def test_the_rooms_network_is_loaded_whichever_it_is(url):
    store = open_store(url)
    room = store.create_room(base_model="tutorial")
    assert store.network(room.code).count_params() == 13602  # the bundled tutorial network
    assert store.network(room.code, "strong").name == "strong"
    npz = nn.to_bytes(nn.tutorial_model(filters=4, seed=1))
    record = store.save_model(room.code, room.host_token, "ours", npz, {})
    store.use_model(room.code, room.host_token, record.model)
    ours = store.network(room.code)
    assert ours.count_params() == 4 * 9 + 13 * 13 * 4 * 10 + 10
    with pytest.raises(InputError):
        store.network(room.code, "class:999")


def pickled_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, architecture=np.array([{"evil": 1}], dtype=object))
    return buf.getvalue()


@pytest.mark.parametrize(
    "blob",
    [b"", b"not a model", b"PK\x03\x04broken", "pickled", "oversized", "wrong input",
     "wrong classes"],
)  # fmt: skip
def test_a_model_that_is_not_a_small_cnnviz_model_is_refused(url, blob):
    if blob == "pickled":
        blob = pickled_npz()
    elif blob == "oversized":
        blob = b"PK\x03\x04" + bytes(store_module.MAX_MODEL_BYTES)
    elif blob == "wrong input":
        blob = model_npz((14, 14, 1))
    elif blob == "wrong classes":
        model = nn.Sequential([nn.Conv2D(2, 3, input_shape=(28, 28, 1)), nn.Flatten(),
                               nn.Dense(3, activation="softmax")], seed=0)  # fmt: skip
        blob = nn.to_bytes(model)
    store = open_store(url)
    room = store.create_room()
    with pytest.raises(InputError) as exc:
        store.save_model(room.code, room.host_token, "m", blob, {})
    one_sentence(exc)
    assert rows(store, "models") == 0


BAD_METADATA = [
    ("", {}),
    ("x" * 81, {}),
    ("m", {"a": float("nan")}),
    ("m", {"a": object()}),
    ("m", {"a": "x" * 20_000}),
]


@pytest.mark.parametrize("name, metrics", BAD_METADATA)
def test_a_model_name_or_metrics_that_cannot_be_kept_are_refused(url, name, metrics):
    store = open_store(url)
    room = store.create_room()
    with pytest.raises(InputError) as exc:
        store.save_model(room.code, room.host_token, name, model_npz(), metrics)
    one_sentence(exc)


# ------------------------------------------------------------------- time, closing, restarts


def test_an_expired_room_is_refused_like_an_unknown_one_and_purged(url):
    clock = Clock()
    store = open_store(url, clock=clock)
    room = store.create_room(ttl_hours=1)
    keep = store.create_room(ttl_hours=2)
    store.submit(room.code, drawing(0), 0)
    clock.now += 3599
    assert store.room(room.code).code == room.code
    clock.now += 2
    unknown = str(InputError(checks.UNKNOWN))
    for call in (
        lambda: store.room(room.code),
        lambda: store.submit(room.code, drawing(1), 1),
        lambda: store.submissions(room.code),
        lambda: store.count(room.code),
        lambda: store.check_host(room.code, room.host_token),
        lambda: store.close(room.code, room.host_token),
    ):
        with pytest.raises(InputError) as exc:
            call()
        assert one_sentence(exc) == unknown
    assert rows(store, "submissions", room.code) == 1  # still there until the purge
    assert store.purge_expired() == 1
    assert rows(store, "submissions", room.code) == rows(store, "rooms", room.code) == 0
    assert store.room(keep.code).code == keep.code
    assert store.purge_expired(now=clock.now + 7201) == 1
    assert rows(store, "rooms") == 0


def test_a_closed_room_takes_nothing_more_and_is_purged(url):
    store = open_store(url)
    room = store.create_room()
    store.submit(room.code, drawing(0), 0)
    store.save_model(room.code, room.host_token, "m", model_npz(), {})
    store.close(room.code, room.host_token)
    for call in (
        lambda: store.room(room.code),
        lambda: store.submit(room.code, drawing(1), 1),
        lambda: store.submissions(room.code),
        lambda: store.models(room.code),
        lambda: store.model_bytes(room.code, 1),
        lambda: store.close(room.code, room.host_token),
    ):
        with pytest.raises(InputError) as exc:
            call()
        assert "closed" in one_sentence(exc)
    assert store.purge_expired() == 1
    assert rows(store, "submissions") == rows(store, "models") == rows(store, "rooms") == 0


def test_creating_a_room_purges_the_expired_ones(url):
    clock = Clock()
    store = open_store(url, clock=clock)
    old = store.create_room(ttl_hours=1)
    store.submit(old.code, drawing(0), 0)
    clock.now += 7200
    store.create_room()
    assert rows(store, "rooms", old.code) == rows(store, "submissions", old.code) == 0


def test_a_new_store_on_the_same_database_sees_the_open_room(url):
    first = open_store(url)
    room = first.create_room(prompt=2)
    first.submit(room.code, drawing(5), 2)
    first.close_connections()
    del first
    second = open_store(url)
    assert second.room(room.code).prompt == 2
    assert second.submissions(room.code)[0].image.tobytes() == drawing(5).tobytes()
    second.set_prompt(room.code, room.host_token, 4)  # the key still works after the restart
    assert second.room(room.code).prompt == 4


def test_the_store_carries_on_after_postgresql_restarts(postgres):
    store = open_store(postgres.database())
    room = store.create_room()
    store.submit(room.code, drawing(0), 0)
    postgres.restart()  # every pooled connection is now dead
    store.submit(room.code, drawing(1), 1)
    assert [s.label for s in store.submissions(room.code)] == [0, 1]


def test_the_default_database_is_an_sqlite_file_under_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNVIZ_CLASSROOM_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    store = open_store()
    assert store.backend == "sqlite"
    assert store.db.path == tmp_path / "cnnviz" / "classroom.sqlite3"
    mode = store.db.run(lambda tx: tx.execute("PRAGMA journal_mode").one()[0])
    assert mode == "wal"
    monkeypatch.setenv("CNNVIZ_CLASSROOM_DB", str(tmp_path / "elsewhere.db"))
    assert open_store().db.path == tmp_path / "elsewhere.db"


def test_rooms_created_at_once_purge_the_expired_ones_without_deadlock(url):
    clock = Clock()
    store = open_store(url, clock=clock)
    old = [store.create_room(ttl_hours=1) for _ in range(10)]
    for i, room in enumerate(old):
        for j in range(5):
            store.submit(room.code, drawing(10 * i + j), j)
    clock.now += 7200
    with ThreadPoolExecutor(8) as pool:
        new = list(pool.map(lambda _: store.create_room().code, range(24)))
    assert len(set(new)) == 24
    assert rows(store, "rooms") == 24 and rows(store, "submissions") == 0


def test_a_database_of_another_schema_version_is_refused(url):
    store = open_store(url)
    store.db.run(
        lambda tx: tx.execute("UPDATE cnnviz_meta SET value = '99' WHERE key = 'schema_version'"),
        write=True,
    )
    with pytest.raises(RuntimeError, match="schema version 99"):
        open_store(url)


# ----------------------------------------------------------------------------- concurrency


def test_threads_sharing_one_store_lose_nothing(url):
    store = open_store(url)
    room = store.create_room()

    def student(t: int) -> None:
        for i in range(25):
            image = np.zeros((28, 28), np.uint8)
            image[0, 0], image[0, 1] = t, i
            store.submit(room.code, image, i % 10)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(student, range(8)))
    pairs = sorted((int(s.image[0, 0]), int(s.image[0, 1])) for s in store.submissions(room.code))
    assert pairs == [(t, i) for t in range(8) for i in range(25)]


PROCESSES, EACH = 20, 50


def submit_many(url: str, code: str, p: int, barrier) -> None:
    """One student process: wait for all, then submit EACH drawings carrying (p, i)."""
    store = open_store(url)
    barrier.wait()
    for i in range(EACH):
        image = np.full((28, 28), 7, np.uint8)
        image[0, 0], image[0, 1] = p, i
        store.submit(code, image, i % 10)


@pytest.mark.slow
def test_twenty_processes_submitting_fifty_drawings_each_lose_and_repeat_none(url):
    store = open_store(url)
    room = store.create_room()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES + 1)
    procs = [
        ctx.Process(target=submit_many, args=(url, room.code, p, barrier)) for p in range(PROCESSES)
    ]
    with _plain_main_module():  # after an AppTest, __main__ is a page the children must not run
        for proc in procs:
            proc.start()
    barrier.wait(timeout=120)
    start = time.perf_counter()
    polled, polls = [], 0  # the projector meanwhile: polls with the last id it saw
    while any(proc.is_alive() for proc in procs) and time.perf_counter() - start < 300:
        polled += store.submissions(room.code, since_id=polled[-1].id if polled else 0)
        polls += 1
        time.sleep(0.02)
    for proc in procs:
        proc.join(timeout=60)
    seconds = time.perf_counter() - start
    polled += store.submissions(room.code, since_id=polled[-1].id if polled else 0)
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    got = store.submissions(room.code)
    # polling with since_id saw every drawing exactly once, in the same order
    assert [s.id for s in polled] == [s.id for s in got]
    pairs = [(int(s.image[0, 0]), int(s.image[0, 1])) for s in got]
    assert len(got) == PROCESSES * EACH == store.count(room.code)
    assert rows(store, "submissions", room.code) == PROCESSES * EACH
    assert sorted(pairs) == [(p, i) for p in range(PROCESSES) for i in range(EACH)]
    assert len({s.id for s in got}) == len(got)
    assert all(s.label == i % 10 for s, (_, i) in zip(got, pairs, strict=True))
    # each process's drawings arrived in the order it sent them
    for p in range(PROCESSES):
        assert [i for q, i in pairs if q == p] == list(range(EACH))
    print(
        f"\n{store.backend}: {len(got)} rows from {PROCESSES} processes in {seconds:.2f} s "
        f"({polls} polls meanwhile)"
    )
