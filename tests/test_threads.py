"""The engine's BLAS thread limit is applied inside fit/predict and lifted afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.nn import set_blas_threads, tutorial_model
from cnnviz.nn import threads as threads_mod


def blas_threads():
    """Thread counts of NumPy's BLAS, the one the engine's products use. SciPy's wheels bring
    their own OpenBLAS, loaded by whichever test imports scipy first; the engine never calls
    it, and the engine's controller (made once) may predate it."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    numpys = [i for i in blas if "numpy" in i["filepath"]]
    return [i["num_threads"] for i in numpys or blas]


def test_predict_runs_with_the_configured_blas_threads(monkeypatch):
    before = blas_threads()
    # NumPy's wheels carry OpenBLAS: without a BLAS in view the checks below would pass on
    # empty lists and prove nothing.
    assert before, "threadpoolctl sees no BLAS library in this NumPy"
    seen = []
    model = tutorial_model(seed=0)
    original = model.layers[0].forward

    def spy(x, training=False):
        seen.append(blas_threads())
        return original(x, training)

    monkeypatch.setattr(model.layers[0], "forward", spy)
    try:
        set_blas_threads(1)
        model.predict(np.zeros((2, 28, 28), np.float32))
        assert seen and seen[-1] and all(n == 1 for n in seen[-1])
        set_blas_threads(0)  # leave the library alone
        model.predict(np.zeros((2, 28, 28), np.float32))
        assert seen[-1] == before
    finally:
        set_blas_threads(1)
    assert blas_threads() == before
    assert threads_mod._state["threads"] == 1


def test_a_bad_environment_setting_warns_and_keeps_one_thread(monkeypatch):
    monkeypatch.setenv("CNNVIZ_BLAS_THREADS", "two")
    with pytest.warns(UserWarning, match="CNNVIZ_BLAS_THREADS must be a whole number"):
        assert threads_mod._from_environment() == 1
    monkeypatch.setenv("CNNVIZ_BLAS_THREADS", "0")
    assert threads_mod._from_environment() == 0
