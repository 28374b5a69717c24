"""How many threads the BLAS library (OpenBLAS under NumPy) may use inside the engine.

The engine's matrix products are small (a 3x3 kernel is 9 numbers), so a second BLAS thread
buys little and, on a busy machine (a Streamlit server with several sessions, or a laptop
running a browser), BLAS threads that spin waiting for a core make training many times slower:
measured on this project's 2-core machine under load, a batch-32 epoch ran at about 1,000
samples/s with two BLAS threads and about 9,000 with one. So ``fit``, ``predict`` and
``evaluate`` run with one BLAS thread unless told otherwise:

- ``cnnviz.nn.set_blas_threads(n)`` or the environment variable ``CNNVIZ_BLAS_THREADS=n``;
- ``0`` leaves the library's own setting alone.

Large matrix products (conv2 of the stronger network at batch 16 and more, tens of millions of
multiply-adds; ``wide_gemm``) can be given more threads: ``CNNVIZ_GEMM_THREADS=n`` or
``set_gemm_threads(n)``. It is off (1) by default. Alone, conv2's three products ran 1.8x faster
on 2 threads; but in ``fit`` on this shared 2-core machine (load 3 from other work) training ran
at 1,911 samples/s with 2 threads for those products and 2,950 with one: OpenBLAS's second
thread keeps spinning between the products and takes the core's other hyperthread from the rest
of the step (``python bench/gemm_threads.py``; docs/performance.md, issue 14). On an idle machine,
with ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS's threads sleep at once), it gained 26%; the app's
training process always keeps it at 1.

Without the small ``threadpoolctl`` package the setting is simply not applied.
"""

from __future__ import annotations

import contextlib
import os

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - threadpoolctl is in requirements.txt
    ThreadpoolController = None

_state: dict = {
    "threads": int(os.environ.get("CNNVIZ_BLAS_THREADS", "1")),
    "gemm_threads": int(os.environ.get("CNNVIZ_GEMM_THREADS", "1")),
    "controller": None,
    "blas": [],  # the BLAS libraries' controllers while a limit is applied (else empty)
}
# A product of at least this many multiply-adds is "wide" (conv2 of the stronger network:
# 2.2 million per image, so batch 8 and more; the tutorial network's are all far below).
WIDE_GEMM = 1 << 24


def set_blas_threads(n: int) -> None:
    """Let BLAS use ``n`` threads inside fit/predict/evaluate (0: do not interfere)."""
    _state["threads"] = max(int(n), 0)


def set_gemm_threads(n: int) -> None:
    """Let BLAS use ``n`` threads for wide matrix products inside fit/predict/evaluate."""
    _state["gemm_threads"] = max(int(n), 1)


@contextlib.contextmanager
def blas_limit():
    """A context manager that applies the setting for the duration of a call."""
    n = _state["threads"]
    if n <= 0 or ThreadpoolController is None:
        yield
        return
    if _state["controller"] is None:
        _state["controller"] = ThreadpoolController().select(user_api="blas")
    outer = _state["blas"]
    with _state["controller"].limit(limits=n, user_api="blas"):
        _state["blas"] = _state["controller"].lib_controllers
        try:
            yield
        finally:
            _state["blas"] = outer


_UNCHANGED = contextlib.nullcontext()  # reusable: what wide_gemm gives when it changes nothing


def wide_gemm(multiply_adds: int):
    """Inside blas_limit: a context manager that runs a matrix product of ``multiply_adds``
    on the GEMM thread count if it is wide (switching costs about a microsecond); otherwise
    nothing changes (and the check costs a fraction of a microsecond: batch 1 calls it too)."""
    libs, n, g = _state["blas"], _state["threads"], _state["gemm_threads"]
    if g <= n or not libs or multiply_adds < WIDE_GEMM:
        return _UNCHANGED
    return _wide(libs, n, g)


@contextlib.contextmanager
def _wide(libs, n: int, g: int):
    for lib in libs:
        lib.set_num_threads(g)
    try:
        yield
    finally:
        for lib in libs:
            lib.set_num_threads(n)
