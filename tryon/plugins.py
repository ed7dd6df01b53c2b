"""Plugin discovery and the registries plugins fill.

One :class:`pluggy.PluginManager` per process (see :func:`get_manager`). Plugins come from the
entry-point group ``tryon.plugins``; environment variables steer discovery:

``TRYON_PLUGINS=a,b``                only load the entry points (or distributions) named here
``TRYON_DISABLE_PLUGIN_AUTOLOAD=1``  load no entry point at all (explicit ``register`` only)
``TRYON_PLUGIN_TRACE=1``             print every hook call (pluggy tracing) to stderr

A plugin that fails to import or whose hooks raise is reported (entry-point name, distribution, the
error's first line) and skipped: the others still load.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .registry import DatasetRegistry, MetricRegistry, Registry, SamplerRegistry, TaskRegistry

log = logging.getLogger("tryon.plugins")

ENTRY_POINT_GROUP = "tryon.plugins"
REGISTRY_KINDS = ("tasks", "datasets", "samplers", "metrics")


def _new_registry(kind: str) -> Registry[Any]:
    return {"tasks": TaskRegistry, "datasets": DatasetRegistry, "samplers": SamplerRegistry, "metrics": MetricRegistry}[kind]()


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} (distribution {self.distribution}) skipped: {self.error}"


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


class PluginManager:
    """Wraps pluggy's manager: loads entry points, fills registries lazily, records failures."""

    def __init__(self, autoload: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.distributions: dict[str, str] = {}
        self._registries: dict[str, Registry[Any]] = {}
        self._lock = threading.RLock()
        self.tracing = bool(os.environ.get("TRYON_PLUGIN_TRACE"))
        if self.tracing:
            self.pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
            self.pm.enable_tracing()
        if autoload and not os.environ.get("TRYON_DISABLE_PLUGIN_AUTOLOAD"):
            self.load_entry_points()

    # -- loading -----------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        allow = _env_list("TRYON_PLUGINS")
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
        seen: set[str] = set()
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            if allow is not None and ep.name not in allow and dist not in allow:
                continue
            if ep.name in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(ep.name)
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
                self._fail(ep.name, dist, exc)
                continue
            self.register(module, name=ep.name, distribution=f"{dist} {ep.dist.version if ep.dist else ''}".strip())

    def register(self, plugin: ModuleType | object, name: str | None = None, distribution: str = "(in-process)") -> bool:
        """Register a plugin object explicitly (tests, notebooks, applications embedding tryon)."""
        with self._lock:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            try:
                self.pm.register(plugin, name=name)
                self.pm.check_pending()
            except Exception as exc:  # noqa: BLE001
                if self.pm.get_plugin(name) is not None:
                    self.pm.unregister(name=name)
                self._fail(name, distribution, exc)
                return False
            self.distributions[name] = distribution
            self._registries.clear()  # rebuilt lazily with the new plugin
            return True

    def _fail(self, name: str, dist: str, exc: BaseException | str) -> None:
        failure = PluginFailure(name, dist, exc if isinstance(exc, str) else _first_line(exc))
        self.failures.append(failure)
        log.warning("%s", failure)

    # -- registries ----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry[Any]:
        with self._lock:
            if kind not in self._registries:
                self._registries[kind] = self._build(kind)
            return self._registries[kind]

    def _build(self, kind: str) -> Registry[Any]:
        if kind not in REGISTRY_KINDS:
            raise KeyError(f"unknown registry {kind!r}; known: {', '.join(REGISTRY_KINDS)}")
        reg = _new_registry(kind)
        self.call_each(reg.hook, registry=reg)
        return reg

    def record_failure(self, plugin: str, error: str) -> None:
        """Record a failure attributed to ``plugin`` (e.g. one CLI verb that could not be registered)."""
        self._fail(plugin, self.distributions.get(plugin, "?"), error)

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call one hook plugin by plugin, so that errors and registrations are attributed.

        Errors of the :class:`tryon.errors.DuplicateNameError` kind propagate (they name both
        plugins and need the user's decision); any other exception in a plugin's hook is reported
        and that plugin's hook is skipped.
        """
        from .errors import DuplicateNameError

        hook = getattr(self.pm.hook, hook_name)
        target = next(iter(kwargs.values()), None)
        impls = list(reversed(hook.get_hookimpls()))  # registration order
        names = [impl.plugin_name for impl in impls]
        for impl in impls:
            if hasattr(target, "_set_plugin"):
                target._set_plugin(impl.plugin_name)
            if self.tracing:
                self.pm.trace.root.get("tryon")(f"{hook_name} -> plugin {impl.plugin_name!r}")
            # Call through pluggy (a caller restricted to this one plugin) so TRYON_PLUGIN_TRACE shows it.
            others = [self.pm.get_plugin(n) for n in names if n != impl.plugin_name]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=[o for o in others if o is not None])
            try:
                caller(**kwargs)
            except DuplicateNameError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._fail(impl.plugin_name, self.distributions.get(impl.plugin_name, "?"), exc)
            finally:
                if hasattr(target, "_set_plugin"):
                    target._set_plugin("")

    def plugin_names(self) -> list[str]:
        return sorted(n for n, _ in self.pm.list_name_plugin())


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> PluginManager:
    """The process-wide plugin manager (created on first use)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = PluginManager()
        return _manager


def reset_manager(autoload: bool = True) -> PluginManager:
    """Drop the process-wide manager and build a new one (re-reads entry points and env)."""
    global _manager
    with _manager_lock:
        _manager = PluginManager(autoload=autoload)
        return _manager


def tasks() -> TaskRegistry:
    return get_manager().registry("tasks")  # type: ignore[return-value]


def datasets() -> Registry[Any]:
    return get_manager().registry("datasets")


def samplers() -> Registry[Any]:
    return get_manager().registry("samplers")


def metrics() -> Registry[Any]:
    return get_manager().registry("metrics")
