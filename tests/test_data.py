"""The IDX reader and the bundled MNIST, against the published facts of the files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from cnnviz.data import list_datasets, load_dataset, load_idx_dir, mnist, parse_idx, read_idx
from cnnviz.errors import InputError

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "mnist"
MD5 = {  # of the uncompressed files, the well-known values
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """Write an IDX file by hand from the format's definition."""
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("name", sorted(MD5))
def test_bundled_files_are_the_originals(name):
    assert hashlib.md5(gzip.decompress((ASSETS / name).read_bytes())).hexdigest() == MD5[name]


def test_load_data_behaves_like_keras():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(np.bincount(y_train)) == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert list(np.bincount(y_test)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    x_train[0, 0, 0] = 7  # Keras returns writable arrays; the cache must not change
    assert mnist.load_data()[0][0][0, 0, 0] == 0
    assert mnist.load_data_shared()[0][0] is mnist.load_data_shared()[0][0]  # loaded once


def test_parse_idx_reads_every_type():
    rng = np.random.default_rng(0)
    for code, dtype in [
        (0x08, np.uint8),
        (0x09, np.int8),
        (0x0B, np.int16),
        (0x0C, np.int32),
        (0x0D, np.float32),
        (0x0E, np.float64),
    ]:
        arr = (rng.normal(size=(3, 4, 2)) * 50).astype(dtype)
        np.testing.assert_array_equal(parse_idx(idx_bytes(arr, code)), arr)


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "too short"),
        (b"\x00\x00\x08", "too short"),
        (b"PK\x03\x04rest", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00", "header is incomplete"),
        (idx_bytes(np.zeros((2, 3), np.uint8))[:-1], "truncated"),
        (idx_bytes(np.zeros((2, 3), np.uint8)) + b"\x00", "longer than"),
        (b"\x00\x00\x08\x00", "no dimensions"),
    ],
)
def test_bad_idx_files_raise_one_sentence(raw, words):
    with pytest.raises(InputError, match=words) as info:
        parse_idx(raw, "the file")
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_read_idx_gzip_and_damaged_gzip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(arr))[:30])
    with pytest.raises(InputError):
        read_idx(tmp_path / "b.gz")
    with pytest.raises(InputError, match="no file"):
        read_idx(tmp_path / "missing")


def test_load_idx_dir_on_a_folder_of_plain_files(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    tmp_path = tmp_path / "good"
    tmp_path.mkdir()
    rng = np.random.default_rng(1)
    xs = rng.integers(0, 256, size=(5, 6, 7), dtype=np.uint8)
    ys = np.array([0, 1, 2, 3, 4], np.uint8)
    for stem, arr in [
        ("train-images-idx3-ubyte", xs),
        ("train-labels-idx1-ubyte", ys),
        ("t10k-images-idx3-ubyte", xs[:2]),
        ("t10k-labels-idx1-ubyte", ys[:2]),
    ]:
        (tmp_path / stem).write_bytes(idx_bytes(arr))
    (a, b), (c, d) = load_idx_dir(tmp_path)
    np.testing.assert_array_equal(a, xs)
    np.testing.assert_array_equal(d, ys[:2])
    for f in tmp_path.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(ys[:3]))
    with pytest.raises(InputError, match="do not match"):
        load_idx_dir(bad)


def test_list_datasets_always_has_mnist():
    present = list_datasets()
    assert list(present)[0] == "MNIST"
    with pytest.raises(InputError):
        load_dataset("No such set")


def test_fashion_mnist_when_installed():
    if "Fashion-MNIST" not in list_datasets():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    (x, y), (xt, yt) = load_dataset("Fashion-MNIST")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert sorted(np.unique(y)) == list(range(10))
