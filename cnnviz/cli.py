"""Command line: ``python -m cnnviz train ...`` and ``python -m cnnviz info``.

    python -m cnnviz train --preset tutorial --out assets/models/tutorial.npz
    python -m cnnviz train --model strong --optimizer adam --epochs 8 --batch-size 32

Training prints Keras-like epoch lines and the final test accuracy; ``--out`` saves the model
(.npz) with its history and settings in the model's metadata, and ``--log`` writes the
per-epoch history as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    t.add_argument("--momentum", type=float, help="SGD momentum (default 0)")
    t.add_argument("--filters", type=int, help="filters of the first conv layer")
    t.add_argument("--limit", type=int, help="train on the first N training images only")
    t.add_argument(
        "--augment",
        type=int,
        metavar="PIXELS",
        help="shift each training image by up to PIXELS at random (default 0)",
    )
    t.add_argument("--seed", type=int, help="default 0")
    t.add_argument("--dataset", help="a dataset name from `python -m cnnviz info` (default MNIST)")
    t.add_argument("--out", type=Path, help="save the trained model here (.npz)")
    t.add_argument("--log", type=Path, help="write the per-epoch history here (.json)")
    t.add_argument("--quiet", action="store_true", help="no epoch lines")
    t.add_argument(
        "--no-validation",
        action="store_true",
        help="no test-set evaluation after each epoch (the final test accuracy is still printed)",
    )
    sub.add_parser("info", help="list the datasets and bundled models on this machine")
    return ap


# flag -> the recipe's field (TrainingConfig speaks Keras: learning_rate, not lr)
FLAGS = {
    "model": "architecture",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "momentum": "momentum",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "limit": "train_size",
    "filters": "filters",
    "augment": "augment",
    "seed": "seed",
    "dataset": "dataset",
}


def settings(args: argparse.Namespace):
    """The recipe: ``--preset`` (or the command line's default) with the flags given on top."""
    from cnnviz.nn.recipes import COMMAND_LINE_DEFAULT, DEFAULT_FILTERS, PRESETS

    recipe = PRESETS[args.preset] if args.preset else COMMAND_LINE_DEFAULT
    changes = {
        field: getattr(args, flag)
        for flag, field in FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    architecture = changes.get("architecture", recipe.architecture)
    if architecture != recipe.architecture and "filters" not in changes:
        changes["filters"] = DEFAULT_FILTERS[architecture]
    return dataclasses.replace(recipe, **changes)


def train(args: argparse.Namespace) -> int:
    from cnnviz.data import load_dataset
    from cnnviz.nn.recipes import build_model, scale_images, take_subset, training_images

    recipe = settings(args)
    recipe.check()
    (x_train, y_train), (x_test, y_test) = load_dataset(recipe.dataset)
    x_train, y_train = take_subset(x_train, y_train, recipe.train_size)  # the first ones
    x_test, y_test = take_subset(x_test, y_test, recipe.test_size)
    model = build_model(recipe)
    if not args.quiet:
        model.summary()
        print(f"Training on {len(x_train)} images of {recipe.dataset}: {recipe}", flush=True)
    t0 = time.perf_counter()
    test_images = scale_images(x_test)
    history = model.fit(
        training_images(x_train, recipe),
        y_train,
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        validation_data=None if args.no_validation else (test_images, y_test),
        verbose=0 if args.quiet else 1,
        seed=recipe.seed,
    )
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(test_images, y_test)
    print(f"Test accuracy: {acc:.4f} (loss {loss:.4f}) after {seconds:.1f} s", flush=True)
    model.metadata = {
        "dataset": recipe.dataset,
        "settings": dataclasses.asdict(recipe),
        "seed": recipe.seed,
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
