"""One look for every figure: projector-sized fonts, one diverging and one sequential scale."""

from __future__ import annotations

import functools

import plotly.colors
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


def wrap(text: str, room_px: float, font_size: int = FONT_SIZE) -> str:
    """``text`` broken at spaces into lines of at most ``room_px`` pixels at ``font_size``
    (estimated: half an em a character), joined with Plotly's ``<br>``; unchanged when it fits
    (a phone's figure is narrower than the titles written for a laptop's)."""
    per_line = max(4, int(room_px / (0.5 * font_size)))
    if len(text) <= per_line or " " not in text.strip():
        return text
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def lines(text: str) -> int:
    """How many lines a (wrapped) Plotly text takes."""
    return text.count("<br>") + 1


# plotly_white's look, as a plain dict holding only what these figures use (~1 KB instead of
# plotly_white's 7 KB in every figure sent to the browser). Used by :func:`figure`.
LIGHT_TEMPLATE = {
    "layout": {
        "autotypenumbers": "strict",
        "font": {"color": "#2a3f5f"},
        "hovermode": "closest",
        "hoverlabel": {"align": "left"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "title": {"x": 0.05},
        **{
            axis: {
                "gridcolor": "#EBF0F8",
                "linecolor": "#EBF0F8",
                "ticks": "",
                "title": {"standoff": 15},
                "zerolinecolor": "#EBF0F8",
                "zerolinewidth": 2,
            }
            for axis in ("xaxis", "yaxis")
        },
    },
    "data": {
        "heatmap": [{"type": "heatmap", "colorbar": {"outlinewidth": 0, "ticks": ""}}],
        "bar": [{"type": "bar", "marker": {"line": {"color": "white", "width": 0.5}}}],
    },
}


@functools.lru_cache(maxsize=32)
def _colorscale(name: str) -> tuple[tuple[float, str], ...]:
    return tuple((float(at), color) for at, color in plotly.colors.get_colorscale(name))


def colorscale(name: str) -> list[list]:
    """A named colour scale ("gray", "RdBu_r", "Viridis") as Plotly's [[position, colour]]."""
    return [list(stop) for stop in _colorscale(name)]


def figure(
    data: list[dict], layout: dict, title: str | None = None, height: int | None = None
) -> go.Figure:
    """A figure from plain dicts (traces with a "type", a layout) with the look of
    :func:`apply`, built without Plotly's property validation.

    ``go.Figure(...)`` validates every property and copies the template it is given; for the
    figures of every prediction that was most of the server's time (tens of ms each). The
    dicts must therefore be valid Plotly (the tests build each figure once validated).
    """
    for trace in data:  # Plotly.js knows neither "gray" nor "RdBu_r": send the colours
        if isinstance(trace.get("colorscale"), str):
            trace["colorscale"] = colorscale(trace["colorscale"])
    look = {
        "font": {"size": FONT_SIZE, "family": FONT_FAMILY},
        "margin": {"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        "template": LIGHT_TEMPLATE,
    }
    if title:
        look["title"] = {"text": title, "font": {"size": TITLE_SIZE}}
    if height:
        look["height"] = height
    return go.Figure({"data": data, "layout": {**look, **layout}}, _validate=False)


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
