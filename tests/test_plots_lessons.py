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


def test_wrap_breaks_at_spaces_and_keeps_every_word():
    from cnnviz.plots.style import lines, wrap

    text = "2. exp(z − max z) (subtracting the max keeps exp from overflowing)"
    assert wrap(text, 700) == text  # fits a laptop's figure
    narrow = wrap(text, 300)
    assert narrow.replace("<br>", " ") == text and lines(narrow) >= 2
    assert all(len(line) * 0.5 * 16 <= 300 for line in narrow.split("<br>"))
    assert wrap("Supercalifragilistic", 50) == "Supercalifragilistic"  # one word: left whole


def test_softmax_and_flatten_titles_take_more_lines_on_a_phone():
    import numpy as np

    from cnnviz import ops
    from cnnviz.plots.lessons import softmax_pipeline, vector_strip

    trace = ops.softmax_trace(np.linspace(-3, 5, 10), label=2)
    wide, phone = softmax_pipeline(trace, width=700), softmax_pipeline(trace, width=350)
    assert not any("<br>" in a.text for a in wide.layout.annotations)
    assert any("<br>" in a.text for a in phone.layout.annotations)
    assert phone.layout.height > wide.layout.height  # room for the extra lines
    strip = vector_strip(
        np.arange(1352.0), title="Sau Flatten: 1352 con số trên một hàng", width=350
    )
    assert "<br>" in strip.layout.title.text and strip.layout.margin.t > 40
