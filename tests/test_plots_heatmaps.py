"""heatmap_grid laid out for the width it is given: a laptop's 700 px or a phone's 300-400 px.
Geometry read back from the Plotly figure (panel domains, margins), not from the code's own
arithmetic; whether titles really collide is measured in a browser (test_browser_phone.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.filters import FILTERS
from cnnviz.plots.heatmaps import GRID_BAR_BELOW, grid_columns, heatmap_grid

TITLES = list(FILTERS)[:8]  # Vertical Sobel ... Horizontal Prewitt, Laplacian, Sharpen


def maps(n: int = 8, size: int = 26) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(size, size)) for _ in range(n)]


def panel_widths(fig) -> list[float]:
    """Each panel's width in pixels: its x domain times the plot area's width."""
    layout = fig.layout
    plot = layout.width - layout.margin.l - layout.margin.r
    axes = [k for k in layout.to_plotly_json() if k.startswith("xaxis")]
    return [(layout[k].domain[1] - layout[k].domain[0]) * plot for k in axes]


def drawn_columns(fig) -> int:
    layout = fig.layout
    axes = [k for k in layout.to_plotly_json() if k.startswith("xaxis")]
    return len({round(layout[k].domain[0], 6) for k in axes})


@pytest.mark.parametrize("max_width", [300, 350, 390, 480, 700])
def test_the_grid_fits_its_width_and_panels_are_not_specks(max_width):
    fig = heatmap_grid(maps(), TITLES, columns=grid_columns(4, max_width), max_width=max_width)
    assert fig.layout.width <= max_width
    assert len(panel_widths(fig)) == 8
    assert drawn_columns(fig) >= 2  # even a small phone: two 26 x 26 maps a row
    assert min(panel_widths(fig)) >= 70  # not specks (96 asked, less a cell's rounding)
    # asked for more columns than fit: fewer are drawn, the figure still fits
    crowded = heatmap_grid(maps(), TITLES, columns=8, max_width=max_width)
    assert crowded.layout.width <= max_width


def test_a_laptop_keeps_every_column_and_the_colour_bar_beside_the_maps():
    assert grid_columns(4, 700) == 4 and grid_columns(3, 700) == 3
    fig = heatmap_grid(maps(), TITLES, columns=4, max_px=170, max_width=700)
    bar = fig.layout.coloraxis.colorbar
    assert bar.orientation in (None, "v") and bar.x > 1  # right of the plot area
    assert fig.layout.margin.r > 100


def test_a_phone_gets_the_colour_bar_under_the_maps():
    width = GRID_BAR_BELOW - 50
    fig = heatmap_grid(maps(), TITLES, columns=grid_columns(4, width), max_width=width)
    bar = fig.layout.coloraxis.colorbar
    assert bar.orientation == "h" and bar.yanchor == "bottom"
    assert fig.layout.margin.r < 40  # the panels get the width the bar left
    assert fig.layout.margin.b >= 56  # and the bar its own band below them
    bound = max(float(np.abs(m).max()) for m in maps())  # signed: symmetric around 0
    assert bar.tickvals == pytest.approx((-bound, 0.0, bound))  # its range, written at its ends
    assert bar.ticktext[1] == "0" and bar.ticktext[2] == f"{bound:.4g}"


def test_long_titles_wrap_onto_two_lines_without_losing_a_word():
    fig = heatmap_grid(maps(), TITLES, columns=2, max_width=300)
    texts = [a.text for a in fig.layout.annotations]
    assert [t.replace("<br>", " ") for t in texts] == TITLES
    assert any("<br>" in t for t in texts)  # "Horizontal Prewitt" in a ~140 px panel
    assert all(t.count("<br>") <= 1 for t in texts)
    assert fig.layout.margin.t >= 60  # room above the first row for two lines
    short = heatmap_grid(maps(2), ["a", "b"], columns=2, max_width=700)
    assert [a.text for a in short.layout.annotations] == ["a", "b"]
    assert short.layout.margin.t == 40
