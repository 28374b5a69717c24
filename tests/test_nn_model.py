"""Sequential end to end: training steps against PyTorch and a slow reference, fit/evaluate,
save/load, callbacks, divergence, reproducibility."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from cnnviz.data import mnist
from cnnviz.errors import InputError
from cnnviz.nn import (
    SGD,
    Adam,
    Callback,
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
    ScaledImages,
    load_model,
    strong_model,
    to_categorical,
    tutorial_model,
)


@pytest.fixture(scope="module")
def data():
    (x, y), (xt, yt) = mnist.load_data_shared()
    return x, y, xt, yt


def scaled(x):
    return (x / 255 - 0.5).astype(np.float32)[..., None]


def tutorial_reference_step(x, label, filters, weights, biases, lr):
    """One SGD step of the tutorial's Part I classes (Conv3x3, MaxPool2, Softmax), written from
    their loops, in float64. Returns the loss before the step and the updated parameters.
    filters: (F, 3, 3); weights (1352, 10); biases (10,). No ties are assumed in pooling."""
    h, w = x.shape
    nf = filters.shape[0]
    conv = np.zeros((h - 2, w - 2, nf))
    for i in range(h - 2):
        for j in range(w - 2):
            conv[i, j] = np.sum(x[i : i + 3, j : j + 3] * filters, axis=(1, 2))
    pooled = np.zeros(((h - 2) // 2, (w - 2) // 2, nf))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.amax(conv[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2], axis=(0, 1))
    flat = pooled.flatten()
    totals = flat @ weights + biases
    t_exp = np.exp(totals)
    s = t_exp.sum()
    out = t_exp / s
    loss = -np.log(out[label])
    # Softmax.backprop with d_L_d_out[label] = -1 / out[label]
    gradient = -1 / out[label]
    d_out_d_t = -t_exp[label] * t_exp / s**2
    d_out_d_t[label] = t_exp[label] * (s - t_exp[label]) / s**2
    d_L_d_t = gradient * d_out_d_t
    d_L_d_w = flat[np.newaxis].T @ d_L_d_t[np.newaxis]
    d_L_d_inputs = (weights @ d_L_d_t).reshape(pooled.shape)
    new_w = weights - lr * d_L_d_w
    new_b = biases - lr * d_L_d_t
    # MaxPool2.backprop
    d_conv = np.zeros(conv.shape)
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            region = conv[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2]
            amax = np.amax(region, axis=(0, 1))
            for i2 in range(2):
                for j2 in range(2):
                    for f2 in range(nf):
                        if region[i2, j2, f2] == amax[f2]:
                            d_conv[i * 2 + i2, j * 2 + j2, f2] = d_L_d_inputs[i, j, f2]
    # Conv3x3.backprop
    d_filters = np.zeros(filters.shape)
    for i in range(h - 2):
        for j in range(w - 2):
            for f in range(nf):
                d_filters[f] += d_conv[i, j, f] * x[i : i + 3, j : j + 3]
    return loss, filters - lr * d_filters, new_w, new_b


def test_one_sgd_step_matches_the_tutorials_classes(data):
    x, y, _, _ = data
    img = x[0] / 255 - 0.5 + np.random.default_rng(0).normal(0, 1e-3, (28, 28))  # break ties
    model = tutorial_model(seed=1)
    model.compile(SGD(learning_rate=0.01))
    filters = model.layers[0].params["kernel"][:, :, 0, :].transpose(2, 0, 1).astype(np.float64)
    weights = model.layers[3].params["kernel"].astype(np.float64)
    biases = np.zeros(10)
    loss_ref, f_ref, w_ref, b_ref = tutorial_reference_step(
        img, int(y[0]), filters, weights, biases, 0.01
    )
    loss, _ = model.train_on_batch(img[None, :, :, None], y[:1])
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    np.testing.assert_allclose(
        model.layers[0].params["kernel"][:, :, 0, :].transpose(2, 0, 1), f_ref, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(model.layers[3].params["kernel"], w_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.layers[3].params["bias"], b_ref, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "make, opt",
    [
        (tutorial_model, "sgd"),
        (lambda seed: strong_model(filters=4, seed=seed), "sgd"),
        (lambda seed: strong_model(filters=4, seed=seed), "adam"),
        # 32 and 64 filters, as shipped. Over 100 Adam steps
        # float32 rounding itself grows past 1e-4 here: PyTorch float32 and float64 differ by
        # 4.3e-3 at most (from step 51), cnnviz and PyTorch float64 by 3.6e-3 (step 37 on), so
        # this case holds 1e-4 for 30 steps and 1e-2 after (docs/performance.md, issue 14).
        (strong_model, "adam"),
        (tutorial_model, "momentum"),
    ],
)
def test_100_steps_agree_with_pytorch(data, make, opt, torch):
    """Same initial weights, same batches: the loss after each of 100 steps agrees with PyTorch."""
    x, y, _, _ = data
    model = make(seed=3)
    optimizers = {"sgd": SGD(0.05), "momentum": SGD(0.01, momentum=0.9), "adam": Adam(0.001)}
    model.compile(optimizers[opt])
    tlayers = []
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            c = torch.nn.Conv2d(layer.input_shape[2], layer.filters, 3, bias=layer.use_bias)
            c.weight.data = torch.tensor(layer.params["kernel"].transpose(3, 2, 0, 1).copy())
            if layer.use_bias:
                c.bias.data = torch.tensor(layer.params["bias"].copy())
            tlayers.append(c)
            if layer.activation == "relu":
                tlayers.append(torch.nn.ReLU())
        elif isinstance(layer, MaxPooling2D):
            tlayers.append(torch.nn.MaxPool2d(2))
        elif isinstance(layer, Flatten):
            tlayers += [_NHWCFlatten()]
        elif isinstance(layer, Dense):
            d = torch.nn.Linear(*layer.params["kernel"].shape)
            d.weight.data = torch.tensor(layer.params["kernel"].T.copy())
            d.bias.data = torch.tensor(layer.params["bias"].copy())
            tlayers.append(d)
    net = torch.nn.Sequential(*tlayers)
    # PyTorch's momentum (v = m v + g; w -= lr v) is Keras's (v = m v - lr g; w += v) with v
    # scaled by -lr: the same steps at a constant learning rate.
    topt = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
        "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=0.001, eps=1e-7),
    }[opt](net.parameters())
    rng = np.random.default_rng(0)
    for step in range(100):
        idx = rng.choice(2000, size=16, replace=False)
        xb = scaled(x[idx])
        yb = y[idx].astype(np.int64)
        loss, _ = model.train_on_batch(xb, yb)
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(
            net(torch.tensor(xb.transpose(0, 3, 1, 2))), torch.tensor(yb)
        )
        tl.backward()
        # Adam: Keras (and cnnviz) add epsilon to sqrt(v), PyTorch to sqrt(v_hat) =
        # sqrt(v) / sqrt(1 - b2^t); PyTorch's epsilon scaled by 1 / sqrt(1 - b2^t) is Keras's.
        for group in topt.param_groups:
            group["eps"] = 1e-7 / np.sqrt(1 - 0.999 ** (step + 1))
        topt.step()
        rel = 1e-2 if step >= 30 and model.layers[0].filters == 32 else 1e-4
        assert loss == pytest.approx(tl.item(), rel=rel), f"step {step}"


class _NHWCFlatten:
    """Flatten an NCHW torch tensor in NHWC order, as Keras and cnnviz do."""

    def __new__(cls):
        import torch

        class M(torch.nn.Module):
            def forward(self, t):
                return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)

        return M()


def test_tutorial_part_two_script_runs_with_swapped_imports(data):
    """The tutorial's Part II code, unchanged but for its imports, on a 2,000-image subset."""
    from cnnviz.data import mnist as keras_mnist  # was: from keras.datasets import mnist
    from cnnviz.nn import SGD as KSGD  # was: from keras.optimizers import SGD
    from cnnviz.nn import Conv2D as KConv2D  # was: from keras.layers import ...
    from cnnviz.nn import Dense as KDense
    from cnnviz.nn import Flatten as KFlatten
    from cnnviz.nn import MaxPooling2D as KMaxPooling2D
    from cnnviz.nn import Sequential as KSequential  # was: from keras.models import Sequential
    from cnnviz.nn import to_categorical as k_to_categorical  # was: from keras.utils import ...

    (train_X, train_y), (test_X, test_y) = keras_mnist.load_data()
    assert train_X.shape == (60000, 28, 28) and train_y.shape == (60000,)
    assert test_X.shape == (10000, 28, 28) and test_y.shape == (10000,)
    assert train_X.dtype == np.uint8
    train_X, train_y, test_X, test_y = train_X[:2000], train_y[:2000], test_X[:500], test_y[:500]

    learning_rate = 0.001
    num_epochs = 2
    batch_size = 1
    train_images = train_X
    train_labels = train_y
    test_images = test_X
    test_labels = test_y
    train_images = (train_images / 255) - 0.5
    test_images = (test_images / 255) - 0.5
    train_images = np.expand_dims(train_images, axis=3)
    test_images = np.expand_dims(test_images, axis=3)
    model = KSequential(
        [
            KConv2D(8, 3, input_shape=(28, 28, 1), use_bias=False),
            KMaxPooling2D(pool_size=2),
            KFlatten(),
            KDense(10, activation="softmax"),
        ]
    )
    model.compile(
        KSGD(learning_rate=learning_rate), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(
        train_images,
        k_to_categorical(train_labels),
        batch_size=batch_size,
        epochs=num_epochs,
        validation_data=(test_images, k_to_categorical(test_labels)),
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.7  # 4,000 SGD steps at lr 0.001; chance is 0.1


@pytest.mark.slow
def test_short_run_reaches_90_percent(data):
    x, y, xt, yt = data
    model = tutorial_model(seed=0)
    model.compile(SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ScaledImages(x[:10000]), y[:10000], batch_size=32, epochs=2, verbose=0, seed=0)
    loss, acc = model.evaluate(ScaledImages(xt), yt)
    assert acc >= 0.90
    # evaluate's accuracy agrees with predict's argmax
    pred = model.predict(ScaledImages(xt[:1000])).argmax(axis=1)
    assert (
        abs((pred == yt[:1000]).mean() - model.evaluate(ScaledImages(xt[:1000]), yt[:1000])[1])
        < 1e-9
    )


def test_fit_is_reproducible_with_a_seed(data):
    x, y, _, _ = data
    runs = []
    for _ in range(2):
        model = tutorial_model(seed=7)
        model.compile(SGD(0.01))
        h = model.fit(ScaledImages(x[:300]), y[:300], batch_size=8, epochs=1, verbose=0, seed=7)
        runs.append((h.history["loss"][0], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_evaluate_matches_a_direct_computation(data):
    _, _, xt, yt = data
    model = tutorial_model(seed=2)
    xb = scaled(xt[:300])
    probs = model.predict(xb).astype(np.float64)
    expected_loss = -np.mean(np.log(probs[np.arange(300), yt[:300]]))
    loss, acc = model.evaluate(xb, to_categorical(yt[:300], 10))
    assert loss == pytest.approx(expected_loss, rel=1e-4)
    assert acc == pytest.approx(np.mean(probs.argmax(1) == yt[:300]))
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_callbacks_see_running_logs_and_can_stop(data):
    x, y, _, _ = data
    seen = []

    class Stopper(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(dict(logs))
            if batch == 4:
                self.model.stop_training = True

    model = tutorial_model(seed=0)
    model.compile(SGD(0.01))
    h = model.fit(
        ScaledImages(x[:640]), y[:640], batch_size=32, epochs=3, verbose=0, callbacks=[Stopper()]
    )
    assert len(seen) == 5
    assert [s["samples"] for s in seen] == [32, 64, 96, 128, 160]
    assert all(0 <= s["accuracy"] <= 1 and np.isfinite(s["loss"]) for s in seen)
    assert len(h.history["loss"]) == 1 and h.stopped_early


def test_diverging_run_stops_and_keeps_finite_weights(data):
    x, y, _, _ = data
    model = tutorial_model(seed=0)
    model.compile(SGD(1e6))
    h = model.fit(ScaledImages(x[:2000]), y[:2000], batch_size=4, epochs=3, verbose=0)
    assert h.diverged
    assert "learning rate" in h.message
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert np.all(np.isfinite(model.predict(ScaledImages(x[:10]))))


def test_save_load_round_trip(tmp_path, data):
    _, _, xt, _ = data
    model = strong_model(filters=4, seed=5)
    model.metadata = {"test_accuracy": 0.5}
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = load_model(path)
    assert [layer.get_config() for layer in loaded.layers] == [
        layer.get_config() for layer in model.layers
    ]
    xb = scaled(xt[:20])
    np.testing.assert_array_equal(loaded.predict(xb), model.predict(xb))
    assert loaded.metadata == {"test_accuracy": 0.5}
    assert load_model(path.read_bytes()).count_params() == model.count_params()
    assert load_model(io.BytesIO(path.read_bytes())).count_params() == model.count_params()
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_load_model_refuses_pickles_and_damaged_files(tmp_path):
    obj = np.empty(2, dtype=object)
    obj[0] = {"evil": True}
    buf = io.BytesIO()
    np.savez(buf, architecture=obj)
    with pytest.raises(InputError, match="pickled"):
        load_model(buf.getvalue())
    good = io.BytesIO()
    tutorial_model(seed=0).save(tmp_path / "t.npz")
    raw = (tmp_path / "t.npz").read_bytes()
    for bad in (b"", b"not a zip at all", raw[: len(raw) // 2]):
        with pytest.raises(InputError):
            load_model(bad)
    # a valid npz that is not a model
    np.savez(good, a=np.zeros(3))
    with pytest.raises(InputError, match="not a cnnviz model"):
        load_model(good.getvalue())
    # weights that do not fit the architecture
    with zipfile.ZipFile(tmp_path / "t.npz") as z:
        names = z.namelist()
    assert "weight_0.npy" in names
    arrays = dict(np.load(tmp_path / "t.npz", allow_pickle=False))
    arrays["weight_0"] = np.zeros((2, 2), np.float32)
    broken = io.BytesIO()
    np.savez(broken, **arrays)
    with pytest.raises(InputError, match="shaped"):
        load_model(broken.getvalue())


def test_summary_and_parameter_counts():
    model = tutorial_model()
    assert [layer.count_params() for layer in model.layers] == [72, 0, 0, 13530]
    assert model.count_params() == 13602
    text = model.summary(print_fn=None)
    assert "(None, 26, 26, 8)" in text and "13,602" in text
    assert model.layers[0].output_shape == (26, 26, 8)


def test_inputs_with_or_without_channel_axis_and_bad_shapes(data):
    _, _, xt, yt = data
    model = tutorial_model(seed=0)
    a = model.predict(xt[:5] / 255 - 0.5)
    b = model.predict((xt[:5] / 255 - 0.5)[..., None])
    np.testing.assert_allclose(a, b)
    with pytest.raises(InputError):
        model.predict(np.zeros((2, 20, 20)))
    model.compile("sgd")
    with pytest.raises(InputError):
        model.fit(np.zeros((3, 28, 28)), np.array([1, 2]), verbose=0)
    with pytest.raises(InputError):
        model.fit(np.zeros((3, 28, 28)), np.array([1, 2, 3]), batch_size=0, verbose=0)
    with pytest.raises(InputError):
        SGD(learning_rate=-1)
    h = model.fit(np.zeros((3, 28, 28)), np.array([1, 2, 3]), batch_size=100, epochs=0, verbose=0)
    assert h.history == {}


def test_feature_maps_and_gradients_are_reachable(data):
    x, y, _, _ = data
    model = tutorial_model(seed=0)
    model.compile(SGD(0.01))
    loss = model.compute_gradients(scaled(x[:2]), y[:2], input_grad=True)
    assert np.isfinite(loss)
    conv, pool, flat, dense = model.layers
    assert conv.output.shape == (2, 26, 26, 8) and pool.output.shape == (2, 13, 13, 8)
    assert conv.grads["kernel"].shape == (3, 3, 1, 8)
    assert pool.grad_input.shape == (2, 26, 26, 8) and conv.grad_input.shape == (2, 28, 28, 1)
    assert dense.logits.shape == (2, 10)
    # dL/dlogits = (p - onehot) / N
    expected = dense.output.copy()
    expected[np.arange(2), y[:2]] -= 1
    np.testing.assert_allclose(dense.grad_logits, expected / 2, rtol=1e-6)
