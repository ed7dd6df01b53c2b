"""The :class:`Pipeline` base class every task returns from ``tryon.load``.

Weights layout (``save_pretrained`` / ``from_pretrained``)::

    weights_dir/
      config.json             {"format": "tryon-pipeline", "format_version": 1, "task": ..., "class": ...,
                               "tryon_version": ..., "config": {constructor arguments},
                               "training": {provenance, optional}, "components": [...]}
      <component>.safetensors one file per ``torch.nn.Module`` component

No pickle is involved anywhere; loading checks that every component file exists and fits.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import tempfile
from types import ModuleType
from pathlib import Path
from typing import Any

from .fs import atomic_directory, json_safe, read_format_json
from .imports import import_target
from ._version import __version__
from .errors import TryonError, WeightsError

CONFIG_NAME = "config.json"
FORMAT = "tryon-pipeline"
FORMAT_VERSION = 2  # 2: training provenance beside the config, not inside it


def _json_safe(obj: Any, lenient: bool = False) -> Any:
    """Hyper-parameters must round-trip, so anything that is not JSON raises; provenance (``lenient=True``)
    is a record for people and keeps the text of what it cannot convert."""
    try:
        return json_safe(obj, strict=not lenient)
    except TypeError as exc:
        raise WeightsError(f"config value {exc}") from None


def _weights_family(task: str) -> str:
    from .plugins import tasks

    reg = tasks()
    return reg.get(task).weights_family if task and task in reg else ""


def task_of_class(cls: type) -> str:
    """The registered task whose factory is ``cls`` (directly or as a :func:`tryon.lazy` target), or ``""``."""
    from .plugins import tasks

    target = f"{cls.__module__}:{cls.__qualname__}"
    for spec in tasks().specs():
        if spec.factory is cls or getattr(spec.factory, "target", None) == target:
            return spec.name
    return ""


class Pipeline:
    """Base of every task pipeline.

    Subclasses take their hyper-parameters as keyword arguments of ``__init__`` and keep their
    ``torch.nn.Module`` parts as attributes; those are the *components* saved one per ``.safetensors`` file
    (override :meth:`components` to choose). ``__call__`` does the work.

    The constructor's arguments are recorded once, automatically, in ``self.config`` (every parameter
    with its value or default, as diffusers' ``register_to_config`` does): ``tryon.load`` rebuilds the
    pipeline from them, so they must be JSON-serialisable. What a training run wants to remember (data,
    steps, losses) goes in ``self.provenance``, saved beside the config (``"training"`` in config.json)
    and never passed back to the constructor. The task name comes from the registry (``TaskSpec.name``):
    ``tryon.load`` sets ``self.task``; :meth:`save_pretrained` looks it up when it is not set.
    """

    task: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_config", False):
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: "Pipeline", *args: Any, **kw: Any) -> None:
            if getattr(self, "_recording", False):  # a subclass's __init__ already recorded the call
                init(self, *args, **kw)
                return
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            config: dict[str, Any] = {}
            for name, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        raise TypeError(f"{cls.__name__}: pipelines take keyword hyper-parameters, not *{name}")
                else:
                    config[name] = value
            self.config = config
            self._recording = True
            try:
                init(self, *args, **kw)
            finally:
                self._recording = False

        recording_init._records_config = True  # type: ignore[attr-defined]
        cls.__init__ = recording_init  # type: ignore[method-assign]

    def __init__(self) -> None:
        if not hasattr(self, "config"):
            self.config: dict[str, Any] = {}
        self.provenance: dict[str, Any] = {}
        self.device = "cpu"

    # -- components ------------------------------------------------------------------------------
    def components(self) -> dict[str, Any]:
        import torch

        return {k: v for k, v in vars(self).items() if isinstance(v, torch.nn.Module)}

    def to(self, device: Any) -> "Pipeline":
        import torch

        dev = torch.device(device) if device is not None else torch.device("cpu")
        for m in self.components().values():
            m.to(dev)
        self.device = str(dev)
        return self

    def eval(self) -> "Pipeline":
        for m in self.components().values():
            m.eval()
        return self

    def train(self, mode: bool = True) -> "Pipeline":
        for m in self.components().values():
            m.train(mode)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    # -- weights ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, *, keep_other_files: bool = False) -> Path:
        """Write ``config.json`` + one ``<component>.safetensors`` per component, atomically.

        The directory is assembled in a temporary sibling and renamed into place, so a crash never
        leaves a half-written weights directory behind. With ``keep_other_files=True`` (a training run's
        folder, which also holds checkpoints and logs) the files are assembled in a temporary folder inside
        ``directory`` and moved in one by one with atomic renames, ``config.json`` last, so the folder is a
        loadable weights folder exactly when its config is present.
        """
        directory = Path(directory)
        if keep_other_files:
            directory.mkdir(parents=True, exist_ok=True)
            tmp_parent = Path(tempfile.mkdtemp(prefix=".pipeline-", dir=directory))
            try:
                saved = self.save_pretrained(tmp_parent / "weights")
                for f in sorted(saved.iterdir(), key=lambda p: p.name == CONFIG_NAME):
                    os.replace(f, directory / f.name)
            finally:
                shutil.rmtree(tmp_parent, ignore_errors=True)
            return directory
        from safetensors.torch import save_file

        with atomic_directory(directory) as tmp:
            comps = self.components()
            task = self.task or task_of_class(type(self))
            for name, module in comps.items():
                state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
                save_file(state, str(tmp / f"{name}.safetensors"), metadata={"component": name, "tryon": __version__})
            cls = type(self)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "task": task,
                "weights_family": _weights_family(task),
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "tryon_version": __version__,
                "config": _json_safe(self.config),
                "components": sorted(comps),
            }
            if getattr(self, "provenance", None):
                manifest["training"] = _json_safe(self.provenance, lenient=True)
            (tmp / CONFIG_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return directory

    @staticmethod
    def read_config(directory: str | os.PathLike) -> dict[str, Any]:
        manifest = read_format_json(directory, CONFIG_NAME, FORMAT, error=WeightsError, what="weights directory")
        config = manifest.get("config", {})
        if int(manifest.get("format_version", 1)) < 2 and isinstance(config, dict) and "training" in config:
            # format 1 kept provenance among the constructor's arguments; it is not a hyper-parameter
            manifest.setdefault("training", config.pop("training"))
        return manifest

    def load_weights(self, directory: str | os.PathLike, strict: bool = True) -> "Pipeline":
        """Load ``<component>.safetensors`` files from ``directory`` into this pipeline's components."""
        from safetensors.torch import load_file

        directory = Path(directory)
        for name, module in self.components().items():
            path = directory / f"{name}.safetensors"
            if not path.is_file():
                raise WeightsError(f"weights directory {directory}: expected {path.name} for component {name!r}, found none")
            try:
                state = load_file(str(path))
            except Exception as exc:  # noqa: BLE001 - safetensors raises several types
                raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
            missing, unexpected = _compare_state(module.state_dict(), state)
            if strict and (missing or unexpected):
                raise WeightsError(
                    f"{path}: does not fit component {name!r}: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
                    f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}"
                )
            try:
                module.load_state_dict(state, strict=strict)
            except RuntimeError as exc:
                raise WeightsError(f"{path}: does not fit component {name!r}: {str(exc).splitlines()[0]}") from None
        return self

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: Any = None, **overrides: Any) -> "Pipeline":
        """Build the pipeline recorded in ``directory/config.json`` and load its weights (provenance kept).

        Called on a subclass, that class is built; called on :class:`Pipeline` itself, the class is imported
        from the manifest — only classes of installed ``tryon`` plugins or the core can be named there (when
        it cannot be imported, e.g. it moved, the recorded task's factory is used). ``device=None`` leaves
        the pipeline on the CPU. The same code path as ``tryon.load`` (:func:`load_pipeline`), which is
        preferred: it goes through the plugin registry.
        """
        return load_pipeline(weights=directory, device=device, cls=None if cls is Pipeline else cls, config=overrides)


