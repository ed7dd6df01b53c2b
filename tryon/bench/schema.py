"""The ``bench.json`` schema and its validator."""

from __future__ import annotations

from typing import Any


from ..errors import TryonError

SCHEMA_VERSION = 1
#: Every backend a row may name (what `tryon bench --backends` accepts).
BACKENDS = ("torch", "torch-pipeline", "ort-cpu", "ort-cuda", "ort-trt", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8")
#: ISA flags that decide which CPU kernels run (recorded with every benchmark)
RESULT_KEYS = {
    "task": str, "component": str, "backend": str, "batch": int, "size": list, "p50_ms": float, "p95_ms": float,
    "p99_ms": float, "mean_ms": float, "fps": float, "peak_mem_mb": (float, type(None)), "providers": list,
}



def validate_bench_json(obj: Any) -> bool:
    """Check a ``bench.json`` object against schema version 1; raises :class:`TryonError` naming the field."""

    def fail(where: str, msg: str) -> None:
        raise TryonError(f"bench.json: {where}: {msg}")

    if not isinstance(obj, dict):
        fail("top level", f"expected an object, got {type(obj).__name__}")
    if obj.get("schema_version") != SCHEMA_VERSION:
        fail("schema_version", f"expected {SCHEMA_VERSION}, got {obj.get('schema_version')!r}")
    env = obj.get("environment")
    if not isinstance(env, dict):
        fail("environment", "missing or not an object")
    for k in ("machine", "versions", "threads", "date"):
        if k not in env:
            fail("environment", f"missing {k!r}")
    for k in ("cpu", "logical_cores", "physical_cores", "ram_gb", "gpu"):
        if k not in env["machine"]:
            fail("environment.machine", f"missing {k!r}")
    for k in ("torch", "ort_intra_op"):
        if not isinstance(env["threads"].get(k), int):
            fail("environment.threads", f"{k!r} must be an integer")
    results = obj.get("results")
    if not isinstance(results, list):
        fail("results", "missing or not a list")
    for i, r in enumerate(results):
        where = f"results[{i}]"
        if not isinstance(r, dict):
            fail(where, "not an object")
        for k, typ in RESULT_KEYS.items():
            if k not in r:
                fail(where, f"missing {k!r}")
            v = r[k]
            if typ is float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if not isinstance(v, typ):
                fail(f"{where}.{k}", f"expected {typ}, got {type(r[k]).__name__}")
        if r["backend"] not in BACKENDS:
            fail(f"{where}.backend", f"unknown backend {r['backend']!r}")
        if r["batch"] < 1:
            fail(f"{where}.batch", "must be >= 1")
        if len(r["size"]) != 2 or not all(isinstance(v, int) and v > 0 for v in r["size"]):
            fail(f"{where}.size", f"expected [H, W] positive integers, got {r['size']}")
        if not (0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]):
            fail(where, f"percentiles must satisfy 0 < p50 <= p95 <= p99, got {r['p50_ms']}, {r['p95_ms']}, {r['p99_ms']}")
        if r["fps"] <= 0 or r["mean_ms"] <= 0:
            fail(where, "fps and mean_ms must be positive")
        expected = r["batch"] * 1000.0 / r["mean_ms"]
        if abs(r["fps"] - expected) > 1e-3 * expected + 1e-3:
            fail(f"{where}.fps", f"expected batch * 1000 / mean_ms = {expected:.4f}, got {r['fps']}")
        if not all(isinstance(p, str) for p in r["providers"]) or not r["providers"]:
            fail(f"{where}.providers", "expected a non-empty list of strings")
    ratios = obj.get("ratios")
    if not isinstance(ratios, dict):
        fail("ratios", "missing or not an object")
    for group, rows in ratios.items():
        if not isinstance(rows, list) or not all(isinstance(x, dict) and x.get("speedup", 0) > 0 for x in rows):
            fail(f"ratios.{group}", "expected a list of objects with a positive 'speedup'")
    if not isinstance(obj.get("skipped", []), list):
        fail("skipped", "not a list")
    return True



__all__ = ["BACKENDS", "RESULT_KEYS", "SCHEMA_VERSION", "validate_bench_json"]
