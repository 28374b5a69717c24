"""cnnviz: learn how a convolutional neural network works, one page at a time.

Run with ``streamlit run app.py``.
"""

import streamlit as st

from cnnviz.i18n import _
from cnnviz.nn import set_train_threads
from cnnviz.ui import hall, language, links, presenter, share, streamlit_words, viewport, views
from cnnviz.ui.registry import PAGES

# the server's cores serve every session: fit, predict and evaluate (the class's fine-tuning, the
# test-set scores) keep to one thread here, as the Train live process does (cnnviz/nn/parallel.py)
set_train_threads(1)
present = presenter.choose()  # reads ?present= only: the sidebar's first state depends on it
st.set_page_config(
    page_title="cnnviz",
    page_icon=":material/neurology:",
    layout="wide",
    initial_sidebar_state=presenter.sidebar_state(present),
)
language.choose()
presenter.style(present)
language.switch()
share.button()
presenter.switch(present)
pages = [
    st.Page(p.path, title=_(p.title), icon=p.icon, url_path=p.url_path, default=i == 0)
    for i, p in enumerate(PAGES)
]
page = st.navigation(pages)
params = views.BY_PAGE.get(page.url_path, ())
links.restore(page.url_path, params)  # a link opened here sets the page's controls
hall.notice_a_move(page.url_path)  # once: this browser came back from a replica that stopped
links.publish(page.url_path, params)  # the view as the person left it (a page may stop early)
viewport.measure()  # a phone tells its width: figures are built for it
streamlit_words.translate()  # the uploader's own words in the reader's language
page.run()
links.publish(page.url_path, params)  # and as the page's run made it
