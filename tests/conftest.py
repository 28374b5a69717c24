"""Shared fixtures: a running ``streamlit run app.py``, a Playwright-driven Chromium, PyTorch
as an oracle, MNIST's test digits, the bundled tutorial network and a stand-in for the drawing
canvas.

Browser tests use Debian's Chromium at /usr/bin/chromium (never a downloaded browser). When
it or the playwright package is missing they are skipped with the reason, and so are the
PyTorch oracle tests without torch, except in CI (``CI=true``), where a missing browser or
PyTorch is a failure: the end-to-end tests and the outside oracle must run there.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from cnnviz import nn
from cnnviz.data import mnist
from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, serve_app

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it in CI where every test must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the outside oracle for layers and training steps (skipped without it, except
    in CI)."""
    try:
        import torch
    except ImportError:
        skip_or_fail("PyTorch is not installed (pip install torch==2.13.0)")
    return torch


@pytest.fixture(scope="session")
def zxingcpp():
    """zxing-cpp, the QR decoder that reads back the Join / share code (skipped without it,
    except in CI)."""
    try:
        import zxingcpp
    except ImportError:
        skip_or_fail("zxing-cpp is not installed (pip install zxing-cpp)")
    return zxingcpp


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app served by ``streamlit run app.py`` on a free port; yields its base URL."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with open(log_path, "w") as log:
        try:
            with serve_app(log) as url:
                yield url
        except RuntimeError as exc:
            pytest.fail(f"{exc}:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Debian's Chromium is not at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(_playwright):
    """Chromium launched by Playwright from /usr/bin/chromium (headless)."""
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser):
    """A fresh tab at a projector-like 1280x800, closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (gitignored): screenshots saved by the browser tests."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def mnist_test():
    """MNIST's 10,000 test digits (uint8, 28 x 28) and their labels."""
    _, (x_test, y_test) = mnist.load_data_shared()
    return x_test, y_test


@pytest.fixture(scope="module")
def bundled():
    """The bundled tutorial network (assets/models/tutorial.npz)."""
    return nn.load_model(nn.bundled_models()["Tutorial network"])


class FakeCanvas:
    """Stands in for streamlit-drawable-canvas (a browser component AppTest cannot render):
    ``st_canvas`` returns what the real one returns after a drawing, or None before one."""

    def __init__(self):
        self.rgba: np.ndarray | None = None
        self.objects = True

    def draw(self, rgba: np.ndarray, objects: bool = True) -> None:
        self.rgba, self.objects = np.asarray(rgba), objects

    def st_canvas(self, **kwargs):
        if self.rgba is None:
            return None
        raw = self.rgba.tobytes() + repr(self.rgba.shape).encode()  # like its PNG bytes
        return types.SimpleNamespace(
            image_data=self.rgba,
            image_bytes=raw,
            json_data={"objects": [{"type": "path"}] if self.objects else []},
        )


@pytest.fixture
def canvas(monkeypatch) -> FakeCanvas:
    fake = FakeCanvas()
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = fake.st_canvas
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return fake
