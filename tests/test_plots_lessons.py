"""The weight-count bars of Why convolution: lengths, labels above the bars, nothing beside
them to squeeze the chart on a phone."""

from __future__ import annotations

from cnnviz.plots.lessons import param_bars, power_of_ten


def test_param_bars_are_the_counts_with_their_labels_above_them():
    h = w = 1000
    k, c, f = 3, 1, 1
    counts = [(h * w * c) * (h * w * f), h * w * f * (k * k * c), k * k * c * f]
    names = ["fully connected", "locally connected", "convolutional"]
    fig = param_bars(names, counts)
    bar = fig.data[0]
    assert list(bar.x) == counts and bar.orientation == "h"
    assert fig.layout.yaxis.showticklabels is False  # the bars get the chart's whole width
    notes = fig.layout.annotations
    assert len(notes) == 3
    for row, (note, name, count) in enumerate(zip(notes, names, counts, strict=True)):
        assert name in note.text and f"{count:,}" in note.text
        assert note.xref == "paper" and note.x == 0 and note.xanchor == "left"
        assert note.y < list(bar.y)[row] and note.yanchor == "bottom"  # above (axis reversed)
    top, bottom = fig.layout.yaxis.range[1], fig.layout.yaxis.range[0]
    assert top < notes[0].y < bottom  # the first label is inside the plot, not cut at the top
    assert "(10¹²)" in notes[0].text and "(9×10⁶)" in notes[1].text


def test_power_of_ten_labels():
    assert power_of_ten(10**12) == "1,000,000,000,000 (10¹²)"
    assert power_of_ten(9 * 10**6) == "9,000,000 (9×10⁶)"
    assert power_of_ten(72) == "72"
