"""Plotly figure builders, one module per kind of figure; no Streamlit here.

All figures share :mod:`cnnviz.plots.style` so they read the same on a projector.
"""
