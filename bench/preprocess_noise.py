"""How often ``to_mnist`` accepts pictures of pure noise, which hold no digit (issue 9).

    python bench/preprocess_noise.py                      # the table, a few seconds
    python bench/preprocess_noise.py --preprocess old_preprocess.py   # another version

For each size (8 .. 600 px square) ten images (seeds 0..9) of each kind:

- uniform: every pixel uniform in 0..255;
- blobs: uniform noise at 1/6 of the size, enlarged (bicubic): soft blobs, as in the fuzz test;
- gaussian: Gaussian noise smoothed with a Gaussian of sigma = size / 8, stretched to 0..255.

Prints how many of the ten were accepted (a digit was "found"); every one should be refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.preprocess_accuracy import load_preprocess  # noqa: E402
from cnnviz.errors import InputError  # noqa: E402

SIZES = (8, 12, 16, 20, 28, 64, 128, 600)


def noise_image(kind: str, side: int, seed: int) -> np.ndarray:
    """A uint8 (side, side) noise picture of the given kind."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.integers(0, 256, (side, side), dtype=np.uint8)
    if kind == "blobs":
        small = rng.integers(0, 256, (max(1, side // 6),) * 2, dtype=np.uint8)
        return np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC))
    smooth = ndimage.gaussian_filter(rng.normal(size=(side, side)), sigma=side / 8)
    smooth = (smooth - smooth.min()) / (np.ptp(smooth) or 1)
    return (smooth * 255).round().astype(np.uint8)


def accepted(pre, kind: str, side: int, n: int = 10) -> int:
    """How many of ``n`` noise pictures ``to_mnist`` accepts."""
    count = 0
    for seed in range(n):
        try:
            pre.to_mnist(noise_image(kind, side, seed))
            count += 1
        except InputError:
            pass
    return count


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preprocess", help="a preprocess.py to test instead of cnnviz's")
    args = parser.parse_args(argv)
    pre = load_preprocess(args.preprocess)
    print("| noise | " + " | ".join(f"{s} px" for s in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for kind in ("uniform", "blobs", "gaussian"):
        counts = [f"{accepted(pre, kind, s)}/10" for s in SIZES]
        print(f"| {kind} | " + " | ".join(counts) + " |", flush=True)


if __name__ == "__main__":
    main()
