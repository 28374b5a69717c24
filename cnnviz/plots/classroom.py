"""Figures for class mode (the Class page's host view): the class's drawings as one gallery, the
confusion matrix of what they meant against what the network read, and the small sums behind
them. Plain NumPy in, Plotly figures out (built from dicts by :func:`style.figure`); no Streamlit.

The gallery is ONE figure however many drawings there are: the tiles are one PNG (an image
trace, drawn by the browser as a single picture) with a green or red frame for right or wrong,
and their labels one text trace. Two hundred Streamlit images or two hundred Plotly traces would
cost the server and every projector's browser far more.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from cnnviz.i18n import _
from cnnviz.plots import style

RIGHT = "#2ca02c"  # a drawing the network read as what was meant
WRONG = "#d62728"  # one it read as another digit
FRAME = 2  # pixels of coloured frame around each 28 x 28 drawing
GAP = 4  # pixels between tiles
BAND = 13  # pixels above each tile for its label
TILE = 28 + 2 * FRAME


def accuracy(intended: np.ndarray, predicted: np.ndarray) -> float | None:
    """The fraction of drawings read as the digit meant, or None when there are none."""
    intended, predicted = np.asarray(intended), np.asarray(predicted)
    return float(np.mean(intended == predicted)) if len(intended) else None


def confusion_counts(intended: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """(classes, classes) int counts: row = the digit meant, column = the network's reading."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(intended, int), np.asarray(predicted, int)), 1)
    return counts


def gallery_order(
    intended: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, newest_first: bool = False
) -> np.ndarray:
    """The order the gallery shows drawings in (indices into the arrays, in arrival order).

    By default the ones that fooled the network come first, the most confidently wrong of them
    first, then the right ones, the closest calls first; ``newest_first`` shows the latest
    arrivals first instead.
    """
    n = len(intended)
    if newest_first:
        return np.arange(n)[::-1]
    wrong = np.asarray(intended) != np.asarray(predicted)
    confidence = np.asarray(confidence, dtype=float)
    # lexsort: the last key sorts first. Wrong before right; wrong by confidence descending,
    # right by confidence ascending; then by arrival.
    key = np.where(wrong, -confidence, confidence)
    return np.lexsort((np.arange(n), key, ~wrong))


def gallery_columns(count: int, most: int = 14) -> int:
    """Tiles per row: a few large ones for a handful of drawings, up to ``most`` for a full hall
    (60 drawings: 8 a row; 200: 14)."""
    return int(min(most, max(6, math.ceil(math.sqrt(count)))))


# The mosaic's palette: greys 0-251 for the drawings (ink 0-255 mapped onto them: no visible
# difference), then the two frame colours and the white of the label bands. A palette PNG is
# about a third of an RGB one, and the host view sends it once a second.
GREYS = 252
_RIGHT_INDEX, _WRONG_INDEX, _WHITE_INDEX = 252, 253, 254


def _palette() -> list[int]:
    greys = [round(v * 255 / (GREYS - 1)) for v in range(GREYS)]
    colours = [(g, g, g) for g in greys] + [_rgb(RIGHT), _rgb(WRONG), (255, 255, 255)]
    return [channel for colour in colours for channel in colour]


def _mosaic_png(images: np.ndarray, right: np.ndarray, columns: int) -> tuple[str, int, int]:
    """The tiles as one palette PNG (a data URI): each drawing framed green or red, label bands
    left white. Returns (data URI, width, height) in pixels."""
    n = len(images)
    rows = max(1, math.ceil(n / columns))
    width = columns * (TILE + GAP) - GAP
    height = rows * (TILE + BAND) + GAP
    canvas = np.full((height, width), _WHITE_INDEX, dtype=np.uint8)
    greys = np.rint(np.asarray(images, dtype=np.float32) * ((GREYS - 1) / 255)).astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = r * (TILE + BAND) + BAND, c * (TILE + GAP)
        canvas[top : top + TILE, left : left + TILE] = _RIGHT_INDEX if right[i] else _WRONG_INDEX
        canvas[top + FRAME : top + FRAME + 28, left + FRAME : left + FRAME + 28] = greys[i]
    picture = Image.fromarray(canvas, mode="P")
    picture.putpalette(_palette())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=6)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return uri, width, height


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def gallery_figure(
    images: np.ndarray,
    intended: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    width_px: int = 1200,
    columns: int | None = None,
) -> go.Figure:
    """The class's drawings (N, 28, 28) uint8 (ink bright), in the order given, each framed green
    (read as meant) or red (not) and labelled "meant → read" above; hovering gives the
    network's confidence. ``width_px`` is the width it gets on the page (to choose its height).
    """
    n = len(images)
    columns = columns or gallery_columns(n)
    right = np.asarray(intended) == np.asarray(predicted)
    uri, width, height = _mosaic_png(np.asarray(images), right, columns)
    x, y, text, colors, hover = [], [], [], [], []
    for i in range(n):
        r, c = divmod(i, columns)
        x.append(c * (TILE + GAP) + TILE / 2)
        y.append(r * (TILE + BAND) + BAND - 1)
        text.append(f"{int(intended[i])}→{int(predicted[i])}")
        colors.append(RIGHT if right[i] else WRONG)
        hover.append(
            _("meant {meant}, the network read {read} ({confidence:.0%} sure)").format(
                meant=int(intended[i]), read=int(predicted[i]), confidence=float(confidence[i])
            )
        )
    scale = width_px / max(width, 1)
    label_px = max(10, min(22, int(BAND * scale * 0.85), int((TILE + GAP) * scale / 2.6)))
    traces = [
        {"type": "image", "source": uri, "x0": 0, "y0": 0, "dx": 1, "dy": 1, "hoverinfo": "skip"},
        {
            "type": "scatter",
            "mode": "text",
            "x": x,
            "y": y,
            "text": text,
            "textposition": "top center",
            "textfont": {"size": label_px, "color": colors},
            "hovertext": hover,
            "hoverinfo": "text",
            "showlegend": False,
        },
    ]
    hidden = {"visible": False}
    layout = {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "xaxis": {
            **hidden,
            "range": [-0.5, width - 0.5],
            "constrain": "domain",
            "constraintoward": "left",
        },
        "yaxis": {
            **hidden,
            "range": [height - 0.5, -0.5],
            "scaleanchor": "x",
            "constrain": "domain",
            "constraintoward": "top",  # any room left over goes below the tiles
        },
        "showlegend": False,
    }
    return style.figure(traces, layout, height=int(max(120, height * scale)))


def confusion_figure(counts: np.ndarray, height: int = 420) -> go.Figure:
    """The class's confusion matrix: rows the digit meant, columns the network's reading, the
    count written in each cell (empty cells left blank)."""
    counts = np.asarray(counts)
    digits = [str(d) for d in range(len(counts))]
    trace = {
        "type": "heatmap",
        "z": counts,
        "x": digits,
        "y": digits,
        "colorscale": "Blues",
        "showscale": False,
        "text": [[str(v) if v else "" for v in row] for row in counts.tolist()],
        "texttemplate": "%{text}",
        "textfont": {"size": style.CELL_FONT_SIZE},
        "hovertemplate": _("meant %{y}, read %{x}: %{z}") + "<extra></extra>",
        "xgap": 1,
        "ygap": 1,
    }
    layout = {
        "margin": {"l": 70, "r": 10, "t": 50, "b": 60},
        "xaxis": {"type": "category", "title": {"text": _("the network read")}},
        "yaxis": {"type": "category", "autorange": "reversed", "title": {"text": _("meant")}},
    }
    return style.figure([trace], layout, title=_("Confusion matrix"), height=height)
