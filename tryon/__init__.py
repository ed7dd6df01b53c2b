"""tryon — virtual try-on and image editing with deep generative models.

Public API::

    import tryon
    tryon.list_tasks()                               # every task of every installed plugin
    pipe = tryon.load("wuton-student", weights="runs/student")   # or weights=None: random init
    out = pipe(person="person.jpg", garment="shirt.jpg")

Plugin authors use :data:`hookimpl`, :class:`Pipeline`, the spec classes (:class:`TaskSpec`,
:class:`ExportSpec`, :class:`DatasetSpec`, :class:`SamplerSpec`, :class:`MetricSpec`); see docs/contracts.md.
Importing ``tryon`` does not import torch; submodules that need it import it themselves.
"""

from __future__ import annotations

from typing import Any

from . import errors, io  # noqa: F401 - imported on purpose so `tryon.errors` / `tryon.io` work after `import tryon`
from ._version import __version__
from .errors import InputError, TryonError
from .hookspecs import hookimpl
from .pipeline import Pipeline
from .imports import lazy
from .registry import DatasetSpec, ExportSpec, MetricSpec, TaskSpec
from .sampling import SampleResult, SampleStats, SamplerSpec

__all__ = [
    "__version__",
    "hookimpl",
    "Pipeline",
    "TaskSpec",
    "ExportSpec",
    "DatasetSpec",
    "MetricSpec",
    "SamplerSpec",
    "SampleResult",
    "SampleStats",
    "lazy",
    "TryonError",
    "InputError",
    "list_tasks",
    "get_task",
    "load",
    "default_device",
]


def list_tasks() -> list[TaskSpec]:
    """All tasks registered by the installed (and allowed) plugins, sorted by name."""
    from .plugins import tasks

    return tasks().specs()


def get_task(name: str) -> TaskSpec:
    from .plugins import tasks

    return tasks().get(name)


def default_device() -> str:
    """``"cuda"`` when a CUDA device is usable, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load(task_name: str, weights: Any = None, device: Any = None, **config: Any) -> Pipeline:
    """Build the pipeline of ``task_name``.

    ``weights=None`` builds a randomly initialised pipeline (for export and speed work); a weights
    directory (written by ``save_pretrained`` or a training run) loads trained components, with the
    hyper-parameters recorded there (keyword arguments override them). ``device=None`` picks CUDA when
    available.
    """
    from .errors import WeightsError

    spec = get_task(task_name)
    overrides = dict(config)
    if weights is not None:
        manifest = Pipeline.read_config(weights)
        recorded = manifest.get("task")
        if recorded and recorded != task_name and not _same_family(spec, recorded, manifest):
            family = f" (weights family {spec.weights_family!r})" if spec.weights_family else ""
            raise WeightsError(f"weights {weights} are for task {recorded!r}, not {task_name!r}{family}")
        config = {**manifest.get("config", {}), **config}
    pipe = spec.factory(**config)
    if not isinstance(pipe, Pipeline):
        raise TryonError(f"task {task_name!r}: factory returned {type(pipe).__name__}, expected a tryon.Pipeline")
    pipe.task = task_name
    if weights is not None:
        try:
            pipe.load_weights(weights)
        except WeightsError:
            changed = _overridden(manifest.get("config", {}), overrides)
            if not changed:
                raise
            said = ", ".join(f"{k}={_show(manifest['config'][k])} (asked: {_show(v)})" for k, v in changed.items())
            raise WeightsError(f"weights {weights} were trained with {said}; these settings must match the weights "
                               "(or be omitted)") from None
    pipe.to(device if device is not None else default_device())
    return pipe.eval()


def _overridden(recorded: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that change a hyper-parameter recorded with the weights (tuples equal lists)."""
    import json

    def norm(v: Any) -> str:
        return json.dumps(v, default=str, sort_keys=True)

    return {k: v for k, v in overrides.items() if k in recorded and norm(recorded[k]) != norm(list(v) if isinstance(v, tuple) else v)}


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return f"{v[0]}x{v[1]}"
    return repr(v)


def _same_family(spec: TaskSpec, recorded_task: str, manifest: dict[str, Any]) -> bool:
    """Whether weights saved by ``recorded_task`` load into ``spec``: both in one non-empty weights family."""
    if not spec.weights_family:
        return False
    recorded_family = manifest.get("weights_family")
    if recorded_family is None:
        from .plugins import tasks

        reg = tasks()
        recorded_family = reg.get(recorded_task).weights_family if recorded_task in reg else ""
    return recorded_family == spec.weights_family
