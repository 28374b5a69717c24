"""Figures for the Draw & predict page: the 28x28 input, class probabilities, feature maps.

Every builder takes plain NumPy arrays and returns a Plotly figure; no Streamlit here.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from cnnviz.i18n import N_, _
from cnnviz.plots import style

# What a tile of tile_grid is called in its hover text (translated there): this module's and
# cnnviz.plots.training's.
HOVER_NAMES = (N_("tile"), N_("map"), N_("image"), N_("filter"))


def image_figure(image: np.ndarray, title: str | None = None, height: int = 320) -> go.Figure:
    """A grey image (H, W) in [0, 1] (ink bright), drawn pixel by pixel with square pixels."""
    trace = {
        "type": "heatmap",
        "z": np.asarray(image, dtype=np.float32),
        "colorscale": style.IMAGE_SCALE,
        "zmin": 0.0,
        "zmax": 1.0,
        "showscale": False,
        "hovertemplate": _("row %{y}, column %{x}<br>value %{z:.2f}") + "<extra></extra>",
    }
    return style.figure([trace], _image_axes(np.shape(image)), title=title, height=height)


def probability_bars(
    probs: np.ndarray, class_names: list[str] | None = None, height: int = 340
) -> go.Figure:
    """The model's 10 probabilities as bars, the predicted class highlighted, each bar labelled.

    probs: (10,) summing to 1.
    """
    probs = np.asarray(probs, dtype=float).ravel()
    names = class_names or [str(i) for i in range(len(probs))]
    best = int(np.argmax(probs))
    trace = {
        "type": "bar",
        "x": list(names),
        "y": [round(float(p), 6) for p in probs],
        "marker": {
            "color": [style.HIGHLIGHT if i == best else style.ACCENT for i in range(len(probs))]
        },
        "text": [f"{p:.0%}" if p >= 0.005 else "" for p in probs],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{x}: %{y:.2%}<extra></extra>",
    }
    layout = {
        # room for the tick labels and axis titles, fixed (no second layout pass for it)
        "margin": {"l": 78, "r": 10, "t": 50, "b": 62},
        "xaxis": {"type": "category", "title": {"text": _("class")}},
        "yaxis": {"range": [0, 1.12], "tickformat": ".0%", "title": {"text": _("probability")}},
    }
    return style.figure([trace], layout, title=_("Probabilities (softmax output)"), height=height)


def probability_bars_html(
    probs: np.ndarray, class_names: list[str] | None = None, height: int = 300
) -> str:
    """:func:`probability_bars` as plain HTML and CSS, for a page that shows a new prediction
    on every digit: the browser lays out ten boxes instead of running Plotly.js (a Plotly
    chart is remounted for every new digit). Each bar carries its percentage above it and a
    tooltip with two decimals; the predicted class is highlighted; sizes in rem, so the
    presenter view's larger root font scales the chart with the text.

    probs: (10,) summing to 1. Returns one HTML fragment (for ``st.html``).
    """
    probs = np.asarray(probs, dtype=float).ravel()
    names = class_names or [str(i) for i in range(len(probs))]
    best = int(np.argmax(probs))
    title = _("Probabilities (softmax output)")
    plot_px = max(120, height - 110)  # the bars' area; title, labels and axis title around it
    grid = "".join(
        f'<div style="position:absolute;left:0;right:0;bottom:{q}%;'
        f'border-top:1px solid #e5e5e5;font-size:0.75rem;color:#666;line-height:0">'
        f'<span style="position:absolute;left:-3.2rem;width:2.8rem;text-align:right">'
        f"{q}%</span></div>"
        for q in (0, 25, 50, 75, 100)
    )
    columns = []
    for i, (name, p) in enumerate(zip(names, probs, strict=True)):
        label = f"{p:.0%}" if p >= 0.005 else ""
        color = style.HIGHLIGHT if i == best else style.ACCENT
        tip = html.escape(f"{name}: {p:.2%}")
        columns.append(
            f'<div title="{tip}" style="flex:1;display:flex;flex-direction:column;'
            f'justify-content:flex-end;align-items:center;height:100%;position:relative">'
            f'<div style="font-size:0.8rem;margin-bottom:2px">{label}</div>'
            f'<div style="width:70%;height:{p * 100 / 1.12:.2f}%;background:{color}"></div>'
            f'<div style="position:absolute;bottom:-1.6rem;font-size:0.9rem">'
            f"{html.escape(name)}</div></div>"
        )
    spoken = ", ".join(f"{name} {p:.0%}" for name, p in zip(names, probs, strict=True))
    return (
        f'<div role="img" aria-label="{html.escape(title)}: {html.escape(spoken)}" '
        f'style="font-family:{style.FONT_FAMILY};color:#2a3f5f;padding:0.2rem 0.5rem">'
        f'<div style="font-size:1.25rem;margin-bottom:0.6rem">{html.escape(title)}</div>'
        f'<div style="position:relative;margin-left:3.4rem;height:{plot_px}px">'
        f'<div style="position:absolute;inset:0;top:{100 - 100 / 1.12:.2f}%">{grid}</div>'
        f'<div style="position:absolute;inset:0;display:flex;gap:4px">{"".join(columns)}'
        f"</div></div>"
        f'<div style="margin:2rem 0 0 3.4rem;text-align:center;font-size:0.9rem">'
        f"{html.escape(_('class'))}</div></div>"
    )


@dataclass
class _Mosaic:
    """Tiles (N, h, w) side by side in one array with blank (NaN) gaps and a title band above
    each row of tiles; ``custom`` holds (tile number from 1, row, column) per cell, 0 in gaps
    (never hovered; -1 would be bytes 0xFF, "/" in base64, which Plotly's JSON escapes to six
    characters);
    ``titles`` the (x, y, text) of each tile's title in the mosaic's coordinates."""

    z: np.ndarray
    custom: np.ndarray
    titles: list[tuple[float, float, str]]

    @classmethod
    def of(cls, tiles: np.ndarray, titles: list[str], columns: int) -> _Mosaic:
        n, h, w = tiles.shape
        columns = max(1, min(columns, n))
        rows = math.ceil(n / columns)
        gap = max(1, round(max(h, w) / 7))
        band = max(2, round(h * 0.35))  # room for the tile titles
        height, width = rows * (h + band) + gap, columns * (w + gap) - gap
        z = np.full((height, width), np.nan, dtype=np.float32)  # half the bytes of float64
        # int8 when it fits: a quarter of the bytes again (Plotly sends it as a typed array)
        small = max(n, h, w) < 127
        custom = np.zeros((height, width, 3), dtype=np.int8 if small else np.int32)
        placed = []
        for i in range(n):
            r, c = divmod(i, columns)
            top, left = r * (h + band) + band, c * (w + gap)
            z[top : top + h, left : left + w] = tiles[i]
            custom[top : top + h, left : left + w, 0] = i + 1
            custom[top : top + h, left : left + w, 1] = np.arange(h)[:, None]
            custom[top : top + h, left : left + w, 2] = np.arange(w)[None, :]
            placed.append((left + (w - 1) / 2, top - 0.6, titles[i]))
        return cls(z, custom, placed)


# The colour scale beside a mosaic: a strip of STRIP_STEPS cells (zmax at the top), as wide as
# STRIP_WIDTH of the mosaic's width, after a gap; its three values are written to its right,
# in LABEL_ROOM pixels of right margin. Drawn as a small heatmap and three text points instead
# of a Plotly colour bar: a colour bar is a whole axis (ticks measured one by one) and pushes
# the margin, which makes Plotly.js lay out and draw the figure twice; on a prediction the
# colour bars were 40% of the feature maps' drawing time in the browser.
STRIP_STEPS = 64
STRIP_WIDTH = 0.02
LABEL_ROOM = 64


def _scale_strip(
    mosaic: _Mosaic, scale, zmin: float, zmax: float, axis: str = ""
) -> tuple[dict, list[tuple[float, float, str]], float]:
    """The colour-scale strip right of ``mosaic`` (a heatmap trace on the mosaic's axes), the
    (x, y, text) of its labels (top, middle, bottom value) and the x where the strip ends."""
    rows, cols = mosaic.z.shape
    top = min(y for _x, y, _t in mosaic.titles) + 0.6 if mosaic.titles else 0.0  # first tile row
    width = max(1.0, STRIP_WIDTH * cols)
    left = cols - 0.5 + max(1.0, width / 2)
    step = (rows - top) / STRIP_STEPS
    values = np.linspace(zmax, zmin, STRIP_STEPS, dtype=np.float32)[:, np.newaxis]
    trace = {
        "type": "heatmap",
        "z": values,
        "x0": left + width / 2,
        "dx": width,
        "y0": top - 0.5 + step / 2,
        "dy": step,
        "colorscale": scale,
        "zmin": zmin,
        "zmax": zmax,
        "showscale": False,
        "hovertemplate": _("colour scale: %{z:.3f}") + "<extra></extra>",
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
    }
    end = left + width
    labels = [
        (end, top - 0.5, _number(zmax)),
        (end, top - 0.5 + (rows - top) / 2, _number((zmin + zmax) / 2)),
        (end, rows - 0.5, _number(zmin)),
    ]
    return trace, labels, end


def _number(value: float) -> str:
    """A colour-scale label: 3 significant digits, a true minus sign."""
    text = f"{value:.3g}"
    return "0" if text in ("0", "-0") else text.replace("-", "−")


def _text_points(
    points: list[tuple[float, float, str]], position: str, axis: str = "", clip: bool = True
) -> dict:
    """Texts at (x, y) points of a band's axes as one text trace (drawn far faster by Plotly.js
    than one annotation each); ``clip=False`` lets them stand in the margin."""
    x, y, text = zip(*points, strict=True) if points else ((), (), ())
    return {
        "type": "scatter",
        "mode": "text",
        "x": list(x),
        "y": list(y),
        "text": list(text),
        "textposition": position,
        "textfont": {"size": style.FONT_SIZE - 3},
        "cliponaxis": clip,
        "hoverinfo": "skip",
        "showlegend": False,
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
    }


def _scale_labels(labels: list[tuple[float, float, str]], axis: str = "") -> dict:
    """The colour strip's values, right of it in the margin (LABEL_ROOM pixels)."""
    return _text_points(labels, "middle right", axis, clip=False)


