"""Registries that plugins fill through the hooks in :mod:`tryon.hookspecs`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import DuplicateNameError, PluginError, UnknownNameError


@dataclass(frozen=True)
class ExportSpec:
    """How one component of a task exports to ONNX.

    ``build(pipeline)`` returns the ``torch.nn.Module`` to export (its ``forward`` takes the inputs
    positionally, in the order of ``example_inputs``); ``example_inputs(pipeline, batch)`` returns an
    ordered ``{input name: tensor}`` dict at the pipeline's resolution; ``outputs`` names the outputs
    (the first one is the main image output). ``min_opset`` is 16 for anything using ``grid_sample``.
    ``normalisation`` is copied into the export manifest so runtimes can pre/post-process.
    """

    name: str
    build: Callable[[Any], Any]
    example_inputs: Callable[[Any, int], dict[str, Any]]
    outputs: tuple[str, ...]
    min_opset: int = 16
    normalisation: dict[str, Any] = field(
        default_factory=lambda: {"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0]}
    )


@dataclass(frozen=True)
class TaskSpec:
    """A task a plugin contributes.

    Only ``name``, ``summary`` and ``factory`` are required; ``factory(**config)`` returns a
    :class:`tryon.Pipeline`. ``plugin`` is filled in by the plugin manager when empty.
    Fields may be added in later versions (always with defaults), never removed or renamed.
    """

    name: str
    summary: str
    factory: Callable[..., Any]
    plugin: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    exportable: tuple[ExportSpec, ...] = ()
    tags: tuple[str, ...] = ()
    #: ``example_inputs(pipeline, batch) -> {kwarg: tensor}`` for ``pipeline(**inputs)``: used by
    #: ``tryon bench`` to time the whole pipeline (pre-processing included). Optional.
    example_inputs: Callable[[Any, int], dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "plugin": self.plugin,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "exportable": [e.name for e in self.exportable],
            "tags": list(self.tags),
        }


T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    name: str
    obj: T
    plugin: str
    summary: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name → object map that refuses duplicates, naming both plugins."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._current_plugin = ""

    # The plugin manager sets this while it calls a plugin's hook, so entries know their origin.
    def _set_plugin(self, name: str) -> None:
        self._current_plugin = name

    def register(self, name: str, obj: T, *, summary: str = "", **meta: Any) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.kind} name must be a non-empty string, got {name!r}")
        plugin = meta.pop("plugin", "") or self._current_plugin
        if name in self._entries:
            other = self._entries[name].plugin or "<unknown>"
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {other!r} and by plugin "
                f"{plugin or '<unknown>'!r}; uninstall one or restrict TRYON_PLUGINS"
            )
        self._entries[name] = Entry(name, obj, plugin, summary, meta)

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)


class TaskRegistry(Registry[TaskSpec]):
    """Registry of :class:`TaskSpec`; ``register`` takes the spec itself."""

    def __init__(self) -> None:
        super().__init__("task")

    def register(self, spec: TaskSpec, obj: Any = None, **_: Any) -> None:  # type: ignore[override]
        if not isinstance(spec, TaskSpec):
            raise PluginError(
                f"tryon_register_tasks: expected a tryon.TaskSpec, got {type(spec).__name__} "
                f"(plugin {self._current_plugin or '<unknown>'!r})"
            )
        if not callable(spec.factory):
            raise PluginError(f"task {spec.name!r}: factory is not callable")
        if not spec.plugin:
            object.__setattr__(spec, "plugin", self._current_plugin)
        super().register(spec.name, spec, summary=spec.summary, plugin=spec.plugin)

    def specs(self) -> list[TaskSpec]:
        return [e.obj for e in self]


def lazy(target: str) -> Callable[..., Any]:
    """A callable standing for ``"package.module:attribute"``, imported on first call.

    Plugins use it for ``TaskSpec.factory`` and ``ExportSpec`` callables so that registering tasks
    (``tryon tasks``) never imports torch or model code.
    """
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise PluginError(f"lazy target must be 'module:attribute', got {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        import importlib

        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"lazy({target})"
    call.target = target  # type: ignore[attr-defined]
    return call
