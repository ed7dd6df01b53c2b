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
from .pipeline import Pipeline, default_device, load_pipeline
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


def load(task_name: str, weights: Any = None, device: Any = None, **config: Any) -> Pipeline:
    """Build the pipeline of ``task_name``.

    ``weights=None`` builds a randomly initialised pipeline (for export and speed work); a weights
    directory (written by ``save_pretrained`` or a training run) loads trained components, with the
    hyper-parameters recorded there (keyword arguments override them) and the run's provenance
    (``pipe.provenance``). ``device=None`` picks CUDA when available. One code path with
    :meth:`Pipeline.from_pretrained`: :func:`tryon.pipeline.load_pipeline`.
    """
    return load_pipeline(task_name, weights, device if device is not None else default_device(), config=config)
