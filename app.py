"""cnnviz: learn how a convolutional neural network works, one page at a time.

Run with ``streamlit run app.py``.
"""

import streamlit as st

st.set_page_config(page_title="cnnviz", page_icon=":material/neurology:", layout="wide")

pages = [
    st.Page("pages/0_overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/1_draw_predict.py", title="Draw & predict", icon=":material/draw:"),
    st.Page("pages/2_convolution.py", title="Convolution", icon=":material/blur_on:"),
    st.Page("pages/3_pooling.py", title="Pooling", icon=":material/grid_view:"),
    st.Page("pages/4_softmax_backprop.py", title="Softmax & backprop", icon=":material/functions:"),
    st.Page("pages/5_train_live.py", title="Train live", icon=":material/monitoring:"),
    st.Page("pages/6_why_convolution.py", title="Why convolution", icon=":material/lightbulb:"),
]
st.navigation(pages).run()
