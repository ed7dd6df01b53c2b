"""Shared fixtures. Tests never download anything and keep images small (64×48 for try-on)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Helper modules shared by several test files (serve_support.py, catalogue_toy.py) import by name.
sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def fresh_manager(monkeypatch):
    """A plugin manager with no entry points loaded; restored to a normal one afterwards."""
    from tryon import plugins

    monkeypatch.setenv("TRYON_DISABLE_PLUGIN_AUTOLOAD", "1")
    manager = plugins.reset_manager(autoload=False)
    yield manager
    monkeypatch.delenv("TRYON_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    plugins.reset_manager()


@pytest.fixture
def one_thread():
    """One torch thread for the test (``pytestmark = pytest.mark.usefixtures("one_thread")``): tiny models."""
    from tryon.testing import torch_threads

    with torch_threads(1):
        yield