def _hover(hover_name: str) -> str:
    return (
        _(hover_name)
        + " %{customdata[0]}<br>"
        + _("row %{customdata[1]}, column %{customdata[2]}<br>value %{z:.3f}")
        + "<extra></extra>"
    )


def _tile_titles(mosaic: _Mosaic, axis: str = "") -> dict:
    """Each tile's title above it."""
    return _text_points(mosaic.titles, "top center", axis)


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
    mosaic = _Mosaic.of(np.asarray(tiles, dtype=float), titles, columns)
    z = mosaic.z
    colorscale = style.colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    trace = {
        "type": "heatmap",
        "z": z,
        "customdata": mosaic.custom,
        "colorscale": colorscale,
        "zmin": zmin,
        "zmax": zmax,
        "showscale": False,
        "hoverongaps": False,
        "hovertemplate": _hover(hover_name),
    }
    traces = [trace, _tile_titles(mosaic)]
    layout = _image_axes(z.shape)
    if showscale:
        strip, labels, end = _scale_strip(mosaic, colorscale, zmin, zmax)
        traces += [strip, _scale_labels(labels)]
        layout["xaxis"]["range"] = [-0.5, end]
    right = LABEL_ROOM if showscale else 10
    layout["margin"] = {"l": 10, "r": right, "t": 50 if title else 10, "b": 10}
    if cell_text:
        trace["text"] = np.where(
            np.isnan(z), "", np.vectorize(lambda v: f"{v:.2f}")(np.nan_to_num(z))
        )
        trace["texttemplate"] = "%{text}"
        trace["textfont"] = {"size": style.CELL_FONT_SIZE - 3}
    height = z.shape[0]
    width = layout["xaxis"]["range"][1] + 0.5
    fig_height = (60 if title else 15) + (width_px - right - 10) * height / width
    return style.figure(traces, layout, title=title, height=int(min(max(fig_height, 140), 900)))


