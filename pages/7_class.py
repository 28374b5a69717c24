"""Class: everyone draws a digit on their phone; the projector shows the class's digits with the
network's guesses, and the network learns the class's handwriting.

``/class`` joins or starts a class; ``/class?room=CODE`` is a student's view (draw, send, see the
guess); ``/class?room=CODE&host=TOKEN`` the lecturer's (docs/links.md).
"""

import streamlit as st

from cnnviz.errors import InputError
from cnnviz.i18n import _
from cnnviz.plots import classroom as plots
from cnnviz.plots import predict as predict_plots
from cnnviz.ui import class_tuning, inputs, language, layout, share, state
from cnnviz.ui import classroom as room_ui


def lobby() -> None:
    layout.header(
        _("Class"),
        _(
            "Everyone draws a digit on their phone; the projector shows every drawing with the "
            "network's guess, and the network can learn the class's own handwriting."
        ),
    )
    room_ui.said("top")
    join_col, start_col = st.columns(2, gap="large")
    with join_col:
        room_ui.join_form()
    with start_col:
        room_ui.start_form()


# ----------------------------------------------------------------------------- student


def student(room) -> None:
    layout.header(_("Class {code}").format(code=room.code))
    room_ui.said("top")
    st.markdown(f"### {room_ui.prompt_text(room.prompt)}")
    model_name, model = room_ui.room_model(room)
    draw_col, read_col = st.columns([1.2, 1], gap="medium")
    with draw_col:
        inputs.drawing_input(draw_col, key="class_canvas", use=room_ui.keep_drawing)
        label = room_ui.label_picker(room)
        st.button(
            _("Send"), type="primary", icon=":material/send:", width="stretch", key="class.send",
            on_click=room_ui.send, args=(room.code,),
        )  # fmt: skip
        room_ui.said("send")
        room_ui.sent_line(room, label)
    with read_col:
        your_reading(model_name, model)
    st.button(_("Leave the class"), type="tertiary", on_click=room_ui.leave)
    room_ui.watch(room.code, (room.prompt, room.model))  # the lecturer's changes reach this page


def your_reading(model_name: str, model) -> None:
    """What the room's network reads in the drawing on the canvas, at once."""
    image = st.session_state.get(state.CLASS_DRAWING)
    if image is None:
        st.info(_("Draw the digit on the canvas; the network's guess appears here."))
        return
    probs = room_ui.read_drawing(model, image)
    best = int(probs.argmax())
    with st.container(horizontal=True, gap="large"):
        st.metric(_("The network reads"), str(best))
        st.metric(_("Confidence"), f"{probs[best]:.0%}")
    st.html(predict_plots.probability_bars_html(probs, height=240))  # light on a phone
    st.caption(_("Model: {name}").format(name=model_name))


# ----------------------------------------------------------------------------- host


def host(room) -> None:
    room_ui.said("top")
    code_col, qr_col = st.columns([3, 2], gap="large", vertical_alignment="center")
    link = room_ui.join_link(room)
    with code_col:
        room_ui.code_block(room)
        if link is not None:
            st.markdown(_("Open **{url}** or scan the code.").format(url=link.url))
            share.notes(link)  # phones cannot open it: how to serve the hall
        prompt_control(room)
        room_ui.said("host")
    if link is not None:
        qr_col.image(room_ui.qr(link.url), width=360)
    live(room.code)
    tuning(room)
    st.divider()
    if link is not None:
        with st.expander(_("The lecturer's link (keep it private)"), icon=":material/key:"):
            st.markdown(
                _(
                    "Whoever opens this link controls the class. The address bar does not hold "
                    "it, so a reload shows the students' view: open this link to come back."
                )
            )
            st.code(room_ui.host_link(link), language=None, wrap_lines=True)
    st.button(
        _("Close the class"), icon=":material/lock:", key="class.close",
        on_click=room_ui.close_room,
    )  # fmt: skip


def prompt_control(room) -> None:
    st.session_state["class.host_prompt"] = room_ui.ANY if room.prompt is None else room.prompt
    st.selectbox(
        _("What should everyone draw?"),
        room_ui.PROMPTS,
        format_func=room_ui.prompt_choice,
        key="class.host_prompt",
        on_change=room_ui.change_prompt,
    )


