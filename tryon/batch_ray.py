"""``tryon batch --engine ray``: the catalogue job on Ray Data (optional extra ``tryon[ray]``; no torch).

Moved to tryon.deploy.ray_engine; this face keeps user code working.
"""

from __future__ import annotations

from .deploy.ray_engine import (
    RESULT_KEYS,
    TESTED_RANGE,
    RayPairWorker,
    connect,
    import_ray,
    pool_args,
    pool_size,
    ray_version,
    run_ray,
)

__all__ = ["run_ray", "RayPairWorker", "pool_args", "pool_size", "connect", "import_ray", "ray_version", "TESTED_RANGE",
           "RESULT_KEYS"]
