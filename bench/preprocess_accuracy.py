"""How well preprocess + the stronger bundled model read digits that FILL THEIR FRAME (issue 9).

    python bench/preprocess_accuracy.py                   # the table, about a minute
    python bench/preprocess_accuracy.py --n 100           # fewer digits per row
    python bench/preprocess_accuracy.py --preprocess old_preprocess.py   # another version

Rows:

- MNIST: the first ``--n`` MNIST test digits cropped to their ink's bounding box plus a margin
  of 0, 1 or 2 px of background (at 28 x 28 scale), enlarged 1x, 2x or 6x (bilinear), bright
  ink on dark ("light ink") or inverted ("dark ink");
- MNIST low resolution: the same digits cut tight (no margin) and area-averaged so their longer
  side is 8, 12 or 16 px (a low-resolution scan; 16 px is about USPS's size);
- sklearn: scikit-learn's bundled 8 x 8 digits (1,797 digits by 43 writers, values 0..16, the
  digit fills the frame; ``--n`` of them, spread over the whole set), as stored (8 x 8), and
  upsampled to 16 x 16 and 32 x 32 (bicubic), plus 32 x 32 binary bitmaps (the bicubic 32 x 32
  thresholded at half, like the bitmaps the 8 x 8 digits were counted from). Skipped with a
  note when scikit-learn is not installed (``pip install -r requirements-bench.txt``).

Columns: how many, how many ``to_mnist`` refused (InputError), and the percentage the model
got right out of all of them (a refused digit counts as wrong).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnviz.data import mnist  # noqa: E402
from cnnviz.errors import InputError  # noqa: E402
from cnnviz.nn import load_model  # noqa: E402
from cnnviz.nn.recipes import MODELS_DIR  # noqa: E402


def load_preprocess(path: str | None):
    """cnnviz.preprocess, or the module in ``path`` (e.g. an older copy, for a comparison)."""
    if path is None:
        from cnnviz import preprocess

        return preprocess
    spec = importlib.util.spec_from_file_location("preprocess_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def tight_crop(digit: np.ndarray, margin: int) -> np.ndarray:
    """The digit cut to its ink's bounding box, with ``margin`` px of black around it."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(crop, margin)


def enlarge(img: np.ndarray, scale: int, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    if scale == 1:
        return img
    h, w = img.shape
    return np.asarray(Image.fromarray(img).resize((w * scale, h * scale), resample))


def shrink(img: np.ndarray, side: int) -> np.ndarray:
    """Area-average (box filter) so the longer side is ``side`` px, keeping the aspect ratio."""
    h, w = img.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BOX))


def sklearn_sets(n: int):
    """name -> (uint8 images, labels) for the sklearn rows, or None without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    data = load_digits()
    pick = np.linspace(0, len(data.images) - 1, min(n, len(data.images))).round().astype(int)
    small = np.clip(data.images[pick] * 255 / 16, 0, 255).round().astype(np.uint8)
    labels = data.target[pick]

    def up(img, side):
        return np.asarray(Image.fromarray(img).resize((side, side), Image.Resampling.BICUBIC))

    big = np.array([up(d, 32) for d in small])
    return {
        "8 x 8": (small, labels),
        "16 x 16": (np.array([up(d, 16) for d in small]), labels),
        "32 x 32": (big, labels),
        "32 x 32 binary": (np.where(big >= 128, 255, 0).astype(np.uint8), labels),
    }


def score(pre, model, images, labels) -> tuple[int, int, float]:
    """(count, refused, % right) for a list of uint8 images."""
    inputs, right_labels, refused = [], [], 0
    for img, label in zip(images, labels, strict=True):
        try:
            inputs.append(pre.to_model_input(pre.to_mnist(img)))
            right_labels.append(label)
        except InputError:
            refused += 1
    right = 0
    if inputs:
        pred = model.predict(np.concatenate(inputs)).argmax(axis=1)
        right = int(np.count_nonzero(pred == np.array(right_labels)))
    return len(labels), refused, 100.0 * right / len(labels)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="digits per row (default 300)")
    parser.add_argument("--preprocess", help="a preprocess.py to test instead of cnnviz's")
    args = parser.parse_args(argv)
    pre = load_preprocess(args.preprocess)
    model = load_model(MODELS_DIR / "strong.npz")
    (_, _), (x_test, y_test) = mnist.load_data_shared()
    x, y = x_test[: args.n], y_test[: args.n]
    start = time.perf_counter()

    print("| input | margin | size | ink | count | refused | right % |")
    print("|---|---|---|---|---:|---:|---:|")
    for margin in (0, 1, 2):
        for scale in (1, 2, 6):
            crops = [enlarge(tight_crop(d, margin), scale) for d in x]
            for ink, images in (("light", crops), ("dark", [255 - c for c in crops])):
                count, refused, right = score(pre, model, images, y)
                row = f"| MNIST tight crop | {margin} px | {scale}x | {ink} |"
                print(f"{row} {count} | {refused} | {right:.1f} |", flush=True)
    for side in (8, 12, 16):
        crops = [shrink(tight_crop(d, 0), side) for d in x]
        for ink, images in (("light", crops), ("dark", [255 - c for c in crops])):
            count, refused, right = score(pre, model, images, y)
            row = f"| MNIST low resolution | 0 px | {side} px | {ink} |"
            print(f"{row} {count} | {refused} | {right:.1f} |", flush=True)
    sets = sklearn_sets(args.n)
    if sets is None:
        print("\nsklearn rows skipped: scikit-learn is not installed.")
    else:
        for name, (images, labels) in sets.items():
            for ink, imgs in (("light", images), ("dark", 255 - images)):
                count, refused, right = score(pre, model, list(imgs), labels)
                row = f"| sklearn digits | none | {name} | {ink} |"
                print(f"{row} {count} | {refused} | {right:.1f} |", flush=True)
    print(f"\n({time.perf_counter() - start:.0f} s; model: strong.npz)")


if __name__ == "__main__":
    main()