@st.fragment(run_every=1.0)
def live(code: str) -> None:
    """The class's drawings as they arrive: counts, accuracy, the gallery and the confusions."""
    language.restore()
    try:
        room = room_ui.store().room(code)
    except InputError as exc:
        st.error(str(exc))
        return
    model_name, model = room_ui.room_model(room)
    found = room_ui.gallery(room, model)
    accuracy = plots.accuracy(found.labels, found.predicted())
    m1, m2, m3 = st.columns([1, 1, 2])
    m1.metric(_("Drawings"), len(found.labels))
    m2.metric(_("Class accuracy"), "—" if accuracy is None else f"{accuracy:.0%}")
    m3.metric(_("Model"), model_name)
    if not len(found.labels):
        st.info(_("No drawings yet: they appear here as soon as students press Send."))
        return
    pick_col, order_col = st.columns([3, 2], vertical_alignment="bottom")
    digit = pick_col.segmented_control(
        _("Show the drawings of"), list(range(10)), key="class.filter",
        help=_("Click a digit again to show every drawing."),
    )  # fmt: skip
    newest = order_col.toggle(_("Newest first"), key="class.newest")
    images, meant, read, sure, total = found.shown(digit, bool(newest))
    gallery_col, confusion_col = st.columns([2.2, 1], gap="medium")
    with gallery_col:
        if len(images):
            layout.chart(plots.gallery_figure(images, meant, read, sure, width_px=540),
                         width="stretch", key="class.gallery")  # fmt: skip
            st.caption(order_name(bool(newest)))
            if total > len(images):
                st.caption(_("The first {shown} of {total} drawings; pick a digit to see its own.")
                           .format(shown=len(images), total=total))  # fmt: skip
        else:
            st.info(_("Nobody has drawn a {digit} yet.").format(digit=digit))
    confusion = plots.confusion_counts(found.labels, found.predicted())
    layout.chart(plots.confusion_figure(confusion), width="stretch", where=confusion_col)


def order_name(newest: bool) -> str:
    order = _("Newest first.") if newest else _("The most confidently wrong first.")
    return (
        order
        + " "
        + _(
            "Above each drawing: the digit meant → the network's reading; green when they agree, "
            "red when they do not."
        )
    )


def tuning(room) -> None:
    job = st.session_state.get(state.CLASS_TUNING)
    job = job if job is not None and job.room == room.code else None
    st.subheader(_("Learn the class's handwriting"))
    st.markdown(
        _(
            "Fine-tune a copy of the network on the class's drawings (a quarter is kept aside "
            "to test it), then compare its accuracy on those held-out drawings and on MNIST's "
            "test set before and after. Everyone's phone then uses the new network."
        )
    )
    if job is None or job.done:
        found = room_ui.gallery(room, room_ui.room_model(room)[1])
        enough = len(found.labels) >= room_ui.TUNE_AT_LEAST
        st.button(
            _("Learn the class's handwriting"), type="primary", icon=":material/school:",
            disabled=not enough, key="class.tune", on_click=class_tuning.start_tuning,
        )  # fmt: skip
        if not enough:
            st.caption(_("It needs at least {count} drawings.").format(count=room_ui.TUNE_AT_LEAST))
    tuning_progress()


_job = st.session_state.get(state.CLASS_TUNING)
TUNING_NOW = _job is not None and not _job.done  # the progress then looks again every second


@st.fragment(run_every=1.0 if TUNING_NOW else None)
def tuning_progress() -> None:
    language.restore()
    job = st.session_state.get(state.CLASS_TUNING)
    if job is None:
        return
    if not job.done:
        st.progress(
            min(job.epoch / job.epochs, 1.0),
            text=_("Learning… epoch {epoch} of {epochs}").format(
                epoch=job.epoch, epochs=job.epochs
            ),
        )
        return
    if TUNING_NOW:
        st.rerun()  # it just finished: the whole page, with the new model's gallery
    if job.error is not None:
        st.error(job.error_text())
        return
    class_tuning.results(job)


layout.ensure_app_navigation()  # before anything is decided or said (it may rerun once)
room, is_host = room_ui.current_room()
if room is None:
    lobby()
elif is_host:
    host(room)
else:
    student(room)
