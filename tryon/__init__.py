"""tryon — virtual try-on and image editing with deep generative models.

Public API::

    import tryon
    tryon.list_tasks()                               # every task of every installed plugin
    pipe = tryon.load("wuton-student", weights="runs/student")   # or weights=None: random init
    out = pipe(person="person.jpg", garment="shirt.jpg")

Plugin authors use :data:`hookimpl`, :class:`Pipeline` and :class:`TaskSpec` (see README).
Importing ``tryon`` does not import torch; submodules that need it import it themselves.
"""

from __future__ import annotations

from typing import Any

from . import errors, io
from ._version import __version__
from .errors import InputError, TryonError
from .hookspecs import hookimpl
from .pipeline import Pipeline
from .registry import ExportSpec, TaskSpec, lazy

__all__ = [
    "__version__",
    "hookimpl",
    "Pipeline",
    "TaskSpec",
    "ExportSpec",
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
    if weights is not None:
        manifest = Pipeline.read_config(weights)
        recorded = manifest.get("task")
        if recorded and recorded != task_name:
            raise WeightsError(f"weights {weights} are for task {recorded!r}, not {task_name!r}")
        config = {**manifest.get("config", {}), **config}
    pipe = spec.factory(**config)
    if not isinstance(pipe, Pipeline):
        raise TryonError(f"task {task_name!r}: factory returned {type(pipe).__name__}, expected a tryon.Pipeline")
    pipe.task = task_name
    if weights is not None:
        pipe.load_weights(weights)
    pipe.to(device if device is not None else default_device())
    return pipe.eval()
