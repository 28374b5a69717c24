"""Datasets in IDX format: the bundled MNIST and any folder of the four standard files.

>>> from cnnviz.data import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()   # uint8, (60000, 28, 28)

``list_datasets()`` names every dataset present on this machine so the app can offer them.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from cnnviz.data.idx import parse_idx, read_idx
from cnnviz.errors import InputError

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
MNIST_DIR = ASSETS / "mnist"

# The four standard names; each may also end in .gz.
STANDARD_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# name -> (folder, class names). Only folders that exist are listed by list_datasets().
KNOWN_DATASETS = {
    "MNIST": (MNIST_DIR, [str(d) for d in range(10)]),
    "Fashion-MNIST": (
        Path("/usr/share/datasets/fashion-mnist"),
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
    ),
}

Split = tuple[np.ndarray, np.ndarray]


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise InputError("The folder {folder} has no {stem} (or {stem}.gz).", folder=folder, stem=stem)


_LOAD_LOCK = threading.Lock()  # many sessions may ask at once: read the files once


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str) -> tuple[Split, Split]:
    root = Path(folder)
    if not root.is_dir():
        raise InputError("There is no dataset folder {root}.", root=root)
    arrays = {key: read_idx(_find(root, stem)) for key, stem in STANDARD_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise InputError(
                "The {split} files in {root} do not match: images {images}, labels {labels}.",
                split=split,
                root=root,
                images=x.shape,
                labels=y.shape,
            )
    for a in arrays.values():
        a.setflags(write=False)  # cached and shared: nobody may change them
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_idx_dir(path: str | Path) -> tuple[Split, Split]:
    """Load a folder holding the four standard IDX files (plain or .gz).

    Returns ``(x_train, y_train), (x_test, y_test)`` with images (N, H, W) and labels (N,),
    as stored (uint8 for MNIST-like sets). Loaded once per process and read-only.
    """
    with _LOAD_LOCK:
        return _load_cached(str(Path(path).resolve()))


def list_datasets() -> dict[str, Path]:
    """Datasets present on this machine, by name (MNIST first; it is always bundled)."""
    present = {}
    for name, (folder, _) in KNOWN_DATASETS.items():
        if all(
            (folder / stem).is_file() or (folder / f"{stem}.gz").is_file()
            for stem in STANDARD_FILES.values()
        ):
            present[name] = folder
    return present


def load_dataset(name: str) -> tuple[Split, Split]:
    """Load a dataset listed by :func:`list_datasets` by its name."""
    present = list_datasets()
    if name not in present:
        raise InputError(
            "The dataset {name} is not on this machine; choose one of {names}.",
            name=repr(name),
            names=list(present),
        )
    return load_idx_dir(present[name])


def class_names(name: str) -> list[str]:
    """The names of the 10 classes of a known dataset ("0".."9" for MNIST)."""
    return KNOWN_DATASETS.get(name, (None, [str(d) for d in range(10)]))[1]


__all__ = [
    "class_names",
    "list_datasets",
    "load_dataset",
    "load_idx_dir",
    "parse_idx",
    "read_idx",
]
