"""Annotated heatmaps for images, kernels, feature maps and gradients.

Every heatmap here has square cells (equal aspect), row 0 at the top like a matrix, one colour
scale with its colour bar, and numbers written in the cells only when they fit. Highlight boxes
mark a window (the 3x3 patch a filter sees, a pooling window) and a ring marks one chosen cell.

>>> fig = heatmap([[0, 50], [80, 31]], kind="image", boxes=[Box(0, 0, 1, 1)])

The figure has a fixed pixel size (``fig.layout.width`` / ``height``) chosen so that nothing is
cut on a 1280x800 screen; draw it with ``st.plotly_chart(fig, width="content")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.i18n import _
from cnnviz.plots import style

# Reserved space around the cells, in pixels.
_LEFT = 36  # row tick labels
_BOTTOM = 34  # column tick labels
_COLORBAR = 118  # colour bar, its tick labels ("−1000") and its title
_TITLE = 44
_BELOW = 56  # a colour bar under the grid
_MIN_BAR = 240  # narrowest plot area that still has room for a colour bar under it
# The main column of the app at 1280x800 with the sidebar open is about 700 px wide.
CONTENT_WIDTH = 700
# heatmap_grid narrower than this (a phone): the colour bar under the maps, not beside them.
GRID_BAR_BELOW = 440
# Pass to st.plotly_chart(config=...): no floating toolbar over small figures.


@dataclass(frozen=True)
class Box:
    """A rectangle around cells ``[top, top + height) x [left, left + width)``."""

    top: int
    left: int
    height: int
    width: int
    color: str = style.HIGHLIGHT
    dash: str = "solid"  # "solid" or "dash"
    line_width: int = 4


def scale_for(kind: str, values: np.ndarray, zmin=None, zmax=None) -> dict:
    """Colour scale and range for a kind of data: "image", "signed" or "positive".

    image: grey, 0..255 (or the data's range if it goes outside); signed: diverging, symmetric
    around zero so white means 0; positive: sequential from 0.
    """
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    if kind == "image":
        lo = 0.0 if low >= 0 else low
        hi = 255.0 if high <= 255 and high > 1.0 else max(high, 1.0)
        scale = dict(colorscale=style.IMAGE_SCALE, zmin=lo, zmax=hi)
    elif kind == "signed":
        bound = max(abs(low), abs(high)) or 1.0
        scale = dict(colorscale=style.SIGNED_SCALE, zmin=-bound, zmax=bound)
    elif kind == "positive":
        scale = dict(colorscale=style.POSITIVE_SCALE, zmin=min(low, 0.0), zmax=high or 1.0)
    else:
        raise ValueError(f"kind must be 'image', 'signed' or 'positive', not {kind!r}")
    if zmin is not None:
        scale["zmin"] = float(zmin)
    if zmax is not None:
        scale["zmax"] = float(zmax)
    return scale


def format_number(value: float, decimals: int = 2) -> str:
    """One number as the lesson pages write it: whole numbers as integers ("29", "-192"),
    others rounded to ``decimals`` (trailing zeros kept so a column lines up)."""
    value = float(value)
    if not np.isfinite(value):
        return ""
    if abs(value - round(value)) < 1e-9 * max(1.0, abs(value)):
        return str(int(round(value)))
    return f"{round(value, decimals) + 0.0:.{decimals}f}"


def format_cells(values: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Text for each cell: whole numbers as integers ("29", "-192"), others rounded.

    values: (H, W). Returns an (H, W) array of strings. Without ``decimals``, the number of
    decimals depends on the size of the values (0 from 100, 1 from 10, else 2).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if decimals is None:
        biggest = float(np.abs(finite).max()) if finite.size else 0.0
        decimals = 0 if biggest >= 100 else 1 if biggest >= 10 else 2
    if values.size == 0:
        return values.astype(str)
    return np.vectorize(lambda v: format_number(v, decimals), otypes=[str])(values)


def numbers_fit(texts: np.ndarray, cell_px: int, font_size: int = style.CELL_FONT_SIZE) -> bool:
    """True if the longest text fits inside a square cell of ``cell_px`` pixels."""
    longest = max((len(t) for t in np.ravel(texts)), default=0)
    return cell_px >= font_size + 6 and cell_px >= 0.62 * font_size * longest + 8


def cell_size(rows: int, cols: int, max_px: int = 420, max_cell: int = 64) -> int:
    """Pixels per cell so that the larger side of the grid is at most ``max_px``."""
    return int(max(4, min(max_cell, max_px // max(rows, cols, 1))))


def _ticks(n: int) -> dict:
    step = 1 if n <= 12 else 2 if n <= 20 else 5
    return dict(tickmode="array", tickvals=list(range(0, n, step)), ticks="", showgrid=False)


def _hover() -> str:
    """The hover text of a cell, in the current language (Plotly fills %{x}, %{y}, %{text})."""
    return _("row %{y}, column %{x}<br>value %{text}") + "<extra></extra>"


def _box_shape(box: Box, xref="x", yref="y") -> dict:
    return dict(
        type="rect",
        xref=xref,
        yref=yref,
        x0=box.left - 0.5,
        x1=box.left + box.width - 0.5,
        y0=box.top - 0.5,
        y1=box.top + box.height - 0.5,
        line=dict(color=box.color, width=box.line_width, dash=box.dash),
        fillcolor="rgba(0,0,0,0)",
    )


def _marker_trace(row: int, col: int, cell_px: int, xaxis="x", yaxis="y") -> go.Scatter:
    return go.Scatter(
        x=[col],
        y=[row],
        mode="markers",
        marker=dict(
            symbol="circle-open",
            size=max(10, int(cell_px * 0.8)),
            color=style.CHOSEN,
            line=dict(width=4, color=style.CHOSEN),
        ),
        hoverinfo="skip",
        showlegend=False,
        xaxis=xaxis,
        yaxis=yaxis,
    )


def _colorbar_below(title: str | None, length_px: int) -> dict:
    """A horizontal colour bar under the column tick labels, its title to the left of the bar
    (narrow figures: the title shortens the bar rather than overlapping it)."""
    return dict(
        orientation="h",
        title=dict(text=title or "", side="right", font=dict(size=style.FONT_SIZE - 2)),
        thickness=14,
        lenmode="pixels",
        len=length_px,
        x=0.5,
        xref="paper",
        xanchor="center",
        y=0,
        yref="container",
        yanchor="bottom",
        ypad=4,
        tickfont=dict(size=style.FONT_SIZE - 2),
        tickformat="~g",
        nticks=5,
    )


def _ends_marked(colorbar: dict, scale: dict) -> dict:
    """``colorbar`` with ticks at its two ends (and 0 between them when the scale crosses it):
    a short bar under a phone's grid has room for three numbers, and the ends say the range."""
    lo, hi = float(scale["zmin"]), float(scale["zmax"])
    ticks = [lo, 0.0, hi] if lo < 0 < hi else [lo, hi]
    colorbar = dict(colorbar, tickmode="array", tickvals=ticks)
    colorbar["ticktext"] = [f"{v:.4g}".replace("-", "−") for v in ticks]
    colorbar.pop("nticks", None)
    return colorbar


def _click_targets(texts: np.ndarray, cell_px: int) -> go.Scatter:
    """One invisible square marker per cell (texts: (H, W) labels for hovering): Streamlit
    reports clicks on markers, not on heatmap cells."""
    rows, cols = texts.shape
    r, c = np.mgrid[0:rows, 0:cols]
    return go.Scatter(
        x=c.ravel(),
        y=r.ravel(),
        text=texts.ravel(),
        mode="markers",
        marker=dict(symbol="square", size=max(4, cell_px - 2), color="rgba(0,0,0,0)"),
        hovertemplate=_hover(),
        showlegend=False,
    )


def heatmap(
    values,
    *,
    kind: str = "signed",
    title: str | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    colorbar_title: str | None = None,
    numbers: bool | str = "auto",
    decimals: int | None = None,
    boxes: Sequence[Box] = (),
    marker: tuple[int, int] | None = None,
    max_px: int = 420,
    max_cell: int = 64,
    show_colorbar: bool = True,
    colorbar_below: bool = True,
    clickable: bool = False,
) -> go.Figure:
    """One annotated heatmap of a 2-D array.

    values: (H, W). kind: "image" (grey 0..255), "signed" (blue-white-red around 0) or
    "positive". numbers: "auto" writes each value in its cell when it fits, True/False force it.
    boxes: rectangles to draw (e.g. the filter's window). marker: (row, col) of a cell to ring
    (e.g. the element max-pooling chose). colorbar_below puts the colour bar under the grid
    (for two heatmaps side by side). clickable adds an invisible marker on every cell so that
    st.plotly_chart(on_select=..., selection_mode="points") reports the clicked cell as
    x = column, y = row. Returns a go.Figure with a fixed width and height.
    """
    z = np.asarray(values, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, not shape {z.shape}")
    rows, cols = z.shape
    cell = cell_size(rows, cols, max_px, max_cell)
    texts = format_cells(z, decimals)
    # The largest cell font (down to 11 px) with which every number fits its cell.
    sizes = [size for size in (style.CELL_FONT_SIZE, 12, 11) if numbers_fit(texts, cell, size)]
    show_numbers = bool(sizes) if numbers == "auto" else bool(numbers)
    font_size = sizes[0] if sizes else max(9, min(style.CELL_FONT_SIZE, cell - 8))
    trace = go.Heatmap(
        z=z,
        text=texts,
        texttemplate="%{text}" if show_numbers else None,
        textfont=dict(size=font_size),
        hovertemplate=_hover(),
        showscale=show_colorbar,
        colorbar=_colorbar_below(colorbar_title, max(cell * cols, _MIN_BAR) + 40)
        if colorbar_below
        else dict(
            title=dict(text=colorbar_title or "", side="right"),
            thickness=16,
            len=1.0,
            x=1.02,
            xanchor="left",
            tickfont=dict(size=style.FONT_SIZE - 2),
            tickformat="~g",
        ),
        xgap=1 if cell >= 12 else 0,
        ygap=1 if cell >= 12 else 0,
        **scale_for(kind, z, zmin, zmax),
    )
    fig = go.Figure(trace)
    for box in boxes:
        fig.add_shape(**_box_shape(box))
    if marker is not None:
        fig.add_trace(_marker_trace(marker[0], marker[1], cell))
    if clickable:
        fig.add_trace(_click_targets(texts, cell))
    top = _TITLE if title else 10
    right = _COLORBAR if show_colorbar and not colorbar_below else 16
    bottom = _BOTTOM + (_BELOW if show_colorbar and colorbar_below else 0)
    fig.update_layout(
        width=_LEFT + max(cell * cols, _MIN_BAR if colorbar_below else 0) + right,
        height=top + cell * rows + bottom,
        margin=dict(l=_LEFT, r=right, t=top, b=bottom, autoexpand=False),
        title=dict(text=title, font=dict(size=style.TITLE_SIZE), x=0, xanchor="left")
        if title
        else None,
        font=dict(size=style.FONT_SIZE, family=style.FONT_FAMILY),
        template="plotly_white",
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    fig.update_xaxes(range=[-0.5, cols - 0.5], constrain="domain", zeroline=False, **_ticks(cols))
    fig.update_yaxes(
        range=[rows - 0.5, -0.5],
        scaleanchor="x",
        scaleratio=1,
        constrain="domain",
        zeroline=False,
        **_ticks(rows),
    )
    return fig


def _right_of_grid(max_width: int) -> int:
    """Pixels right of a grid's panels: the colour bar beside them, or a margin on a phone
    (where the bar goes under them)."""
    return 16 if max_width < GRID_BAR_BELOW else _COLORBAR


def grid_columns(wanted: int, max_width: int, panel_px: int = 96) -> int:
    """How many of ``wanted`` columns of :func:`heatmap_grid` panels at least ``panel_px``
    pixels wide fit in ``max_width`` pixels (at least one): all of them on a laptop, fewer on
    a phone."""
    gap = 24  # heatmap_grid's between panels, up to 4 a row
    fit = (max_width - _LEFT - _right_of_grid(max_width) + gap) // (panel_px + gap)
    return int(max(1, min(wanted, fit)))


def heatmap_grid(
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    kind: str = "signed",
    columns: int = 4,
    max_px: int = 220,
    colorbar_title: str | None = None,
    numbers: bool | str = "auto",
    zmin: float | None = None,
    zmax: float | None = None,
    max_width: int = CONTENT_WIDTH,
) -> go.Figure:
    """Several 2-D maps side by side sharing ONE colour scale (one colour bar for all).

    maps: a list of (H, W) arrays of the same shape (e.g. the 8 feature maps of a 26x26x8
    volume, or 8 filters). titles: one per map. columns: maps per row. Panels are at most
    ``max_px`` pixels and shrink so the whole figure fits in ``max_width`` pixels (with fewer
    columns if even the smallest cells would not fit). Below
    :data:`GRID_BAR_BELOW` pixels (a phone) the colour bar goes under the maps instead of
    beside them, and a title wider than its panel is written on more lines.
    """
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    if not maps:
        raise ValueError("heatmap_grid needs at least one map")
    rows_h, cols_w = maps[0].shape
    n = len(maps)
    columns = max(1, min(columns, n))
    below = max_width < GRID_BAR_BELOW
    right = _right_of_grid(max_width)
    while True:  # fewer columns when even the smallest cells would not fit them in max_width
        gap_x = 24 if columns <= 4 else 14  # pixels between panels
        room = (max_width - _LEFT - right - (columns - 1) * gap_x) // columns
        cell = cell_size(rows_h, cols_w, min(max_px, room))
        panel_w, panel_h = cell * cols_w, cell * rows_h
        if columns == 1 or _LEFT + columns * (panel_w + gap_x) - gap_x + right <= max_width:
            break
        columns -= 1
    grid_rows = -(-n // columns)
    titles = [style.wrap(str(t), panel_w + gap_x) for t in titles]
    title_px = 20 + 20 * max(style.lines(t) for t in titles)  # above each row of panels
    gap_y = title_px
    bar_px = _BELOW if below else 0
    width = _LEFT + columns * panel_w + (columns - 1) * gap_x + right
    height = title_px + grid_rows * panel_h + (grid_rows - 1) * gap_y + 20 + bar_px
    fig = make_subplots(
        rows=grid_rows,
        cols=columns,
        subplot_titles=list(titles),
        horizontal_spacing=gap_x / (width - _LEFT - right),
        vertical_spacing=gap_y / (height - title_px - 20 - bar_px) if grid_rows > 1 else 0.0,
    )
    everything = np.concatenate([m.ravel() for m in maps])
    scale = scale_for(kind, everything, zmin, zmax)
    all_texts = [format_cells(m) for m in maps]
    show = numbers_fit(np.concatenate([t.ravel() for t in all_texts]), cell)
    show = show if numbers == "auto" else bool(numbers)
    for i, (values, texts) in enumerate(zip(maps, all_texts, strict=True)):
        r, c = divmod(i, columns)
        fig.add_trace(
            go.Heatmap(
                z=values,
                text=texts,
                texttemplate="%{text}" if show else None,
                textfont=dict(size=style.CELL_FONT_SIZE if cell >= 30 else 11),
                hovertemplate=_hover(),
                coloraxis="coloraxis",
                xgap=1 if cell >= 12 else 0,
                ygap=1 if cell >= 12 else 0,
            ),
            row=r + 1,
            col=c + 1,
        )
    fig.update_layout(
        coloraxis=dict(
            colorscale=scale["colorscale"],
            cmin=scale["zmin"],
            cmax=scale["zmax"],
            colorbar=_ends_marked(_colorbar_below(colorbar_title, width - _LEFT - right), scale)
            if below
            else dict(
                title=dict(text=colorbar_title or "", side="right"),
                thickness=16,
                x=1.02,
                xanchor="left",
                tickfont=dict(size=style.FONT_SIZE - 2),
                tickformat="~g",
            ),
        ),
        width=width,
        height=height,
        margin=dict(l=_LEFT, r=right, t=title_px, b=20 + bar_px, autoexpand=False),
        font=dict(size=style.FONT_SIZE, family=style.FONT_FAMILY),
        template="plotly_white",
        plot_bgcolor="rgba(0,0,0,0)",
        paper_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
    )
    fig.update_annotations(font=dict(size=style.FONT_SIZE, color="#111111"))
    for i in range(n):
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"xaxis{axis}"].update(
            range=[-0.5, cols_w - 0.5],
            constrain="domain",
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            ticks="",
        )
        fig.layout[f"yaxis{axis}"].update(
            range=[rows_h - 0.5, -0.5],
            scaleanchor=f"x{axis}",
            scaleratio=1,
            constrain="domain",
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            ticks="",
        )
    return fig
