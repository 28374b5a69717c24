"""Figures for the Train live page: loss/accuracy curves, confusion matrix, mistakes, filters.

Every builder takes plain lists / NumPy arrays (what :class:`cnnviz.training.Snapshot` holds)
and returns a Plotly figure; no Streamlit here.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnviz.plots import style
from cnnviz.plots.predict import tile_grid


def _curves(
    batch_curve: list[tuple[float, float, float]],
    history: dict[str, list[float]],
    column: int,
    train_key: str,
    val_key: str,
    title: str,
    y_title: str,
    height: int,
    max_points: int = 600,
) -> go.Figure:
    fig = go.Figure()
    if batch_curve:
        arr = np.asarray(batch_curve, dtype=float)
        x, y = arr[:, 0], arr[:, column]
        keep = np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(x) > max_points:  # thin out long runs (batch size 1: 60000 points an epoch)
            pick = np.linspace(0, len(x) - 1, max_points).astype(int)
            x, y = x[pick], y[pick]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=f"{train_key} (running, per batch)",
                line=dict(color=style.ACCENT, width=1.5),
                opacity=0.45,
            )
        )
    for key, color in ((train_key, style.ACCENT), (val_key, style.SECOND)):
        values = history.get(key) or []
        if values:
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    mode="lines+markers",
                    name=key,
                    line=dict(color=color, width=3),
                    marker=dict(size=9),
                )
            )
    fig.update_xaxes(title="epoch", rangemode="tozero")
    fig.update_yaxes(title=y_title, rangemode="tozero" if train_key == "loss" else "normal")
    style.apply(fig, title=title, height=height)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0), margin=dict(b=10))
    return fig


def loss_curves(batch_curve, history, height: int = 380) -> go.Figure:
    """loss and val_loss per epoch (the tutorial's figure) over the running per-batch loss.

    batch_curve: [(epochs done as a float, running loss, running accuracy)];
    history: {"loss": [...], "val_loss": [...], ...}, one value per finished epoch.
    """
    return _curves(batch_curve, history, 1, "loss", "val_loss", "Loss", "cross-entropy", height)


def accuracy_curves(batch_curve, history, height: int = 380) -> go.Figure:
    """accuracy and val_accuracy per epoch over the running per-batch accuracy."""
    fig = _curves(
        batch_curve, history, 2, "accuracy", "val_accuracy", "Accuracy", "accuracy", height
    )
    fig.update_yaxes(tickformat=".0%")
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
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_xaxes(title="predicted", type="category", side="bottom")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    return style.apply(fig, title="Confusion matrix (test subset)", height=height)


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
        title="Misclassified (true → predicted)",
        showscale=False,
        width_px=width_px,
        hover_name="image",
    )


def filters_grid(
    kernels: np.ndarray,
    title: str = "Learned filters",
    columns: int = 8,
    width_px: int = 880,
    annotate: bool = False,
) -> go.Figure:
    """The first conv layer's filters (k, k, F) as small signed heatmaps, one shared scale.

    With ``annotate`` each cell shows its weight (readable for a few 3x3 filters).
    """
    kernels = np.asarray(kernels, dtype=float)
    count = kernels.shape[2]
    limit = float(np.max(np.abs(kernels))) or 1.0
    return tile_grid(
        np.moveaxis(kernels, 2, 0),
        [f"filter {f + 1}" for f in range(count)],
        columns,
        style.SIGNED_SCALE,
        -limit,
        limit,
        title=title,
        width_px=width_px,
        hover_name="filter",
        cell_text=annotate,
    )
