"""Tutorial: the tutorial *Basic CNN* section by section, each of its 20 figures (Hình 1-20)
with a link to the live view of this app that reproduces it (the data: cnnviz.tutorial_path)."""

import streamlit as st

from cnnviz import i18n, tutorial_path
from cnnviz.i18n import _
from cnnviz.ui import layout
from cnnviz.ui.registry import PAGES

TITLES = {p.path: p.title for p in PAGES}
ICONS = {p.path: p.icon for p in PAGES}

layout.header(
    _("Tutorial"),
    _(
        "The tutorial *Basic CNN* section by section. For each of its 20 figures: what it shows, "
        "and a link that opens the live view reproducing it, ready to step through or to put on "
        "a slide."
    ),
)


def link(item: tutorial_path.Link) -> None:
    """One link into a live view, labelled "Page: what it shows", in the reader's language."""
    st.page_link(
        item.page,
        label=_("{page}: {view}").format(page=_(TITLES[item.page]), view=_(item.label)),
        icon=ICONS[item.page],
        query_params=tutorial_path.query_params(item, i18n.language()),
        width="stretch",
    )


def figure_card(figure: tutorial_path.Figure) -> None:
    """The figure's number and caption, what it shows, and its live views."""
    with st.container(border=True):
        number = _("Figure {number}").format(number=figure.number)
        st.markdown(f"##### {number} · {_(figure.caption)}")
        st.markdown(_(figure.text))
        for item in figure.links:
            link(item)


def section(part: tutorial_path.Section) -> None:
    """A heading, the tutorial's section in short, its own links, then its figures two by two
    (one under the other on a phone)."""
    (st.subheader if part.sub else st.header)(_(part.title))
    st.markdown(_(part.text))
    for item in part.links:
        link(item)
    shown = part.figures
    for start in range(0, len(shown), 2):
        columns = st.columns(2)
        for column, figure in zip(columns, shown[start : start + 2], strict=False):
            with column:
                figure_card(figure)


layout.wrap_link_labels("tutorial")
with st.container(key="tutorial"):
    for i, part in enumerate(tutorial_path.SECTIONS):
        if i and not part.sub:
            st.divider()
        section(part)
