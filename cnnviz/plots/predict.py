"""Figures for the Draw & predict page: the 28x28 input, class probabilities, feature maps.

Every builder takes plain NumPy arrays and returns a Plotly figure; no Streamlit here.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from cnnviz.i18n import N_, _
from cnnviz.plots import style

# What a tile of tile_grid is called in its hover text (translated there): this module's and
# cnnviz.plots.training's.
HOVER_NAMES = (N_("tile"), N_("map"), N_("image"), N_("filter"))


def image_figure(image: np.ndarray, title: str | None = None, height: int = 320) -> go.Figure:
    """A grey image (H, W) in [0, 1] (ink bright), drawn pixel by pixel with square pixels."""
    image = np.asarray(image, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=style.IMAGE_SCALE,
            zmin=0.0,
            zmax=1.0,
            showscale=False,
            hovertemplate=_("row %{y}, column %{x}<br>value %{z:.2f}") + "<extra></extra>",
        )
    )
    _square_axes(fig)
    return style.apply(fig, title=title, height=height)


def probability_bars(
    probs: np.ndarray, class_names: list[str] | None = None, height: int = 340
) -> go.Figure:
    """The model's 10 probabilities as bars, the predicted class highlighted, each bar labelled.

    probs: (10,) summing to 1.
    """
    probs = np.asarray(probs, dtype=float).ravel()
    names = class_names or [str(i) for i in range(len(probs))]
    best = int(np.argmax(probs))
    colors = [style.HIGHLIGHT if i == best else style.ACCENT for i in range(len(probs))]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=probs,
            marker_color=colors,
            text=[f"{p:.0%}" if p >= 0.005 else "" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", title=_("probability"))
    fig.update_xaxes(type="category", title=_("class"))
    return style.apply(fig, title=_("Probabilities (softmax output)"), height=height)


def tile_grid(
    tiles: np.ndarray,
    titles: list[str],
    columns: int,
    colorscale: str,
    zmin: float,
    zmax: float,
    title: str | None = None,
    showscale: bool = True,
    width_px: int = 880,
    hover_name: str = N_("tile"),
    cell_text: bool = False,
) -> go.Figure:
    """Small images (N, h, w) side by side in one heatmap (a mosaic with blank gaps).

    One trace instead of N subplots: fast enough to redraw twice a second while training.
    Each tile gets its title above it; hovering names the tile (``hover_name``, an English word
    of HOVER_NAMES, translated here), row, column and value.
    ``width_px`` is the width the figure will get on the page (used to choose its height).
    ``cell_text`` writes each value in its cell (for 3x3 filters).
    """
    tiles = np.asarray(tiles, dtype=float)
    n, h, w = tiles.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    gap = max(1, round(max(h, w) / 7))
    band = max(2, round(h * 0.35))  # room for the tile titles
    height, width = rows * (h + band) + gap, columns * (w + gap) - gap
    z = np.full((height, width), np.nan, dtype=np.float32)  # half the bytes sent to the browser
    custom = np.full((height, width, 3), -1, dtype=int)
    annotations = []
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = r * (h + band) + band, c * (w + gap)
        z[top : top + h, left : left + w] = tiles[i]
        custom[top : top + h, left : left + w, 0] = i + 1
        custom[top : top + h, left : left + w, 1] = np.arange(h)[:, None]
        custom[top : top + h, left : left + w, 2] = np.arange(w)[None, :]
        annotations.append(
            dict(
                x=left + (w - 1) / 2,
                y=top - 0.6,
                text=titles[i],
                showarrow=False,
                yanchor="bottom",
                font=dict(size=style.FONT_SIZE - 3),
            )
        )
    text = None
    if cell_text:
        text = np.where(np.isnan(z), "", np.vectorize(lambda v: f"{v:.2f}")(np.nan_to_num(z)))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            customdata=custom,
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            showscale=showscale,
            colorbar=dict(thickness=14, len=0.9),
            hoverongaps=False,
            text=text,
            texttemplate="%{text}" if cell_text else None,
            textfont=dict(size=style.CELL_FONT_SIZE - 3),
            hovertemplate=_(hover_name)
            + " %{customdata[0]}<br>"
            + _("row %{customdata[1]}, column %{customdata[2]}<br>value %{z:.3f}")
            + "<extra></extra>",
        )
    )
    fig.update_layout(annotations=annotations)
    _square_axes(fig)
    plot_width = width_px - (90 if showscale else 20)
    fig_height = (60 if title else 15) + plot_width * height / width
    style.apply(fig, title=title, height=int(min(max(fig_height, 140), 900)))
    return fig


def feature_map_grid(
    maps: np.ndarray,
    title: str | None = None,
    columns: int = 8,
    max_maps: int = 32,
    width_px: int = 880,
) -> go.Figure:
    """Every channel of one layer's output (H, W, C) as a small heatmap, one shared colour scale.

    Signed values use the diverging scale centred on zero (positive red, negative blue);
    non-negative ones (after ReLU) the sequential scale.
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 2:
        maps = maps[:, :, np.newaxis]
    count = min(maps.shape[2], max_maps)
    tiles = np.moveaxis(maps[:, :, :count], 2, 0)
    limit = float(np.max(np.abs(tiles))) or 1.0
    signed = bool(np.min(tiles) < 0)
    return tile_grid(
        tiles,
        [f"#{c + 1}" for c in range(count)],
        columns,
        style.SIGNED_SCALE if signed else style.POSITIVE_SCALE,
        -limit if signed else 0.0,
        limit,
        title=title,
        width_px=width_px,
        hover_name=N_("map"),
    )


def _square_axes(fig: go.Figure) -> None:
    """Rows grow downwards like an image, pixels stay square, no tick clutter."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(
        showticklabels=False,
        showgrid=False,
        zeroline=False,
        autorange="reversed",
        scaleanchor="x",
        constrain="domain",
    )
    # make_subplots names axes x, x2, ...; anchor each y axis to its own x axis.
    layout = fig.layout
    for name in list(layout):
        if name.startswith("yaxis"):
            suffix = name[len("yaxis") :]
            layout[name].scaleanchor = f"x{suffix}"
