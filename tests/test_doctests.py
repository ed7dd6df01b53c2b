"""The ``>>>`` examples in the docstrings of ``tryon.geometry``, ``tryon.nn`` and ``tryon.losses`` run and pass.

Modules are discovered with :mod:`pkgutil`, so a new module of these packages is covered the day it is added.
The total count of examples has a floor, so the test fails if the doctests vanish.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import tryon.geometry
import tryon.losses
import tryon.nn

#: Examples (``>>>`` lines) written so far: geometry 20, nn 17, losses 13. Raise it when adding more.
MIN_EXAMPLES = 50
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def documented_modules() -> list[ModuleType]:
    """Every module of ``tryon.geometry`` and ``tryon.nn`` (packages included), ``tryon.losses`` and the data-spec parser."""
    modules: list[ModuleType] = []
    for package in (tryon.geometry, tryon.nn):
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            modules.append(importlib.import_module(info.name))
    modules.append(tryon.losses)
    modules.append(importlib.import_module("tryon.data.spec_strings"))
    return modules


MODULES = documented_modules()


def test_doctests_pass_and_have_not_vanished() -> None:
    results = {m.__name__: doctest.testmod(m, optionflags=FLAGS, report=True, verbose=False) for m in MODULES}
    failed = {name: r.failed for name, r in results.items() if r.failed}
    assert not failed, f"doctest examples failed (details in the captured stdout): {failed}"
    attempted = sum(r.attempted for r in results.values())
    assert attempted >= MIN_EXAMPLES, {name: r.attempted for name, r in results.items()}
    assert {"tryon.geometry.tps", "tryon.geometry.masks", "tryon.nn.blocks", "tryon.losses"} <= set(results)
