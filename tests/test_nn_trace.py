"""Sequential.trace: records against hand-written NumPy/SciPy maths and finite differences, and
proof that tracing leaves the (shared) model exactly as it was, even from several threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.signal import correlate2d

from cnnviz import nn
from cnnviz.errors import InputError
from cnnviz.nn import AveragePooling2D, Conv2D, Dense, Flatten, MaxPooling2D, ReLU, Sequential


def small_model(seed=0, float64=False):
    model = Sequential(
        [
            Conv2D(3, 3, input_shape=(8, 7, 2), activation="relu"),
            MaxPooling2D(2),
            Conv2D(4, 2, padding="same"),
            AveragePooling2D(1),
            ReLU(),
            Flatten(),
            Dense(5, activation="softmax"),
        ],
        seed=seed,
    )
    rng = np.random.default_rng(seed + 100)
    for layer in model.layers:
        for key, value in layer.params.items():  # non-zero biases, so they are tested too
            layer.params[key] = (value + 0.1 * rng.normal(size=value.shape)).astype(
                np.float64 if float64 else np.float32
            )
    return model


def conv_by_hand(x, kernel, bias, pads=(0, 0, 0, 0)):
    """x (H, W, C) -> (H', W', F) with scipy's correlate2d, channel by channel (stride 1)."""
    t, b, left, r = pads
    x = np.pad(x, ((t, b), (left, r), (0, 0)))
    out = [
        sum(correlate2d(x[:, :, c], kernel[:, :, c, f], "valid") for c in range(x.shape[2]))
        + bias[f]
        for f in range(kernel.shape[3])
    ]
    return np.stack(out, axis=-1)


