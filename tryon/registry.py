"""Registries that plugins fill through the hooks in :mod:`tryon.hookspecs`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import DuplicateNameError, PluginError, UnknownNameError
from .imports import lazy  # noqa: F401 - re-exported: tryon.registry.lazy is where plugins first met it


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
    #: optional ``split(pipeline) -> [GraphSpec, ...]``: graphs whose chain computes the same ``outputs``
    #: (``tryon export --split``, the catalogue runtime ``tryon.runtime.CatalogueSession``)
    split: Callable[[Any], Any] | None = None
    #: optional ``conditions(pipeline) -> {name: [value, ...]}``: the values of a named request option the weights
    #: were trained for (a try-on's garment ``category``), recorded in the manifest; runtimes refuse other values
    conditions: Callable[[Any], dict[str, list[str]]] | None = None


@dataclass(frozen=True)
class GraphSpec:
    """One graph of a split export.

    ``build(pipeline)`` returns a ``torch.nn.Module`` whose ``forward`` takes ``inputs`` positionally: names
    of the component's inputs or of earlier graphs' outputs. A graph fed by one component input only is a
    *branch* (its outputs can be cached per input); the last graph must produce the component's ``outputs``.
    """

    name: str
    build: Callable[[Any], Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class TaskSpec:
    """A task a plugin contributes.

    Only ``name``, ``summary`` and ``factory`` are required; ``factory(**config)`` returns a
    :class:`tryon.Pipeline`. ``plugin`` is filled in by the plugin manager when empty. ``inputs`` name the
    keyword arguments of the pipeline call (``tryon run TASK --<input> FILE`` is built from them) and
    ``outputs`` its results. Fields may be added in later versions (always with defaults), never removed or
    renamed.
    """

    name: str
    summary: str
    factory: Callable[..., Any]
    plugin: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    exportable: tuple[ExportSpec, ...] = ()
    tags: tuple[str, ...] = ()
    #: ``bench_inputs(pipeline, batch) -> {input name: tensor}``, a whole-pipeline call
    #: ``pipeline(**inputs)`` for ``tryon bench`` (pre- and post-processing included). Optional.
    bench_inputs: Callable[[Any, int], dict[str, Any]] | None = None
    #: Tasks that run one trained model (e.g. every EdiBERT editing task) share a weights family: a weights
    #: folder saved by any task of the family loads into the others. Empty: the task's weights are its own.
    weights_family: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "plugin": self.plugin,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "exportable": [e.name for e in self.exportable],
            "tags": list(self.tags),
            "weights_family": self.weights_family,
        }


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset reader: ``factory(root, **options)`` returns a map-style dataset (``len`` + indexing).

    ``meta`` holds reader facts a user may want listed (e.g. the folder layout it reads).
    """

    name: str
    summary: str
    factory: Callable[..., Any]
    plugin: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "plugin": self.plugin, **_plain(self.meta)}


@dataclass(frozen=True)
class MetricSpec:
    """An extra metric: ``fn(real, fake, **options) -> dict[str, float]`` over two image collections."""

    name: str
    summary: str
    fn: Callable[..., Any]
    plugin: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "plugin": self.plugin}


@dataclass(frozen=True)
class SamplerSpec:
    """A registered sampler: ``factory(**options) -> Sampler`` serving the task family ``family`` (the protocol
    of the object it returns is :class:`tryon.sampling.Sampler`)."""

    name: str
    family: str
    summary: str
    factory: Callable[..., Any]
    plugin: str = ""
    #: what a call costs, as measured (forwards and seconds, with the results file they come from); "" = not measured
    cost: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "summary": self.summary, "plugin": self.plugin,
                "cost": self.cost}


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in meta.items()}


T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    name: str
    obj: T
    plugin: str
    summary: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name → spec map filled by one hook; refuses duplicates, naming both plugins.

    Every registry has the same one-argument contract: ``registry.register(spec)``, where ``spec`` is the
    registry's spec class (:class:`TaskSpec`, :class:`DatasetSpec`, :class:`SamplerSpec`,
    :class:`MetricSpec`) with at least ``name`` and ``summary``. ``plugin`` is filled in when empty.
    """

    def __init__(self, kind: str, spec_type: type, hook: str):
        self.kind = kind
        self.spec_type = spec_type
        self.hook = hook
        self._entries: dict[str, Entry[T]] = {}
        self._current_plugin = ""

    # The plugin manager sets this while it calls a plugin's hook, so entries know their origin.
    def _set_plugin(self, name: str) -> None:
        self._current_plugin = name

    def check(self, spec: Any) -> None:
        """Validate ``spec`` beyond its type (subclasses add their rules)."""

    def register(self, spec: T) -> None:
        if not isinstance(spec, self.spec_type):
            raise PluginError(
                f"{self.hook}: expected a {self.spec_type.__module__.split('.')[0]}.{self.spec_type.__name__}, "
                f"got {type(spec).__name__} (plugin {self._current_plugin or '<unknown>'!r})"
            )
        name = getattr(spec, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.kind} name must be a non-empty string, got {name!r}")
        self.check(spec)
        if not getattr(spec, "plugin", "x"):
            object.__setattr__(spec, "plugin", self._current_plugin)
        plugin = getattr(spec, "plugin", "") or self._current_plugin
        if name in self._entries:
            other = self._entries[name].plugin or "<unknown>"
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {other!r} and by plugin "
                f"{plugin or '<unknown>'!r}; uninstall one or restrict TRYON_PLUGINS"
            )
        self._entries[name] = Entry(name, spec, plugin, getattr(spec, "summary", ""))

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

    def specs(self) -> list[T]:
        return [e.obj for e in self]


class TaskRegistry(Registry[TaskSpec]):
    """Registry of :class:`TaskSpec` (hook ``tryon_register_tasks``)."""

    def __init__(self) -> None:
        super().__init__("task", TaskSpec, "tryon_register_tasks")

    def check(self, spec: TaskSpec) -> None:
        if not callable(spec.factory):
            raise PluginError(f"task {spec.name!r}: factory is not callable")


class DatasetRegistry(Registry[DatasetSpec]):
    """Registry of :class:`DatasetSpec` (hook ``tryon_register_datasets``)."""

    def __init__(self) -> None:
        super().__init__("dataset", DatasetSpec, "tryon_register_datasets")

    def check(self, spec: DatasetSpec) -> None:
        if not callable(spec.factory):
            raise PluginError(f"dataset {spec.name!r}: factory is not callable")


class MetricRegistry(Registry[MetricSpec]):
    """Registry of :class:`MetricSpec` (hook ``tryon_register_metrics``)."""

    def __init__(self) -> None:
        super().__init__("metric", MetricSpec, "tryon_register_metrics")

    def check(self, spec: MetricSpec) -> None:
        if not callable(spec.fn):
            raise PluginError(f"metric {spec.name!r}: fn is not callable")


class SamplerRegistry(Registry[SamplerSpec]):
    """Registry of :class:`SamplerSpec` (hook ``tryon_register_samplers``)."""

    def __init__(self) -> None:
        super().__init__("sampler", SamplerSpec, "tryon_register_samplers")

    def check(self, spec: SamplerSpec) -> None:
        if not isinstance(spec.family, str) or not spec.family:
            raise PluginError(f"sampler {spec.name!r}: family must be a non-empty string, got {spec.family!r}")
        if not callable(spec.factory):
            raise PluginError(f"sampler {spec.name!r}: factory is not callable")

    def for_family(self, family: str) -> list[SamplerSpec]:
        return [s for s in self.specs() if s.family == family]
