"""The bundled models: present, loadable, as accurate as promised, and as accurate on drawings
(MNIST test digits scaled, moved, inverted and encoded as files, then preprocessed) as on MNIST."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.data import mnist
from cnnviz.nn import ScaledImages, bundled_models, load_model
from cnnviz.preprocess import to_mnist, to_model_input
from tests.drawings import make_canvas, make_drawing

PROMISED = {"Tutorial network": 0.975, "Stronger network": 0.990}


@pytest.fixture(scope="module")
def models():
    present = bundled_models()
    assert set(present) == set(PROMISED), f"bundled models missing: {set(PROMISED) - set(present)}"
    return {name: load_model(path) for name, path in present.items()}


@pytest.fixture(scope="module")
def test_set():
    return mnist.load_data_shared()[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROMISED))
def test_accuracy_on_the_mnist_test_set(models, test_set, name):
    x, y = test_set
    probs = models[name].predict(ScaledImages(x))
    accuracy = float(np.mean(probs.argmax(axis=1) == y))  # counted here, not by evaluate()
    assert accuracy >= PROMISED[name]
    assert models[name].metadata["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_tutorial_model_has_the_tutorials_shape(models):
    model = models["Tutorial network"]
    assert [layer.kind for layer in model.layers] == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert model.layers[0].params["kernel"].shape == (3, 3, 1, 8)
    assert not model.layers[0].use_bias
    assert model.count_params() == 13602
    strong = models["Stronger network"]
    convs = [layer for layer in strong.layers if layer.kind == "Conv2D"]
    assert len(convs) == 2 and all(layer.activation == "relu" for layer in convs)


def synthetic_drawings(digits, rng):
    """Each digit as a user might give it: scaled 2-8x, anywhere on the canvas, dark on light or
    light on dark, in one of five file formats, or as the canvas's RGBA strokes."""
    for k, d in enumerate(digits):
        kind = k % 6
        if kind == 5:
            scale = rng.uniform(4, 9)
            side = round(28 * scale)
            off = tuple(int(v) for v in rng.integers(0, 280 - side + 1, size=2))
            yield make_canvas(d, scale=scale, offset=off)
            continue
        scale = rng.uniform(2, 6)
        side = round(28 * scale)
        off = tuple(int(v) for v in rng.integers(0, 200 - side + 1, size=2))
        fmt = ["PNG", "JPEG", "WEBP", "GIF", "BMP"][kind]
        yield make_drawing(d, scale=scale, offset=off, invert=bool(k % 2), canvas=200, fmt=fmt)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROMISED))
def test_drawings_are_recognised_nearly_as_well_as_mnist(models, test_set, name):
    x, y = test_set
    rng = np.random.default_rng(0)
    idx = rng.choice(len(x), size=300, replace=False)
    model = models[name]
    on_mnist = np.mean(model.predict(ScaledImages(x[idx])).argmax(axis=1) == y[idx])
    drawn = np.concatenate([to_model_input(to_mnist(d)) for d in synthetic_drawings(x[idx], rng)])
    on_drawings = np.mean(model.predict(drawn).argmax(axis=1) == y[idx])
    assert on_drawings >= on_mnist - 0.03, (on_drawings, on_mnist)
