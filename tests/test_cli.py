"""``python -m cnnviz train`` end to end, in a subprocess as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from cnnviz.data import mnist
from cnnviz.nn import ScaledImages, load_model

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnnviz", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_train_prints_keras_lines_and_saves_a_working_model(tmp_path):
    out, log = tmp_path / "m.npz", tmp_path / "m.json"
    r = run(
        "train",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--lr",
        "0.05",
        "--limit",
        "2000",
        "--filters",
        "4",
        "--seed",
        "1",
        "--out",
        str(out),
        "--log",
        str(log),
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "Epoch 1/2" in lines and "Epoch 2/2" in lines
    epoch_lines = [ln for ln in lines if ln.startswith("2000/2000 [")]
    assert len(epoch_lines) == 2
    for key in ("loss:", "accuracy:", "val_loss:", "val_accuracy:", "/step"):
        assert key in epoch_lines[-1]
    reported = float(lines[-2].split("Test accuracy: ")[1].split()[0])
    model = load_model(out)
    assert model.layers[0].filters == 4
    _, (xt, yt) = mnist.load_data_shared()
    accuracy = np.mean(model.predict(ScaledImages(xt)).argmax(axis=1) == yt)
    assert abs(accuracy - reported) < 1e-4  # the printed accuracy is the saved model's
    assert accuracy > 0.8
    history = json.loads(log.read_text())["history"]
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]


def test_no_validation_skips_the_per_epoch_test_evaluation():
    r = run("train", "--epochs", "1", "--limit", "512", "--filters", "2", "--no-validation")
    assert r.returncode == 0, r.stderr
    epoch_line = next(ln for ln in r.stdout.splitlines() if ln.startswith("512/512 ["))
    assert "loss:" in epoch_line and "val_loss" not in epoch_line
    assert "Test accuracy: " in r.stdout  # the final evaluation still runs


def test_bad_settings_give_one_line_and_exit_2():
    r = run("train", "--epochs", "0", "--quiet")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    r = run("train", "--dataset", "No such set", "--quiet")
    assert r.returncode == 2 and "not on this machine" in r.stderr


def test_info_lists_datasets_and_bundled_models():
    r = run("info")
    assert r.returncode == 0
    assert "MNIST" in r.stdout and "Tutorial network" in r.stdout and "Stronger network" in r.stdout


def test_a_diverging_run_says_so_and_exits_1(tmp_path):
    r = run(
        "train",
        "--lr",
        "1e6",
        "--limit",
        "500",
        "--epochs",
        "2",
        "--quiet",
        "--out",
        str(tmp_path / "d.npz"),
    )
    assert r.returncode == 1
    assert "the loss became" in r.stderr and "smaller learning rate" in r.stderr
    model = load_model(tmp_path / "d.npz")  # the last finite weights were kept and saved
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
