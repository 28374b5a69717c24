"""One look for every figure: projector-sized fonts, one diverging and one sequential scale."""

from __future__ import annotations

import plotly.graph_objects as go

FONT_SIZE = 16  # axis labels, legends (readable from the back of a lecture hall)
TITLE_SIZE = 20
CELL_FONT_SIZE = 14  # numbers written inside heatmap cells
FONT_FAMILY = "Inter, Segoe UI, Helvetica, Arial, sans-serif"

# Images (pixel intensities, ink bright): a grey scale like the tutorial's pyplot 'gray'.
IMAGE_SCALE = "gray"
# Signed values (filters, conv outputs, gradients): one diverging scale, centred on zero.
SIGNED_SCALE = "RdBu_r"
# Non-negative values (probabilities, magnitudes).
POSITIVE_SCALE = "Viridis"

HIGHLIGHT = "#f5a623"  # the window or cell being explained
CHOSEN = "#d0021b"  # the element a pooling window chose
ACCENT = "#1f77b4"  # the main series in a chart
SECOND = "#ff7f0e"  # the second series (val_loss beside loss)


def apply(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Give a figure the shared fonts and margins (and a title/height when given)."""
    fig.update_layout(
        font=dict(size=FONT_SIZE, family=FONT_FAMILY),
        title=dict(text=title, font=dict(size=TITLE_SIZE)) if title else None,
        margin=dict(l=10, r=10, t=50 if title else 10, b=10),
        template="plotly_white",
    )
    if height:
        fig.update_layout(height=height)
    return fig
