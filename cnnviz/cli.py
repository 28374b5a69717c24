"""Command line: ``python -m cnnviz train ...`` and ``python -m cnnviz info``.

    python -m cnnviz train --preset tutorial --out assets/models/tutorial.npz
    python -m cnnviz train --model strong --optimizer adam --epochs 8 --batch-size 32

Training prints Keras-like epoch lines and the final test accuracy; ``--out`` saves the model
(.npz) with its history and settings in the model's metadata, and ``--log`` writes the
per-epoch history as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from cnnviz.errors import InputError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m cnnviz", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a CNN on MNIST (or another IDX dataset) and save it")
    t.add_argument(
        "--preset",
        choices=["tutorial", "strong", "quick"],
        help="tutorial: the tutorial's Keras recipe (SGD 0.001, batch 1, 30 epochs); "
        "strong: two conv layers with ReLU, Adam; quick: a short demo run",
    )
    t.add_argument(
        "--model", choices=["tutorial", "strong"], help="network shape (default tutorial)"
    )
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--optimizer", choices=["sgd", "adam"])
    t.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    t.add_argument("--filters", type=int, help="filters of the first conv layer")
    t.add_argument("--limit", type=int, help="train on the first N training images only")
    t.add_argument(
        "--augment",
        type=int,
        metavar="PIXELS",
        help="shift each training image by up to PIXELS at random (default 0)",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dataset", default="MNIST", help="a dataset name from `python -m cnnviz info`")
    t.add_argument("--out", type=Path, help="save the trained model here (.npz)")
    t.add_argument("--log", type=Path, help="write the per-epoch history here (.json)")
    t.add_argument("--quiet", action="store_true", help="no epoch lines")
    sub.add_parser("info", help="list the datasets and bundled models on this machine")
    return ap


def settings(args: argparse.Namespace) -> dict:
    """Merge a preset with explicit options (explicit options win)."""
    from cnnviz.nn.presets import PRESETS

    cfg = dict(
        model="tutorial", optimizer="sgd", lr=0.01, batch_size=32, epochs=5, limit=None, augment=0
    )
    if args.preset:
        cfg.update(PRESETS[args.preset])
    for key in ("model", "optimizer", "lr", "batch_size", "epochs", "limit", "filters", "augment"):
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    cfg.setdefault("filters", None)
    cfg["momentum"] = args.momentum
    return cfg


def train(args: argparse.Namespace) -> int:
    from cnnviz.data import load_dataset
    from cnnviz.nn import ScaledImages, ShiftedImages
    from cnnviz.nn.presets import build, make_optimizer

    cfg = settings(args)
    if cfg["epochs"] < 1 or cfg["batch_size"] < 1:
        raise InputError("--epochs and --batch-size must be at least 1.")
    (x_train, y_train), (x_test, y_test) = load_dataset(args.dataset)
    if cfg["limit"]:
        x_train, y_train = x_train[: cfg["limit"]], y_train[: cfg["limit"]]
    model = build(cfg["model"], cfg["filters"], seed=args.seed)
    model.compile(
        make_optimizer(cfg["optimizer"], cfg["lr"], cfg["momentum"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if not args.quiet:
        model.summary()
        print(f"Training on {len(x_train)} images of {args.dataset}: {cfg}", flush=True)
    t0 = time.perf_counter()
    if cfg["augment"]:
        train_images = ShiftedImages(x_train, cfg["augment"], seed=args.seed)
    else:
        train_images = ScaledImages(x_train)
    history = model.fit(
        train_images,
        y_train,
        batch_size=cfg["batch_size"],
        epochs=cfg["epochs"],
        validation_data=(ScaledImages(x_test), y_test),
        verbose=0 if args.quiet else 1,
        seed=args.seed,
    )
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(ScaledImages(x_test), y_test)
    print(f"Test accuracy: {acc:.4f} (loss {loss:.4f}) after {seconds:.1f} s", flush=True)
    model.metadata = {
        "dataset": args.dataset,
        "settings": cfg,
        "seed": args.seed,
        "command": "python -m cnnviz " + " ".join(sys.argv[1:]),
        "test_accuracy": acc,
        "test_loss": loss,
        "train_seconds": seconds,
        "history": history.history,
        "diverged": history.diverged,
        "input_scaling": "x / 255 - 0.5, shape (N, 28, 28, 1)",
        "trained": time.strftime("%Y-%m-%d"),
    }
    if args.out:
        model.save(args.out)
        print(f"Saved {args.out}")
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        args.log.write_text(json.dumps(model.metadata, indent=1))
    if history.diverged:
        print(history.message, file=sys.stderr)
        return 1
    return 0


def info() -> int:
    from cnnviz.data import list_datasets
    from cnnviz.nn import bundled_models, load_model

    print("Datasets:")
    for name, path in list_datasets().items():
        print(f"  {name}: {path}")
    print("Bundled models:")
    for name, path in bundled_models().items():
        acc = load_model(path).metadata.get("test_accuracy")
        print(f"  {name}: {path}" + (f" (test accuracy {acc:.4f})" if acc else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    np.seterr(over="ignore", invalid="ignore")
    try:
        if args.command == "train":
            return train(args)
        return info()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
