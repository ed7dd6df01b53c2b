"""Shared fixtures of the control plugin's tests: one torch thread (tiny models, 2 shared cores)."""

from __future__ import annotations

import pytest

from tryon.testing import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield
