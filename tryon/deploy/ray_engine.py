"""``tryon batch --engine ray``: the catalogue job on Ray Data (optional extra ``tryon[ray]``; no torch).

The driver (:func:`tryon.deploy.batch.run_job`) plans the job and skips finished pairs exactly as the local engine
does; this module only runs the pending pair rows: ``ray.data.from_items(rows)`` (ids and paths, never
pixels) → ``map_batches(RayPairWorker, ...)`` over an actor pool. Each actor holds one
:class:`tryon.deploy.render.PairRenderer` (its onnxruntime sessions and its person/garment feature cache) and
writes every image itself with :func:`tryon.deploy.render.write_image` — the job's deterministic, atomic writer, not Ray's
file sinks (``write_*`` name files per block/uuid and ``mode="overwrite"`` can lose files, ray-project/ray
#55043; anchors-serving.md §1.2). Pair-level failures come back as rows (``status="failed"``), never as
raised exceptions (a raising UDF would fail its whole block, and a dead actor can hang a pool, §1.4).

Pitfalls handled (anchors-serving.md §1.5): the pool never takes every CPU of the cluster (actors start
before read tasks, so a full pool can hang the dataset, ray-project/ray #44687); onnxruntime threads are set
explicitly (Ray sets ``OMP_NUM_THREADS``, which onnxruntime's own pool ignores); when this module starts a
local Ray, the object store is kept small and only if ``/dev/shm`` can hold it (the rows are a few hundred
bytes each). The ``compute=``/``concurrency=`` API churn (Ray 2.9 → 2.51) is confined to :func:`pool_args`.

On a cluster: ``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others (every
node needs this package, the export folder and the input/output paths at the same location, e.g. a shared
file system), then ``RAY_ADDRESS=HEAD:6379 tryon batch ... --engine ray --workers N`` (or ``--ray-address``).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Sequence

from ..errors import TryonError

log = logging.getLogger(__name__)

#: the Ray versions this engine is tested with (the ``ray`` extra pins the same range)
TESTED_RANGE = ((2, 40), (2, 61))
RESULT_KEYS = ("pair", "person", "garment", "output", "status", "seconds", "error", "error_type", "worker")
_LOCAL_OBJECT_STORE = 128 << 20


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is part of the extra
    except ImportError:
        raise TryonError("--engine ray needs Ray Data: pip install 'tryon[ray]' (ray[data] >=2.40,<2.61)") from None
    return ray


def ray_version(ray: Any) -> tuple[int, int]:
    parts = str(ray.__version__).split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def pool_args(ray: Any, size: int) -> dict[str, Any]:
    """An actor pool of ``size`` for ``map_batches``: ``compute=ActorPoolStrategy(size=)`` from Ray 2.51 (which
    deprecated ``concurrency=``), ``concurrency=size`` before (2.9-2.50 preferred it over ``compute``)."""
    if ray_version(ray) >= (2, 51):
        return {"compute": ray.data.ActorPoolStrategy(size=int(size))}
    return {"concurrency": int(size)}


class RayPairWorker:
    """The ``map_batches`` callable class: one :class:`tryon.deploy.render.PairRenderer` per actor."""

    def __init__(self, renderer: dict[str, Any]):
        from .render import PairRenderer

        self.renderer = PairRenderer(**renderer)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        keys = list(batch)
        rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in zip(keys, values)}
                for values in zip(*(batch[k] for k in keys))]
        results = self.renderer.run(rows)
        return {k: np.asarray([r[k] for r in results]) for k in RESULT_KEYS}


def _local_init_kwargs() -> dict[str, Any]:
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 2 * _LOCAL_OBJECT_STORE:
            kw["object_store_memory"] = _LOCAL_OBJECT_STORE  # else Ray falls back to /tmp by itself (and says so)
    except OSError:
        pass
    return kw


def connect(address: str | None = None) -> tuple[Any, bool]:
    """``(ray, started_here)``: reuse an initialised Ray, else connect to ``address`` / ``RAY_ADDRESS``, else start
    a local one."""
    ray = import_ray()
    lo, hi = TESTED_RANGE
    if not lo <= ray_version(ray) < hi:
        log.warning("Ray %s is outside the tested range %d.%d-%d.%d", ray.__version__, *lo, *hi)
    if ray.is_initialized():
        return ray, False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(**_local_init_kwargs())
    return ray, True


def pool_size(ray: Any, workers: int, cpus_per_worker: float) -> int:
    """``workers`` capped so that the pool leaves at least one CPU of the cluster for Ray Data's other tasks."""
    total = float(ray.cluster_resources().get("CPU", 1.0))
    room = int((total - 1.0) // cpus_per_worker) if total > cpus_per_worker else 1
    size = max(1, min(int(workers), room))
    if size < workers:
        log.warning("ray engine: %d actors of %.3g CPU would take all %.3g CPUs (Ray Data can hang); using %d",
                    workers, cpus_per_worker, total, size)
    return size


def run_ray(rows: Sequence[dict[str, Any]], renderer: dict[str, Any], *, workers: int, chunk: int,
            on_result: Callable[[dict[str, Any]], None], address: str | None = None, cpus_per_worker: float = 1.0) -> dict[str, Any]:
    """Run the pair ``rows`` on Ray Data; ``on_result`` gets every result row as it streams back. Returns what
    ran (Ray version, pool size)."""
    ray, started = connect(address)
    ctx = ray.data.DataContext.get_current()
    old_bars = ctx.enable_progress_bars
    ctx.enable_progress_bars = False  # the job has its own progress bar
    size = pool_size(ray, workers, cpus_per_worker)
    try:
        ds = ray.data.from_items(list(rows))
        ds = ds.map_batches(RayPairWorker, fn_constructor_kwargs={"renderer": renderer}, batch_size=int(chunk),
                            batch_format="numpy", num_cpus=float(cpus_per_worker), **pool_args(ray, size))
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for values in zip(*(batch[k] for k in RESULT_KEYS)):
                on_result({k: (v.item() if hasattr(v, "item") else v) for k, v in zip(RESULT_KEYS, values)})
    except TryonError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. an actor that cannot load the model on some node
        text = str(exc).strip().splitlines()
        raise TryonError(f"ray engine: {type(exc).__name__}: {text[-1] if text else ''}"[:600]) from None
    finally:
        ctx.enable_progress_bars = old_bars
        if started:
            ray.shutdown()
    return {"ray": ray.__version__, "actors": size, "cpus_per_actor": cpus_per_worker}


__all__ = ["run_ray", "RayPairWorker", "pool_args", "pool_size", "connect", "import_ray", "TESTED_RANGE"]