def pool_by_hand(x, p, reduce):
    h, w, c = x.shape
    out = np.zeros((h // p, w // p, c))
    for i in range(h // p):
        for j in range(w // p):
            out[i, j] = reduce(x[i * p : i * p + p, j * p : j * p + p].reshape(-1, c), axis=0)
    return out


def test_records_match_the_layers_maths_by_hand():
    model = small_model(seed=1)
    x = np.random.default_rng(0).normal(size=(3, 8, 7, 2)).astype(np.float32)
    trace = model.trace(x)
    assert [r.kind for r in trace] == [layer.kind for layer in model.layers]
    assert [r.name for r in trace] == [layer.name for layer in model.layers]
    p = [layer.params for layer in model.layers]
    for n in range(3):
        a = np.maximum(conv_by_hand(x[n], p[0]["kernel"], p[0]["bias"]), 0)  # (6, 5, 3)
        b = pool_by_hand(a, 2, np.max)  # (3, 2, 3)
        c = conv_by_hand(b, p[2]["kernel"], p[2]["bias"], pads=(0, 1, 0, 1))  # Keras "same"
        z = np.maximum(c, 0).reshape(-1) @ p[6]["kernel"] + p[6]["bias"]
        probs = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_array_equal(trace[0].input[n], x[n])
        for record, expected in zip(trace, (a, b, c, c, np.maximum(c, 0)), strict=False):
            np.testing.assert_allclose(record.output[n], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(trace[1].input[n], a, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(trace[6].logits[n], z, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(trace[6].output[n], probs, rtol=1e-5, atol=1e-6)
    assert trace.loss is None and trace[0].grad_output is None and trace[0].grads == {}
    assert all(r.logits is None for r in trace.layers[:-1])


def test_gradients_match_finite_differences():
    model = small_model(seed=2, float64=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 8, 7, 2)).astype(np.float32)
    y = np.array([1, 4])
    trace = model.trace(x, y)
    eps = 1e-6
    for i, layer in enumerate(model.layers):
        for key, value in layer.params.items():
            for flat in rng.choice(value.size, size=min(4, value.size), replace=False):
                index = np.unravel_index(flat, value.shape)
                old = value[index]
                value[index] = old + eps
                plus = model.trace(x, y).loss
                value[index] = old - eps
                minus = model.trace(x, y).loss
                value[index] = old
                numeric = (plus - minus) / (2 * eps)
                analytic = trace[i].grads[key][index]
                assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-7), (i, key, index)
    # the chain: what a layer sends back is what the layer before it received
    for before, after in zip(trace.layers, trace.layers[1:], strict=False):
        np.testing.assert_array_equal(before.grad_output, after.grad_input)
    # the softmax Dense: dL/dz = (p - onehot) / N
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(trace[-1].grad_logits, (trace.output - onehot) / 2, atol=1e-12)
    assert trace[0].grad_input.shape == x.shape


def test_trace_agrees_with_a_training_step_on_a_copy():
    model = small_model(seed=3)
    x = np.random.default_rng(2).normal(size=(4, 8, 7, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    trace = model.trace(x, y)
    work = model.copy()
    loss = work.compute_gradients(x, y)
    assert trace.loss == pytest.approx(loss, rel=1e-6)
    for record, layer in zip(trace, work.layers, strict=True):
        np.testing.assert_allclose(record.output, layer.output, rtol=1e-6)
        for key in layer.grads:
            np.testing.assert_allclose(record.grads[key], layer.grads[key], rtol=1e-5, atol=1e-7)


def _state(model):
    """Everything on the model's layers: attribute names, and each value's identity and bytes."""
    return [
        {
            k: (id(v), v.tobytes() if isinstance(v, np.ndarray) else repr(v))
            for k, v in vars(layer).items()
        }
        for layer in model.layers
    ]


@pytest.mark.parametrize("labels", [None, np.array([3, 1])])
def test_trace_leaves_the_model_untouched(labels):
    model = small_model(seed=4)
    model.predict(np.zeros((1, 8, 7, 2)))  # the layers hold caches from an earlier pass
    before = _state(model)
    weights = model.get_weights()
    x = np.random.default_rng(3).normal(size=(2, 8, 7, 2))
    model.trace(x, labels)
    assert _state(model) == before
    for old, new in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert all(p.flags.writeable for layer in model.layers for p in layer.params.values())


def test_threads_tracing_one_shared_model_get_the_sequential_results():
    model = nn.tutorial_model(seed=5)
    rng = np.random.default_rng(4)
    inputs = [rng.normal(size=(1, 28, 28, 1)).astype(np.float32) for _ in range(8)]
    expected = [model.trace(x, np.array([i])) for i, x in enumerate(inputs)]
    results: dict[tuple[int, int], object] = {}
    start = threading.Barrier(4)

    def work(worker):
        start.wait()
        for rep in range(15):
            i = (worker + rep) % len(inputs)
            results[worker, rep] = (i, model.trace(inputs[i], np.array([i])))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 60
    for i, got in results.values():
        assert got.loss == expected[i].loss
        for a, b in zip(got, expected[i], strict=True):
            np.testing.assert_array_equal(a.output, b.output)
            np.testing.assert_array_equal(a.grad_input, b.grad_input)
            for key in b.grads:
                np.testing.assert_array_equal(a.grads[key], b.grads[key])


def test_trace_checks_its_inputs():
    model = small_model()
    with pytest.raises(InputError, match="shaped"):
        model.trace(np.zeros((1, 9, 9, 2)))
    with pytest.raises(InputError, match="labels"):
        model.trace(np.zeros((2, 8, 7, 2)), [1])


def test_a_model_without_softmax_traces_its_outputs_as_logits():
    model = Sequential([Flatten(input_shape=(2, 2, 1)), Dense(3)], seed=0)
    x = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1)
    trace = model.trace(x, [0, 2])
    z = trace.output.astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert trace.loss == pytest.approx(-np.mean(np.log(p[[0, 1], [0, 2]])), rel=1e-6)
    assert trace[-1].logits is None and trace[-1].grad_output is not None