def default_device() -> str:
    """``"cuda"`` when a CUDA device is usable, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(task: str | None = None, weights: str | os.PathLike | None = None, device: Any = None, *,
                  cls: type[Pipeline] | None = None, config: dict[str, Any] | None = None) -> Pipeline:
    """The one loader behind ``tryon.load`` and :meth:`Pipeline.from_pretrained`.

    * ``task`` given (``tryon.load``): the pipeline is built by the registered task's factory; weights saved by
      another task load only when both tasks share a non-empty weights family.
    * no ``task`` (``from_pretrained``): built by ``cls``, else by the class recorded in the manifest.

    With ``weights`` (a folder written by :meth:`Pipeline.save_pretrained` or a training run) the recorded
    hyper-parameters are the constructor's arguments (``config``, a dict, overrides them; an override that does not fit
    the weights is named in the error), the components are loaded, and ``pipe.task`` / ``pipe.provenance``
    come from the manifest. Without weights the pipeline is randomly initialised with ``config``.
    ``device=None`` leaves the pipeline where its constructor put it (``tryon.load`` passes its default).
    """
    if task is None and weights is None:
        raise WeightsError("load_pipeline: give a task, a weights directory, or both")
    manifest = Pipeline.read_config(weights) if weights is not None else {}
    if task:
        from .plugins import tasks

        spec = tasks().get(task)
        recorded = manifest.get("task")
        if weights is not None and recorded and recorded != task and not _same_family(spec, recorded, manifest):
            family = f" (weights family {spec.weights_family!r})" if spec.weights_family else ""
            raise WeightsError(f"weights {weights} are for task {recorded!r}, not {task!r}{family}")
        factory: Any = spec.factory
    else:
        factory = cls if cls is not None else _recorded_factory(manifest, weights)
    overrides = dict(config or {})
    pipe = factory(**{**manifest.get("config", {}), **overrides})
    if not isinstance(pipe, Pipeline):
        what = f"task {task!r}" if task else f"{weights}/{CONFIG_NAME}"
        raise TryonError(f"{what}: factory returned {type(pipe).__name__}, expected a tryon.Pipeline")
    pipe.task = task or manifest.get("task") or pipe.task
    if weights is not None:
        pipe.provenance = dict(manifest.get("training", {}))
        try:
            pipe.load_weights(weights)
        except WeightsError:
            changed = _overridden(manifest.get("config", {}), overrides)
            if not changed:
                raise
            said = ", ".join(f"{k}={_show(manifest['config'][k])} (asked: {_show(v)})" for k, v in changed.items())
            raise WeightsError(f"weights {weights} were trained with {said}; these settings must match the weights "
                               "(or be omitted)") from None
    if device is not None:
        pipe.to(device)
    return pipe.eval()


def _recorded_factory(manifest: dict[str, Any], directory: Any) -> Any:
    """The class named in the manifest; when it cannot be imported, the factory of the recorded task."""
    try:
        return _import_class(manifest.get("class", ""), directory)
    except _ClassNotFound as exc:
        from .plugins import tasks

        reg, task = tasks(), manifest.get("task", "")
        if task and task in reg:
            return reg.get(task).factory
        raise WeightsError(str(exc)) from None


def _overridden(recorded: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that change a hyper-parameter recorded with the weights (tuples equal lists)."""

    def norm(v: Any) -> str:
        return json.dumps(v, default=str, sort_keys=True)

    return {k: v for k, v in overrides.items() if k in recorded and norm(recorded[k]) != norm(list(v) if isinstance(v, tuple) else v)}


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return f"{v[0]}x{v[1]}"
    return repr(v)


