"""The Draw & predict figures (cnnviz.plots.predict), built from plain dicts without Plotly's
validation: they must still be valid Plotly, show the right numbers (oracle: SciPy's
correlate2d and a NumPy 2x2 max for the bundled tutorial network), keep hover values and
colour bars, and stay small on the wire."""

import base64
import re
from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from scipy.signal import correlate2d

from cnnviz.plots import predict as plots
from cnnviz.plots import training
from cnnviz.ui import models


def validated(fig: go.Figure) -> go.Figure:
    """The same figure through Plotly's validation: raises on any invalid property."""
    return go.Figure(fig.to_plotly_json())


def array(value) -> np.ndarray:
    """A figure's array as the browser reads it: a list, or Plotly's base64 typed array."""
    if isinstance(value, dict):
        raw = np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]))
        shape = value.get("shape")
        return raw.reshape([int(n) for n in str(shape).split(",")]) if shape else raw
    return np.asarray(value)


def tiles_of(trace: dict) -> dict[int, np.ndarray]:
    """{tile number: (h, w) values} read back from a mosaic through its hover data."""
    z, custom = array(trace["z"]).astype(float), array(trace["customdata"])
    tiles = {}
    for number in sorted(set(custom[..., 0].ravel()) - {0}):
        rows, cols = np.nonzero(custom[..., 0] == number)
        tile = np.full((custom[rows, cols, 1].max() + 1, custom[rows, cols, 2].max() + 1), np.nan)
        tile[custom[rows, cols, 1], custom[rows, cols, 2]] = z[rows, cols]
        tiles[int(number)] = tile
    return tiles


@pytest.fixture(scope="module")
def digit(mnist_test):
    x_test, _ = mnist_test
    return x_test[42].astype(np.float32) / 255.0


def test_one_figure_holds_every_layer_with_the_numbers_of_scipy(bundled, digit):
    probs, maps = models.analyse(bundled, digit)
    fig = plots.feature_maps_figure([(name, fmap) for name, fmap in maps])
    validated(fig)
    data = fig.to_plotly_json()["data"]
    heatmaps = [t for t in data if t["type"] == "heatmap" and "customdata" in t]
    strips = [t for t in data if t["type"] == "heatmap" and "customdata" not in t]
    assert len(heatmaps) == len(strips) == len(maps) == 2

    # the oracle: the tutorial's valid 3x3 correlation of (image - 0.5), no bias, no activation
    kernel = np.asarray(bundled.layers[0].params["kernel"], float)[:, :, 0, :]
    x = digit.astype(float) - 0.5
    conv = np.stack([correlate2d(x, kernel[:, :, f], mode="valid") for f in range(8)], axis=-1)
    pooled = conv[:26, :26].reshape(13, 2, 13, 2, 8).max(axis=(1, 3))
    for trace, strip, expected in zip(heatmaps, strips, (conv, pooled), strict=True):
        tiles = tiles_of(trace)
        assert sorted(tiles) == list(range(1, 9))
        for number, tile in tiles.items():
            np.testing.assert_allclose(tile, expected[:, :, number - 1], atol=1e-4)
        # one colour scale per layer, symmetric around zero, covering every value
        assert trace["zmin"] == -trace["zmax"] >= -np.abs(expected).max() - 1e-4
        # its colour scale beside it: a strip from zmax (top) to zmin in the same colours,
        # on the band's own axes, right of every tile, hovering gives the value
        assert isinstance(trace["colorscale"], list) and strip["colorscale"] == trace["colorscale"]
        values = array(strip["z"]).ravel()
        assert values[[0, -1]] == pytest.approx([trace["zmax"], trace["zmin"]])
        assert np.all(np.diff(values) < 0)
        assert (strip["xaxis"], strip["yaxis"]) == (trace["xaxis"], trace["yaxis"])
        assert strip["x0"] - strip["dx"] / 2 > array(trace["z"]).shape[1] - 0.5
        assert "%{z:.3f}" in strip["hovertemplate"]
        assert "%{z:.3f}" in trace["hovertemplate"]
        assert "%{customdata[1]}" in trace["hovertemplate"]
        assert trace["hoverongaps"] is False
    # each strip's three labels: the band's largest, middle and smallest value
    labels = [t for t in data if t.get("textposition") == "middle right"]
    for trace, label in zip(heatmaps, labels, strict=True):
        top, middle, bottom = (float(t.replace("\u2212", "-")) for t in label["text"])
        assert top == pytest.approx(trace["zmax"], rel=1e-2)
        assert bottom == pytest.approx(trace["zmin"], rel=1e-2, abs=1e-9)
        assert middle == pytest.approx((trace["zmax"] + trace["zmin"]) / 2, abs=1e-2)
        assert label["yaxis"] == trace["yaxis"] and label["cliponaxis"] is False
    # no Plotly colour bar: it would push the margin and make Plotly.js draw the figure twice
    assert not any(t.get("showscale", True) for t in data if t["type"] == "heatmap")
    text = pio.to_json(fig, validate=False)
    assert "conv2d: 26 x 26 x 8" not in text  # titles are given by the caller
    assert len(text) < 200_000


