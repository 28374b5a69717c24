"""Class mode's fine-tuning, "Learn the class's handwriting": a copy of the room's network
trained on the class's drawings in a thread of its own (the page keeps updating), saved to the
class store and made the room's network; then its before/after accuracies and its file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from cnnviz.classroom.finetune import fine_tune
from cnnviz.errors import InputError
from cnnviz.i18n import _
from cnnviz.ui import state
from cnnviz.ui.classroom import gallery, host_action, room_model, store


@dataclass
class Tuning:
    """Fine-tuning a copy of the room's model on the class's drawings, in a thread of its own
    (the page keeps drawing); the result is saved to the store and made the room's model."""

    room: str
    epochs: int
    epoch: int = 0
    result: object = None  # cnnviz.classroom.finetune.FineTuneResult when done
    model_id: str | None = None
    npz: bytes | None = None
    error: InputError | str | None = None
    thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        return self.thread is None or not self.thread.is_alive()

    def on_epoch(self, epoch: int, epochs: int) -> None:
        self.epoch, self.epochs = int(epoch), int(epochs)

    def run(self, rooms, token, model, images, labels) -> None:  # rooms: the page's store
        try:  # MNIST's 10,000 test digits before and after (a few seconds for 200 drawings)
            result = fine_tune(model, images, labels, epochs=self.epochs, on_epoch=self.on_epoch)
            data = result.to_bytes()
            record = rooms.save_model(
                self.room, token, f"class-{self.room}", data, result.metrics()
            )
            rooms.use_model(self.room, token, record.model)
            self.npz, self.model_id, self.result = data, str(record.id), result
        except InputError as exc:  # read on the page, in the reader's language
            self.error = exc
        except Exception as exc:  # say it on the page rather than lose it in a thread
            self.error = type(exc).__name__

    def error_text(self) -> str | None:
        """What went wrong, in the reader's language, or None."""
        if self.error is None or isinstance(self.error, InputError):
            return None if self.error is None else str(self.error)
        return _("Fine-tuning failed ({error}).").format(error=self.error)


def start_tuning() -> None:
    """The Learn button's callback: fine-tune in the background, after the store has checked
    that this session holds the room's host token."""
    if not host_action(lambda code, token: store().check_host(code, token)):
        return
    room = store().room(st.session_state[state.CLASS_ROOM])
    model = room_model(room)[1]
    found = gallery(room, model)
    job = Tuning(room.code, epochs=5)
    job.thread = threading.Thread(
        target=job.run,
        args=(store(), st.session_state[state.CLASS_HOST], model, found.images.copy(),
              found.labels.copy()),
        name=f"cnnviz-class-tuning-{room.code}",
        daemon=True,
    )  # fmt: skip
    st.session_state[state.CLASS_TUNING] = job
    job.thread.start()


def _score(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def results(job: Tuning) -> None:
    """Before and after, on the class's held-out drawings and on MNIST's test set; the new
    model's file."""
    r = job.result
    if r is None:
        return
    st.success(
        _(
            "The network learned from {train} of the class's drawings; {held} more were kept "
            "aside to test it. Every phone in the class uses it now."
        ).format(train=r.n_train, held=r.n_held)
    )
    held_col, mnist_col, file_col = st.columns(3)
    for col, label, before, after in (
        (held_col, _("Held-out class drawings"), r.held_before, r.held_after),
        (mnist_col, _("MNIST test set"), r.mnist_before, r.mnist_after),
    ):
        delta = None if before is None or after is None else f"{(after - before) * 100:+.1f} pp"
        col.metric(label, _score(after), delta=delta, help=_("Before: {before}").format(
            before=_score(before)))  # fmt: skip
        col.caption(_("before {before} → after {after}").format(
            before=_score(before), after=_score(after)))  # fmt: skip
    file_col.download_button(
        _("Download the model (.npz)"),
        data=job.npz or b"",
        # i18n: a file name: ASCII letters, digits and dashes only (no diacritics).
        file_name=_("cnnviz-class-{code}.npz").format(code=job.room),
        mime="application/octet-stream",
        icon=":material/download:",
        width="stretch",
    )
