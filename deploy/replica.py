"""One replica of a hall: ``streamlit run app.py`` that never runs a page without app.py.

    python deploy/replica.py --server.port 8501 [any other streamlit run option]

Streamlit still supports the old multipage layout, a ``pages/`` folder beside the main script,
and cnnviz keeps its page scripts in such a folder. A fresh Streamlit process assumes that
layout until some session has run app.py (whose ``st.navigation`` switches it off), and in that
layout a browser that *reconnects* with a page open runs the page script alone: no app.py, so
no language switch, no links, and the old page list in the sidebar. A replica's first browsers
are exactly such reconnections when another replica stops, so each replica starts with the old
layout switched off: app.py runs on every rerun, as it does once any page was opened normally.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

APP = str(Path(__file__).resolve().parent.parent / "app.py")

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    sys.exit(cli.main(["run", APP, *sys.argv[1:]], prog_name="streamlit"))