def test_titles_and_tile_numbers_are_in_the_figure(bundled, digit):
    _, maps = models.analyse(bundled, digit)
    fig = plots.feature_maps_figure([(f"{name}!", fmap) for name, fmap in maps])
    spec = fig.to_plotly_json()
    assert [a["text"] for a in spec["layout"]["annotations"]] == ["conv2d!", "max_pooling2d!"]
    labels = [t for t in spec["data"] if t.get("textposition") == "top center"]
    assert [list(t["text"]) for t in labels] == [[f"#{i}" for i in range(1, 9)]] * 2
    assert all(t["hoverinfo"] == "skip" for t in labels)


def test_more_maps_than_shown_and_a_positive_layer(digit):
    rng = np.random.default_rng(0)
    relu = np.abs(rng.normal(size=(11, 11, 40)))
    fig = plots.feature_maps_figure([("relu", relu)], columns=8, max_maps=16)
    validated(fig)
    heatmap, strip = [t for t in fig.to_plotly_json()["data"] if t["type"] == "heatmap"]
    tiles = tiles_of(heatmap)
    assert sorted(tiles) == list(range(1, 17))
    np.testing.assert_allclose(tiles[16], relu[:, :, 15], atol=1e-6)
    assert heatmap["zmin"] == 0.0 and heatmap["zmax"] == pytest.approx(relu[:, :, :16].max())
    assert array(strip["z"]).ravel()[[0, -1]] == pytest.approx([heatmap["zmax"], 0.0])


def test_the_input_and_the_probabilities(digit):
    validated(image := plots.image_figure(digit))
    (trace,) = image.to_dict()["data"]
    np.testing.assert_array_equal(array(trace["z"]), digit)
    assert "%{z:.2f}" in trace["hovertemplate"]
    probs = np.full(10, 0.01)
    probs[7] = 0.91
    validated(bars := plots.probability_bars(probs))
    (trace,) = bars.to_dict()["data"]
    np.testing.assert_allclose(array(trace["y"]), probs)
    assert trace["marker"]["color"][7] != trace["marker"]["color"][0]
    assert "%{y:.2%}" in trace["hovertemplate"]


class _Bars(HTMLParser):
    """The columns of probability_bars_html as a browser would read them: tooltip, bar height
    (percent of the plot area), bar colour, the label above."""

    def __init__(self):
        super().__init__()
        self.columns, self.texts, self.label = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        css = attrs.get("style", "")
        if "title" in attrs:
            self.columns.append({"tip": attrs["title"]})
        if self.columns and "background:" in css and "width:70%" in css:
            height = float(re.search(r"height:([0-9.]+)%", css).group(1))
            self.columns[-1] |= {
                "height": height,
                "color": re.search(r"background:([^;]+)", css)[1],
            }
        if "aria-label" in attrs:
            self.label = attrs["aria-label"]

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data.strip())


def test_the_probabilities_as_html_bars():
    probs = np.array([0.002, 0.01, 0.03, 0.004, 0.05, 0.0, 0.9, 0.001, 0.003, 0.0])
    names = [f"c{i}" for i in range(10)]
    page = _Bars()
    page.feed(plots.probability_bars_html(probs, names))
    assert [c["tip"] for c in page.columns] == [f"c{i}: {p:.2%}" for i, p in enumerate(probs)]
    heights = np.array([c["height"] for c in page.columns])
    # bar heights proportional to the probabilities (the axis ends at 112% for the labels)
    np.testing.assert_allclose(heights, probs * 100 / 1.12, atol=0.01)
    colours = [c["color"] for c in page.columns]
    assert colours.count(colours[6]) == 1 and len(set(colours)) == 2  # the predicted one
    # labels above the bars: whole percentages, none under 0.5%
    assert "90%" in page.texts and "5%" in page.texts and "0%" in page.texts  # 0% is an axis tick
    assert page.texts.count("0%") == 1
    assert "c6 90%" in page.label
    # what a user's class name may hold is escaped, never markup
    page = _Bars()
    page.feed(plots.probability_bars_html(np.full(10, 0.1), ["<b>x</b>"] * 10))
    assert page.texts.count("<b>x</b>") == 10


def test_the_other_tile_grids_stay_valid():
    rng = np.random.default_rng(1)
    validated(training.filters_grid(rng.normal(size=(3, 3, 8)), annotate=True))
    validated(plots.feature_map_grid(rng.normal(size=(26, 26, 8)), title="t"))
    gallery = training.misclassified_gallery(rng.random((3, 28, 28)), [1, 2, 3], [4, 5, 6])
    validated(gallery)
