"""The standard wiring of a plugin: one object implements every hook by reading the plugin's ``specs`` and ``cli``
modules, imported the first time a hook runs.

A plugin declares what it provides as functions of its specs module — ``task_specs()``, ``dataset_specs()``,
``sampler_specs()``, ``metric_specs()``, each returning a list of specs (any of them may be absent) — and its verbs
in ``register_cli(app)`` of its cli module. Its hook module is then two lines, and its entry point names the
object::

    # tryon_myplugin/plugin.py
    from tryon.wiring import PluginHooks
    hooks = PluginHooks("tryon_myplugin")

    # pyproject.toml
    [project.entry-points."tryon.plugins"]
    myplugin = "tryon_myplugin.plugin:hooks"

A plugin with other needs writes its own ``@tryon.hookimpl`` functions instead (:mod:`tryon.hookspecs`); the core
treats both alike. Nothing is imported at discovery, so ``tryon --help`` and ``tryon tasks`` stay free of torch as long
as the specs module is (factories as :func:`tryon.lazy` strings).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from .hookspecs import hookimpl

SPEC_FUNCTIONS = {"tasks": "task_specs", "datasets": "dataset_specs", "samplers": "sampler_specs",
                  "metrics": "metric_specs"}


def _registering(kind: str) -> Any:
    """The hook ``tryon_register_<kind>`` as a method: registers what the specs module's ``<kind>`` function returns."""

    def hook(self: PluginHooks, registry: Any) -> None:
        self._register(kind, registry)

    hook.__name__ = hook.__qualname__ = f"tryon_register_{kind}"
    return hookimpl(hook)


class PluginHooks:
    """Hook implementations for the plugin package ``package``: registries are filled from ``<package>.<specs>``, the
    command line from ``<package>.<cli>`` (``cli=None``: the plugin adds no verb)."""

    def __init__(self, package: str, *, specs: str = "specs", cli: str | None = "cli") -> None:
        self.package = package
        self.specs_module = f"{package}.{specs}"
        self.cli_module = None if cli is None else f"{package}.{cli}"

    def __repr__(self) -> str:
        return f"PluginHooks({self.package!r})"

    def _specs(self) -> ModuleType:
        return import_module(self.specs_module)

    def _register(self, kind: str, registry: Any) -> None:
        declare = getattr(self._specs(), SPEC_FUNCTIONS[kind], None)
        for spec in declare() if declare is not None else ():
            registry.register(spec)

    tryon_register_tasks = _registering("tasks")
    tryon_register_datasets = _registering("datasets")
    tryon_register_samplers = _registering("samplers")
    tryon_register_metrics = _registering("metrics")

    @hookimpl
    def tryon_register_cli(self, app: Any) -> None:
        if self.cli_module is not None:
            import_module(self.cli_module).register_cli(app)


__all__ = ["SPEC_FUNCTIONS", "PluginHooks"]
