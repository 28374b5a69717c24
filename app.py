"""cnnviz: learn how a convolutional neural network works, one page at a time.

Run with ``streamlit run app.py``.
"""

import streamlit as st

from cnnviz.i18n import _
from cnnviz.ui import hall, language, links, views
from cnnviz.ui.registry import PAGES

st.set_page_config(page_title="cnnviz", page_icon=":material/neurology:", layout="wide")
language.choose()
language.switch()
pages = [
    st.Page(p.path, title=_(p.title), icon=p.icon, url_path=p.url_path, default=i == 0)
    for i, p in enumerate(PAGES)
]
page = st.navigation(pages)
params = views.BY_PAGE.get(page.url_path, ())
links.restore(page.url_path, params)  # a link opened here sets the page's controls
hall.notice_a_move(page.url_path)  # once: this browser came back from a replica that stopped
try:
    page.run()
finally:  # also when the page stops early: the address bar always holds the view
    links.publish(page.url_path, params)
