"""Figures for the Train live page: loss/accuracy curves, confusion matrix, mistakes, filters.

Every builder takes plain lists / NumPy arrays (what :class:`cnnviz.training.Snapshot` holds)
and returns a Plotly figure; no Streamlit here.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.i18n import N_, _
from cnnviz.plots import style
from cnnviz.plots.predict import tile_grid


def _thin(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) > max_points:  # thin out long runs (batch size 1: 60000 points an epoch)
        pick = np.linspace(0, len(x) - 1, max_points).astype(int)
        x, y = x[pick], y[pick]
    return x, y


def training_curves(
    batch_curve: list[tuple[float, float, float]],
    history: dict[str, list[float]],
    height: int = 400,
    max_points: int = 500,
) -> go.Figure:
    """Loss (left) and accuracy (right) against epochs, like the tutorial's figure.

    Each panel shows the running per-batch value as a thin line and, once epochs finish, the
    training and validation value of each epoch as points joined by lines (loss / val_loss,
    accuracy / val_accuracy). One figure for both panels: the Train live page redraws it every
    second while training, and one chart costs the browser about half of what two do.

    batch_curve: [(epochs done as a float, running loss, running accuracy)];
    history: {"loss": [...], "val_loss": [...], "accuracy": [...], "val_accuracy": [...]}.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=(_("Loss"), _("Accuracy")), horizontal_spacing=0.1
    )
    arr = np.asarray(batch_curve, dtype=float).reshape(-1, 3)
    series = (
        (N_("running, per batch"), style.ACCENT, "lines", 1.5, 0.45, None),
        (N_("training, per epoch"), style.ACCENT, "lines+markers", 3, 1.0, ""),
        (N_("validation, per epoch"), style.SECOND, "lines+markers", 3, 1.0, "val_"),
    )
    epoch_hover = _("epoch %{x:.2f}")  # the value's name stays Keras's: loss, val_accuracy
    for col, key in ((1, "loss"), (2, "accuracy")):
        for name, color, mode, width, opacity, prefix in series:
            if prefix is None:
                x, y = _thin(arr[:, 0], arr[:, col], max_points)
            else:
                y = np.asarray(history.get(prefix + key) or [], dtype=float)
                x = np.arange(1, len(y) + 1)
            if not len(y):
                continue
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode=mode,
                    name=_(name),
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=color, width=width),
                    marker=dict(size=9),
                    opacity=opacity,
                    hovertemplate=f"{epoch_hover}<br>{prefix or ''}{key} %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title=_("epoch"), rangemode="tozero")
    fig.update_yaxes(title=_("cross-entropy"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title=_("accuracy"), tickformat=".0%", row=1, col=2)
    style.apply(fig, height=height)
    fig.update_annotations(font=dict(size=style.TITLE_SIZE, color="#111111"))  # panel titles
    fig.update_layout(legend=dict(orientation="h", y=-0.22, x=0), margin=dict(t=40, b=10))
    return fig


def confusion_figure(
    counts: np.ndarray, class_names: list[str] | None = None, height: int = 520
) -> go.Figure:
    """The confusion matrix (rows = true class, columns = predicted) with the count in each cell."""
    counts = np.asarray(counts)
    names = class_names or [str(i) for i in range(len(counts))]
    short = [n if len(n) <= 8 else n[:7] + "." for n in names]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=short,
            y=short,
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}",
            textfont=dict(size=style.CELL_FONT_SIZE - 2),
            hovertemplate=_("true %{y}, predicted %{x}: %{z}") + "<extra></extra>",
            showscale=False,
        )
    )
    fig.update_xaxes(title=_("predicted"), type="category", side="bottom")
    fig.update_yaxes(title=_("true"), type="category", autorange="reversed")
    return style.apply(fig, title=_("Confusion matrix (test subset)"), height=height)


def misclassified_gallery(
    images: np.ndarray,
    true: list[int],
    predicted: list[int],
    class_names: list[str] | None = None,
    columns: int = 6,
    width_px: int = 440,
) -> go.Figure:
    """Misclassified test images (N, 28, 28), each titled "true → predicted"."""
    images = np.asarray(images, dtype=float)
    if images.max(initial=0) > 1.0:
        images = images / 255.0
    names = class_names or [str(i) for i in range(10)]
    titles = [f"{names[t]} → {names[p]}" for t, p in zip(true, predicted, strict=True)]
    return tile_grid(
        images,
        titles,
        columns,
        style.IMAGE_SCALE,
        0.0,
        1.0,
        title=_("Misclassified (true → predicted)"),
        showscale=False,
        width_px=width_px,
        hover_name=_("image"),
    )


def filters_grid(
    kernels: np.ndarray,
    title: str | None = None,
    columns: int = 8,
    width_px: int = 880,
    annotate: bool = False,
) -> go.Figure:
    """The first conv layer's filters (k, k, F) as small signed heatmaps, one shared scale.

    With ``annotate`` each cell shows its weight (readable for a few 3x3 filters); ``title``
    defaults to "Learned filters" in the reader's language.
    """
    kernels = np.asarray(kernels, dtype=float)
    count = kernels.shape[2]
    limit = float(np.max(np.abs(kernels))) or 1.0
    return tile_grid(
        np.moveaxis(kernels, 2, 0),
        [_("filter {number}").format(number=f + 1) for f in range(count)],
        columns,
        style.SIGNED_SCALE,
        -limit,
        limit,
        title=_("Learned filters") if title is None else title,
        width_px=width_px,
        hover_name=_("filter"),
        cell_text=annotate,
    )
