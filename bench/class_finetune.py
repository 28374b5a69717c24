"""Fine-tuning on a class's handwriting (issue 16): how long, and what it gains and costs.

    python bench/class_finetune.py                         # both bundled networks, 200 digits
    python bench/class_finetune.py --digits 100 200 500 --epochs 5 --style tilted

The "class" is MNIST training digits written in one of cnnviz.classroom.handwriting's styles
(default "tilted": thick strokes, rotated about 30 degrees). For each bundled network and
number of digits, ``fine_tune`` holds a quarter out, trains a copy on the rest and measures
held-out accuracy and MNIST test accuracy (all 10,000 digits unless --mnist says fewer) before
and after. "seconds" is the whole call: both MNIST evaluations included. The target: 200
digits in at most 30 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ (not the root) on sys.path
    sys.path.insert(0, str(ROOT))

from cnnviz import nn  # noqa: E402
from cnnviz.classroom.finetune import fine_tune  # noqa: E402
from cnnviz.classroom.handwriting import STYLES, hall_digits  # noqa: E402

MODELS = {"tutorial": "Tutorial network", "strong": "Stronger network"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--digits", nargs="+", type=int, default=[200])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--style", default="tilted", choices=list(STYLES))
    parser.add_argument("--mnist", type=int, default=None, help="MNIST test digits (all)")
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--rehearse", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(f"{os.cpu_count()} cores; style {args.style!r}; MNIST test digits: "
          f"{args.mnist or 10_000}\n")  # fmt: skip
    print("| model | digits | trained / held out | epochs | seconds | held-out before -> after "
          "| MNIST before -> after |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models:
        model = nn.load_model(nn.bundled_models()[MODELS[name]])
        for n in args.digits:
            images, labels = hall_digits(n, style=args.style, seed=args.seed + 1)
            r = fine_tune(model, images, labels, epochs=args.epochs, seed=args.seed,
                          learning_rate=args.learning_rate, mnist_test=args.mnist,
                          rehearse=args.rehearse)  # fmt: skip
            print(
                f"| {name} | {n} | {r.n_train} / {r.n_held} | {r.epochs} | {r.seconds:.1f} "
                f"| {r.held_before:.1%} -> {r.held_after:.1%} "
                f"| {r.mnist_before:.2%} -> {r.mnist_after:.2%} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
