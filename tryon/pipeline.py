"""The :class:`Pipeline` base class every task returns from ``tryon.load``.

Weights layout (``save_pretrained`` / ``from_pretrained``)::

    weights_dir/
      config.json             {"format": "tryon-pipeline", "format_version": 1, "task": ..., "class": ...,
                               "tryon_version": ..., "config": {hyper-parameters}, "components": [...]}
      <component>.safetensors one file per ``torch.nn.Module`` component

No pickle is involved anywhere; loading checks that every component file exists and fits.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from ._fs import atomic_directory
from ._version import __version__
from .errors import WeightsError

CONFIG_NAME = "config.json"
FORMAT = "tryon-pipeline"
FORMAT_VERSION = 1


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return str(obj)
    raise WeightsError(f"config value {obj!r} ({type(obj).__name__}) is not JSON-serialisable")


class Pipeline:
    """Base of every task pipeline.

    Subclasses take their hyper-parameters as keyword arguments, call ``super().__init__(**config)``
    and keep their ``torch.nn.Module`` parts as attributes; those are the *components* saved one per
    ``.safetensors`` file (override :meth:`components` to choose). ``__call__`` does the work.
    """

    task: str = ""

    def __init__(self, **config: Any):
        self.config: dict[str, Any] = dict(config)
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
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` + one ``<component>.safetensors`` per component, atomically.

        The directory is assembled in a temporary sibling and renamed into place, so a crash never
        leaves a half-written weights directory behind.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        with atomic_directory(directory) as tmp:
            comps = self.components()
            for name, module in comps.items():
                state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
                save_file(state, str(tmp / f"{name}.safetensors"), metadata={"component": name, "tryon": __version__})
            cls = type(self)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "task": self.task,
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "tryon_version": __version__,
                "config": _json_safe(self.config),
                "components": sorted(comps),
            }
            (tmp / CONFIG_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return directory

    @staticmethod
    def read_config(directory: str | os.PathLike) -> dict[str, Any]:
        directory = Path(directory)
        path = directory / CONFIG_NAME
        if not directory.is_dir():
            raise WeightsError(f"weights directory {directory}: no such directory")
        if not path.is_file():
            raise WeightsError(f"weights directory {directory}: expected {CONFIG_NAME}, found none")
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{path}: not valid JSON ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise WeightsError(f"{path}: expected format {FORMAT!r}, got {manifest.get('format')!r}")
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
        """Build the pipeline recorded in ``directory/config.json`` and load its weights.

        Called on :class:`Pipeline` itself, the class is imported from the manifest — only classes of
        installed ``tryon`` plugins or the core can be named there (``tryon.load`` is preferred: it
        goes through the plugin registry).
        """
        manifest = cls.read_config(directory)
        target = cls
        if cls is Pipeline:
            target = _import_class(manifest.get("class", ""), directory)
        config = {**manifest.get("config", {}), **overrides}
        pipe = target(**config)
        pipe.task = manifest.get("task", pipe.task)
        pipe.load_weights(directory)
        if device is not None:
            pipe.to(device)
        return pipe.eval()


def _compare_state(expected: dict[str, Any], got: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    return missing, unexpected


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
        obj: Any = importlib.import_module(module_name)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise WeightsError(f"{directory}/{CONFIG_NAME}: cannot import {spec!r} ({exc})") from None
    if not (isinstance(obj, type) and issubclass(obj, Pipeline)):
        raise WeightsError(f"{directory}/{CONFIG_NAME}: {spec!r} is not a tryon.Pipeline subclass")
    return obj


def _plugin_modules(manager: Any) -> list[str]:
    names = []
    for _, plugin in manager.pm.list_name_plugin():
        mod = getattr(plugin, "__name__", None)
        if mod:
            names.append(mod.split(".")[0])
    return names
