"""Timing: warm-up then timed runs, each synchronised; percentiles, throughput, peak memory."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Sequence

import numpy as np



def time_fn(fn: Callable[[], Any], warmup: int, iters: int, sync: Callable[[], None] | None = None) -> list[float]:
    """``warmup`` untimed calls, then ``iters`` timed calls (ms), each followed by ``sync``."""
    for _ in range(max(0, warmup)):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int, calls: int = 1, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each case, timed in alternating rounds (``calls`` timed calls of each case per round, after
    ``warmup`` untimed ones each) so that the machine's drift hits every case alike: ``{case: rounds × calls times}``."""
    for fn in cases.values():
        for _ in range(max(0, warmup)):
            fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(rounds):
        for k, fn in cases.items():
            for _ in range(max(1, calls)):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return times


def summarise(times_ms: Sequence[float], batch: int) -> dict[str, float]:
    t = np.asarray(times_ms, dtype=np.float64)
    p50, p95, p99 = (float(v) for v in np.percentile(t, [50, 95, 99]))
    mean = float(t.mean())
    return {
        "p50_ms": round(p50, 4), "p95_ms": round(p95, 4), "p99_ms": round(p99, 4), "mean_ms": round(mean, 4),
        "min_ms": round(float(t.min()), 4), "fps": round(batch * 1000.0 / mean, 4),
    }


def rss_mb() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux



__all__ = ["interleaved", "rss_mb", "summarise", "time_fn"]