def _same_family(spec: Any, recorded_task: str, manifest: dict[str, Any]) -> bool:
    """Whether weights saved by ``recorded_task`` load into ``spec``: both in one non-empty weights family."""
    if not spec.weights_family:
        return False
    recorded_family = manifest.get("weights_family")
    if recorded_family is None:
        recorded_family = _weights_family(recorded_task)
    return recorded_family == spec.weights_family


def _compare_state(expected: dict[str, Any], got: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    return missing, unexpected


class _ClassNotFound(WeightsError):
    """The manifest's class is allowed but cannot be imported (it moved, or its plugin is not installed)."""


def _import_class(spec: str, directory: Any) -> type:
    module_name, _, qual = spec.partition(":")
    if not module_name or not qual:
        raise WeightsError(f"{directory}/{CONFIG_NAME}: 'class' must be 'module:Class', got {spec!r}")
    from .plugins import get_manager

    allowed = {module_name.split(".")[0] == "tryon"} | {
        module_name == n or module_name.startswith(n + ".") for n in _plugin_modules(get_manager())
    }
    if True not in allowed:
        raise WeightsError(f"{directory}/{CONFIG_NAME}: class {spec!r} is not from tryon or an installed tryon plugin")
    try:
        obj = import_target(spec)
    except (ImportError, AttributeError) as exc:
        raise _ClassNotFound(f"{directory}/{CONFIG_NAME}: cannot import {spec!r} ({exc})") from None
    if not (isinstance(obj, type) and issubclass(obj, Pipeline)):
        raise WeightsError(f"{directory}/{CONFIG_NAME}: {spec!r} is not a tryon.Pipeline subclass")
    return obj


def _plugin_modules(manager: Any) -> list[str]:
    """The top-level packages of the registered plugins: a module plugin's own, a :class:`tryon.wiring.PluginHooks`'s
    ``package``, another object's class's module."""
    names = []
    for _, plugin in manager.pm.list_name_plugin():
        if isinstance(plugin, ModuleType):
            mod = plugin.__name__
        else:
            mod = getattr(plugin, "package", None) or type(plugin).__module__
        if isinstance(mod, str) and mod:
            names.append(mod.split(".")[0])
    return names


__all__ = ["Pipeline", "load_pipeline", "default_device", "task_of_class", "CONFIG_NAME"]
