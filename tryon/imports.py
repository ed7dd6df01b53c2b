"""Deferred imports: how tryon keeps ``import tryon``, ``tryon tasks`` and ``tryon --help`` free of torch.

Two forms, one mechanism (:func:`import_target`):

* :func:`lazy` — a callable standing for ``"package.module:attribute"``, imported on first call (task
  factories and export builders in ``TaskSpec``/``ExportSpec``);
* :func:`lazy_exports` — a module ``__getattr__`` (PEP 562) that resolves the names a package re-exports
  from its submodules on first access, caching them in the package.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

from .errors import PluginError


def import_target(target: str) -> Any:
    """The object named by ``"package.module:attribute[.attribute]"``."""
    module_name, _, attr = str(target).partition(":")
    if not module_name or not attr:
        raise PluginError(f"import target must be 'module:attribute', got {target!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def lazy(target: str) -> Callable[..., Any]:
    """A callable standing for ``"package.module:attribute"``, imported on first call.

    Plugins use it for ``TaskSpec.factory`` and ``ExportSpec`` callables so that registering tasks
    (``tryon tasks``) never imports torch or model code.
    """
    module_name, _, attr = str(target).partition(":")
    if not module_name or not attr:
        raise PluginError(f"lazy target must be 'module:attribute', got {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        return import_target(target)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"lazy({target})"
    call.target = target  # type: ignore[attr-defined]
    return call


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package`` resolving ``name`` from the submodule ``names[name]`` (relative to
    the package, e.g. ``{"fid": "fid", "prdc": "prdc"}``) on first access; the value is cached in the
    package's namespace."""

    def __getattr__(name: str) -> Any:
        sub = names.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__


__all__ = ["import_target", "lazy", "lazy_exports"]