def _layer_tiles(maps: np.ndarray, max_maps: int) -> tuple[np.ndarray, str, float, float]:
    """The first ``max_maps`` channels of (H, W, C) as tiles (N, H, W), with their colour scale
    and range: signed values diverging around zero, non-negative ones (after ReLU) sequential."""
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 2:
        maps = maps[:, :, np.newaxis]
    count = min(maps.shape[2], max_maps)
    tiles = np.moveaxis(maps[:, :, :count], 2, 0)
    limit = float(np.max(np.abs(tiles))) or 1.0
    if np.min(tiles) < 0:
        return tiles, style.SIGNED_SCALE, -limit, limit
    return tiles, style.POSITIVE_SCALE, 0.0, limit


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
    tiles, scale, zmin, zmax = _layer_tiles(maps, max_maps)
    return tile_grid(
        tiles,
        [f"#{c + 1}" for c in range(len(tiles))],
        columns,
        scale,
        zmin,
        zmax,
        title=title,
        width_px=width_px,
        hover_name=N_("map"),
    )


def feature_maps_figure(
    layers: list[tuple[str, np.ndarray]],
    columns: int = 8,
    max_maps: int = 16,
    width_px: int = 1100,
) -> go.Figure:
    """The feature maps of several layers in ONE figure: a band per layer, top to bottom.

    layers: [(title, output (H, W, C))]. Each band is :func:`feature_map_grid`'s mosaic of the
    layer's first ``max_maps`` channels with its own colour scale and colour bar (beside the
    band), its title above it; hovering gives map, row, column and value. One figure instead
    of one per layer: one Plotly chart for the browser to lay out, one element for Streamlit.
    """
    plot_width = width_px - LABEL_ROOM - 10
    title_px, gap_px = 40, 16
    bands, traces, annotations = [], [], []
    for title, maps in layers:
        tiles, scale, zmin, zmax = _layer_tiles(maps, max_maps)
        mosaic = _Mosaic.of(tiles, [f"#{c + 1}" for c in range(len(tiles))], columns)
        strip, labels, end = _scale_strip(mosaic, scale, zmin, zmax)
        plot_px = plot_width * mosaic.z.shape[0] / (end + 0.5)
        bands.append((title, mosaic, scale, zmin, zmax, strip, labels, end, plot_px))
    total = sum(title_px + band[-1] for band in bands) + gap_px * (len(bands) - 1)
    margin = {"l": 10, "r": LABEL_ROOM, "t": 10, "b": 10}
    layout: dict = {"margin": margin, "showlegend": False}
    top = 0.0  # pixels from the top of the plot area
    for i, (title, mosaic, scale, zmin, zmax, strip, labels, end, plot_px) in enumerate(bands):
        axis = "" if i == 0 else str(i + 1)
        y1 = 1 - (top + title_px) / total
        y0 = 1 - (top + title_px + plot_px) / total
        traces.append(
            {
                "type": "heatmap",
                "z": mosaic.z,
                "customdata": mosaic.custom,
                "colorscale": scale,
                "zmin": zmin,
                "zmax": zmax,
                "showscale": False,
                "hoverongaps": False,
                "hovertemplate": _hover(N_("map")),
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
            }
        )
        traces.append(strip | {"xaxis": f"x{axis}", "yaxis": f"y{axis}"})
        traces.append(_scale_labels(labels, axis))
        axes = _image_axes(mosaic.z.shape, axis)
        axes[f"xaxis{axis}"]["range"] = [-0.5, end]
        axes[f"xaxis{axis}"]["domain"] = [0, 1]
        axes[f"yaxis{axis}"]["domain"] = [max(y0, 0.0), y1]
        axes[f"xaxis{axis}"]["anchor"] = f"y{axis}"
        axes[f"yaxis{axis}"]["anchor"] = f"x{axis}"
        layout.update(axes)
        annotations.append(
            {
                "text": title,
                "x": 0,
                "y": 1 - top / total,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": style.TITLE_SIZE},
            }
        )
        traces.append(_tile_titles(mosaic, axis))
        top += title_px + plot_px + gap_px
    layout["annotations"] = annotations
    return style.figure(traces, layout, height=int(total + 20))


def _image_axes(shape: tuple[int, ...], suffix: str = "") -> dict:
    """Axes for an image of ``shape`` (rows, columns): rows grow downwards, pixels stay square,
    no axis drawn at all; fixed ranges (no autorange pass in the browser)."""
    rows, cols = shape[:2]
    hidden = {"visible": False}  # no ticks, labels, grid or line: nothing for Plotly to draw
    return {
        f"xaxis{suffix}": {**hidden, "range": [-0.5, cols - 0.5], "constrain": "domain"},
        f"yaxis{suffix}": {
            **hidden,
            "range": [rows - 0.5, -0.5],
            "scaleanchor": f"x{suffix}",
            "constrain": "domain",
        },
    }
