"""The Class page's figures and sums (cnnviz.plots.classroom) and the host's gallery cache
(cnnviz.ui.classroom.Gallery), without Streamlit.

Oracles: counts made with a Python loop, the order written out by hand from the issue's rule
("most confidently wrong first"), the gallery's picture decoded back from its PNG and compared
pixel for pixel with the drawings and the frame colours, and the bundled network run directly.
"""

from __future__ import annotations

import base64
import io
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from cnnviz import nn
from cnnviz.plots import classroom as plots
from cnnviz.ui import classroom


def test_confusion_counts_match_a_loop():
    rng = np.random.default_rng(0)
    meant, read = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    expected = np.zeros((10, 10), int)
    for m, r in zip(meant, read, strict=True):
        expected[m, r] += 1
    assert np.array_equal(plots.confusion_counts(meant, read), expected)
    assert plots.accuracy(meant, read) == pytest.approx(np.trace(expected) / 300)
    assert plots.accuracy([], []) is None


def test_the_most_confidently_wrong_come_first():
    meant = np.array([7, 7, 1, 2, 3, 4])
    read = np.array([1, 7, 7, 2, 5, 4])
    sure = np.array([0.6, 0.99, 0.95, 0.51, 0.8, 0.7])
    # Wrong: #2 (0.95), #4 (0.8), #0 (0.6); then right, least sure first: #3, #5, #1.
    assert plots.gallery_order(meant, read, sure).tolist() == [2, 4, 0, 3, 5, 1]
    assert plots.gallery_order(meant, read, sure, newest_first=True).tolist() == [5, 4, 3, 2, 1, 0]


def decode(fig: go.Figure) -> np.ndarray:
    """The gallery's picture as the browser shows it: RGB (H, W, 3)."""
    data = base64.b64decode(fig.data[0].source.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_the_gallery_is_one_picture_with_framed_tiles_and_labels():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (23, 28, 28), dtype=np.uint8)
    meant = rng.integers(0, 10, 23)
    read = meant.copy()
    read[[0, 5, 22]] = (read[[0, 5, 22]] + 1) % 10
    fig = plots.gallery_figure(images, meant, read, rng.random(23), columns=6)
    go.Figure(fig.to_plotly_json())  # valid Plotly (it was built without validation)
    assert [t.type for t in fig.data] == ["image", "scatter"]
    assert list(fig.data[1].text) == [f"{m}→{r}" for m, r in zip(meant, read, strict=True)]
    picture = decode(fig)
    step_x, step_y = plots.TILE + plots.GAP, plots.TILE + plots.BAND
    for i in range(23):
        r, c = divmod(i, 6)
        top, left = r * step_y + plots.BAND, c * step_x
        tile = picture[top : top + plots.TILE, left : left + plots.TILE]
        inner = tile[plots.FRAME : plots.FRAME + 28, plots.FRAME : plots.FRAME + 28].astype(int)
        # The palette has 252 greys for 256 ink values: each pixel within half a step of 255/251.
        assert np.all(np.abs(inner[..., 0] - images[i]) <= 1)
        assert np.array_equal(inner[..., 0], inner[..., 2])  # grey, not a frame colour
        colour = "#" + "".join(f"{int(v):02x}" for v in tile[0, 0])
        assert colour == (plots.WRONG if i in (0, 5, 22) else plots.RIGHT)


def test_the_gallery_cache_reads_new_rows_and_predicts_them_once(mnist_test):
    x_test, y_test = mnist_test
    model = nn.load_model(nn.bundled_models()["Tutorial network"])
    calls = []

    class Counting:
        def trace(self, x):
            calls.append(len(x))
            return model.trace(x)

    rows = [SimpleNamespace(id=i + 1, image=x_test[i], label=int(y_test[i])) for i in range(30)]
    found = classroom.Gallery("ROOM42")
    found.update(rows[:20], "tutorial", Counting())
    found.update(rows[20:], "tutorial", Counting())
    found.update([], "tutorial", Counting())
    assert calls == [20, 10] and found.last_id == 30
    direct = model.predict(x_test[:30, :, :, None] / 255.0 - 0.5)
    assert np.allclose(found.probs, direct, atol=1e-5)
    found.update([], "class:1", Counting())  # another model: every drawing again, one batch
    assert calls == [20, 10, 30]
    images, meant, read, sure, total = found.shown(7, newest_first=False, most=2)
    assert total == int(np.sum(y_test[:30] == 7)) and len(images) == 2
    assert set(meant) == {7}


def test_the_gallery_of_200_drawings_stays_small_on_the_wire():
    from cnnviz.classroom.handwriting import hall_digits

    images, labels = hall_digits(200, seed=3)
    fig = plots.gallery_figure(images, labels, labels, np.ones(200))
    # Sent once a second to the projector: a palette PNG (an RGB one made this 232 KB).
    assert len(fig.to_json()) < 130_000
