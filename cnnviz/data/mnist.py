"""The bundled MNIST, shaped exactly like ``keras.datasets.mnist``.

>>> (x_train, y_train), (x_test, y_test) = load_data()
>>> x_train.shape, x_train.dtype, y_test.shape
((60000, 28, 28), dtype('uint8'), (10000,))
"""

from __future__ import annotations

import numpy as np

from cnnviz.data import MNIST_DIR, load_idx_dir


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and labels (N,).

    Read from the IDX files bundled in ``assets/mnist`` once per process; the arrays returned
    are fresh writable copies, as Keras returns them.
    """
    (xtr, ytr), (xte, yte) = load_idx_dir(MNIST_DIR)
    return (xtr.copy(), ytr.copy()), (xte.copy(), yte.copy())


def load_data_shared() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Like :func:`load_data` but without copying: the cached read-only arrays."""
    return load_idx_dir(MNIST_DIR)
