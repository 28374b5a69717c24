"""Streamlit helpers shared by the pages. The only part of cnnviz that imports Streamlit."""
