"""How many threads the BLAS library (OpenBLAS under NumPy) may use inside the engine.

The engine's matrix products are small (a 3x3 kernel is 9 numbers), so a second BLAS thread
buys little and, on a busy machine (a Streamlit server with several sessions, or a laptop
running a browser), BLAS threads that spin waiting for a core make training many times slower:
measured on this project's 2-core machine under load, a batch-32 epoch ran at about 1,000
samples/s with two BLAS threads and about 9,000 with one. So ``fit``, ``predict`` and
``evaluate`` run with one BLAS thread unless told otherwise:

- ``cnnviz.nn.set_blas_threads(n)`` or the environment variable ``CNNVIZ_BLAS_THREADS=n``;
- ``0`` leaves the library's own setting alone.

A second core is used differently: ``fit`` splits a batch into chunks computed on threads of
their own, each with one BLAS thread (cnnviz/nn/parallel.py). That beat giving conv2's large
products a second BLAS thread (``CNNVIZ_GEMM_THREADS``, removed): OpenBLAS's second thread kept
spinning between the products and took the core's other hyperthread from the rest of the step
(docs/performance.md, issue 14).

Without the small ``threadpoolctl`` package the setting is simply not applied.
"""

from __future__ import annotations

import contextlib
import os
import warnings

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is in requirements.txt
    ThreadpoolController = None


def _from_environment() -> int:
    value = os.environ.get("CNNVIZ_BLAS_THREADS", "1").strip()
    if value.isdigit():
        return int(value)
    # importing the engine must not fail over a setting
    warnings.warn(
        f"CNNVIZ_BLAS_THREADS must be a whole number, not {value!r}; it is ignored.", stacklevel=2
    )
    return 1


_state: dict = {"threads": _from_environment(), "controller": None}


def set_blas_threads(n: int) -> None:
    """Let BLAS use ``n`` threads inside fit/predict/evaluate (0: do not interfere)."""
    _state["threads"] = max(int(n), 0)


@contextlib.contextmanager
def blas_limit():
    """A context manager that applies the setting for the duration of a call."""
    n = _state["threads"]
    if n <= 0 or ThreadpoolController is None:
        yield
        return
    if _state["controller"] is None:
        _state["controller"] = ThreadpoolController().select(user_api="blas")
    with _state["controller"].limit(limits=n, user_api="blas"):
        yield
