"""Charts for the lesson pages: parameter-count bars, the softmax pipeline, digit grids.

All figures use :mod:`cnnviz.plots.style` (projector-sized fonts) and a fixed height so they
are not cut on a 1280x800 screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.i18n import _, number
from cnnviz.plots import style
from cnnviz.plots.heatmaps import format_number

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power_of_ten(n: int) -> str:
    """1000000000000 -> '1,000,000,000,000 (10¹²)'; 9000000 -> '9,000,000 (9×10⁶)';
    12345678 -> '12,345,678 (≈ 1.2×10⁷)'; numbers below 10,000 stay plain ('72'). The digits
    are grouped as the current language writes them (Vietnamese: '1.000.000.000.000')."""
    n = int(n)
    if n < 10_000:
        return number(n)
    exponent = len(str(n)) - 1
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    leading, rest = divmod(n, 10**exponent)
    if rest == 0:
        return f"{number(n)} ({power})" if leading == 1 else f"{number(n)} ({leading}×{power})"
    return f"{number(n)} (≈ {number(n / 10**exponent, 1)}×{power})"


def short_number(value: float) -> str:
    """A bar label that stays short and never hides a small value as 0.00: 0.0019 -> '1.9e-03'."""
    value = float(value)
    if value != 0 and abs(value) < 0.01:
        return f"{value:.1e}"
    return format_number(value, 2)


def param_bars(names: Sequence[str], counts: Sequence[int], height: int = 300) -> go.Figure:
    """Horizontal bars on a log scale, one per kind of layer, each labelled with its count."""
    colors = ["#d0021b", style.SECOND, style.ACCENT][: len(names)]
    n = len(names)
    fig = go.Figure(
        go.Bar(
            y=list(range(n)),
            x=[max(int(c), 1) for c in counts],
            orientation="h",
            width=0.45,
            customdata=list(names),
            marker_color=colors,
            hovertemplate=_("%{customdata}: %{x:,} weights") + "<extra></extra>",
        )
    )
    # Each bar's name and count just above it, from the left edge: as tick labels beside the
    # bars they took most of a phone's width, squeezed the bars and cut the axis title.
    for row, (name, c) in enumerate(zip(names, counts, strict=True)):
        fig.add_annotation(
            x=0,
            xref="paper",
            xanchor="left",
            y=row - 0.25,
            yanchor="bottom",
            text=f"<b>{name}</b>  {power_of_ten(c)}",
            showarrow=False,
            font=dict(size=style.FONT_SIZE, color="#111111"),
        )
    biggest = max(max(int(c), 1) for c in counts)
    style.apply(fig, height=height)
    fig.update_layout(margin=dict(l=10, r=20, t=10, b=50), showlegend=False)
    fig.update_xaxes(
        type="log",
        title=_("number of weights (log scale)"),
        range=[0, np.log10(biggest) * 1.05 + 0.3],
        dtick=2 if biggest > 1e6 else 1,
        exponentformat="power",
    )
    # reversed: the first kind on top, with room above it for its label
    fig.update_yaxes(range=[n - 0.6, -0.8], showticklabels=False, showgrid=False)
    return fig


def softmax_pipeline(
    trace, class_names: Sequence[str] | None = None, height: int = 560, width: int = 700
):
    """Logits -> exp(logit - max) -> probabilities for the 10 classes, the true label in red.

    trace: a cnnviz.ops.SoftmaxTrace. width: the pixels the figure gets (its titles are
    written on more lines when they would not fit, as on a phone).
    """
    names = list(class_names or [str(i) for i in range(len(trace.logits))])
    colors = [style.CHOSEN if i == trace.label else style.ACCENT for i in range(len(names))]
    titles = [
        style.wrap(title, width - 20)
        for title in (
            _("1. logits z (the last layer's raw scores)"),
            _("2. exp(z − max z)  (subtracting the max keeps exp from overflowing)"),
            _("3. probabilities = exp / sum  (sum = {total})").format(
                total=format_number(trace.total, 3)
            ),
        )
    ]
    extra = 20 * (max(style.lines(t) for t in titles) - 1)  # pixels for the extra lines
    height += 3 * extra
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=(0.12 * 560 + extra) / height,
        subplot_titles=titles,
    )
    for row, values in enumerate((trace.logits, trace.exp, trace.probs), start=1):
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                marker_color=colors,
                text=[format_number(v, 2) for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=_("class %{x}: %{y:.4f}") + "<extra></extra>",
            ),
            row=row,
            col=1,
        )
        low, high = float(min(values.min(), 0)), float(max(values.max(), 0))
        pad = 0.25 * (high - low or 1.0)
        fig.update_yaxes(range=[low - (pad if low < 0 else 0), high + pad], row=row, col=1)
    style.apply(fig, height=height)
    top = 20 + 20 * style.lines(titles[0])
    fig.update_layout(showlegend=False, margin=dict(l=10, r=10, t=top, b=40))
    fig.update_annotations(
        font=dict(size=style.FONT_SIZE, color="#111111"), x=0, xanchor="left", align="left"
    )
    fig.update_xaxes(title=_("class"), type="category", row=3, col=1)
    return fig


def before_after_bars(probs_before, probs_after, label: int, height: int = 320) -> go.Figure:
    """The 10 probabilities before and after one SGD step, side by side."""
    classes = [str(i) for i in range(len(probs_before))]
    fig = go.Figure(
        [
            go.Bar(x=classes, y=probs_before, name=_("before the step"), marker_color=style.ACCENT),
            go.Bar(
                x=classes, y=probs_after, name=_("after one SGD step"), marker_color=style.SECOND
            ),
        ]
    )
    style.apply(fig, height=height)
    fig.update_layout(
        barmode="group",
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
        margin=dict(l=10, r=10, t=40, b=40),
    )
    fig.update_xaxes(title=_("class (true label {label})").format(label=label), type="category")
    fig.update_yaxes(title=_("probability"), range=[0, 1.05])
    return fig


def vector_strip(vector, title: str = "", height: int = 150, width: int = 700) -> go.Figure:
    """A long 1-D vector (e.g. the 1352 flattened values) as one coloured strip; ``title``
    on more lines when it is wider than ``width`` pixels (a phone)."""
    vector = np.asarray(vector, dtype=np.float64).ravel()
    title = style.wrap(title, width - 40, style.TITLE_SIZE) if title else title
    extra = 26 * (style.lines(title) - 1) if title else 0
    height += extra
    bound = float(np.abs(vector).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=vector[None, :],
            colorscale=style.SIGNED_SCALE,
            zmin=-bound,
            zmax=bound,
            colorbar=dict(thickness=14, len=1.2, tickfont=dict(size=style.FONT_SIZE - 4)),
            hovertemplate=_("index %{x}: %{z:.4f}") + "<extra></extra>",
        )
    )
    style.apply(fig, title=title or None, height=height)
    fig.update_layout(margin=dict(l=10, r=10, t=40 + extra if title else 10, b=40))
    fig.update_yaxes(visible=False)
    fig.update_xaxes(title=_("index (0 .. {last})").format(last=vector.size - 1))
    return fig


def digit_grid(images, labels, columns: int = 3, cell_px: int = 150) -> go.Figure:
    """Images (N, H, W) in a grid like the tutorial's 3x3 plot, each titled with its label."""
    images = np.asarray(images)
    n = len(images)
    rows = -(-n // columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[_("label {label}").format(label=int(y)) for y in labels],
        horizontal_spacing=0.03,
        vertical_spacing=0.08,
    )
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        fig.add_trace(
            go.Heatmap(
                z=image,
                colorscale=style.IMAGE_SCALE,
                zmin=0,
                zmax=255 if image.max() > 1 else 1,
                showscale=False,
                hovertemplate=_("row %{y}, column %{x}: %{z}") + "<extra></extra>",
            ),
            row=r + 1,
            col=c + 1,
        )
    fig.update_xaxes(visible=False, constrain="domain")
    for i in range(n):
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{axis}"].update(
            visible=False, autorange="reversed", scaleanchor=f"x{axis}", constrain="domain"
        )
    fig.update_layout(
        width=columns * cell_px + 20,
        height=rows * (cell_px + 30) + 20,
        margin=dict(l=10, r=10, t=30, b=10),
        font=dict(size=style.FONT_SIZE, family=style.FONT_FAMILY),
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_annotations(font=dict(size=style.FONT_SIZE, color="#111111"))
    return fig


def class_bars(values, label: int, title: str, height: int = 280, yaxis: str = "") -> go.Figure:
    """One bar per class (signed values allowed), the true label's bar in red, values on top."""
    values = np.asarray(values, dtype=np.float64)
    classes = [str(i) for i in range(len(values))]
    colors = [style.CHOSEN if i == label else style.ACCENT for i in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=classes,
            y=values,
            marker_color=colors,
            text=[short_number(v) for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=_("class %{x}: %{y:.4g}") + "<extra></extra>",
        )
    )
    style.apply(fig, title=title, height=height)
    low, high = float(min(values.min(), 0)), float(max(values.max(), 0))
    pad = 0.25 * (high - low or 1.0)
    fig.update_yaxes(title=yaxis, range=[low - (pad if low < 0 else 0), high + pad])
    fig.update_xaxes(title=_("class"), type="category")
    fig.update_layout(margin=dict(l=10, r=10, t=50, b=40))
    return fig
