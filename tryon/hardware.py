"""What this machine is: CPU model, ISA flags, the features they give, physical cores, RAM (torch-free, no psutil).

Every benchmark records these next to its numbers (speed targets are ratios measured in one run, and the
machine changes from day to day: Intel with AVX-512/AMX, AMD without AMX). Read from Linux
``/proc/cpuinfo``; elsewhere the values fall back to :mod:`platform` / :func:`os.cpu_count` and an empty
flag set. ``py-cpuinfo`` would add a dependency (and a subprocess per call) for these four facts.

**Features and the ISA cap.** :func:`has` answers what a test or a benchmark needs to know ("does this CPU do
bf16 natively?") and :func:`missing` says why not, in one line a skip can show. A run can be *held* to a lower
ISA — ``make test-isa`` holds torch and oneDNN to AVX2 kernels on any CPU, to prove the suite passes on the
AVX2-only machines users have — through ``TRYON_MAX_ISA`` (or, when that is unset, oneDNN's own
``ONEDNN_MAX_CPU_ISA``): then the features above the cap count as absent, so what needs them skips, exactly
as on a real AVX2 machine. ``docs/portability.md`` says which libraries honour the cap.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

#: The ISA flags that decide CPU kernel choice for inference and training (int8 VNNI, bf16, AMX).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's marketing name (``model name``), else what :mod:`platform` knows."""
    for line in _cpuinfo().splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """Every ISA flag of the first CPU (empty set where ``/proc/cpuinfo`` does not exist)."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def isa_flags() -> list[str]:
    """The flags of :data:`ISA_FLAGS` this CPU has, in that order."""
    flags = cpu_flags()
    return [f for f in ISA_FLAGS if f in flags]


#: ISA caps (oneDNN's ``ONEDNN_MAX_CPU_ISA`` names, lower case) and the CPU flags each one still allows
#: beyond the baseline (SSE/AVX): a cap removes every flag of :data:`ISA_FLAGS` it does not list.
ISA_CAPS: dict[str, tuple[str, ...]] = {
    "sse41": (),
    "avx": (),
    "avx2": ("avx2", "fma"),
    "avx2_vnni": ("avx2", "fma", "avx_vnni"),
    "avx2_vnni_2": ("avx2", "fma", "avx_vnni"),
    "avx512_core": ("avx2", "fma", "avx512f", "avx512bw"),
    "avx512_core_vnni": ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni"),
    "avx512_core_bf16": ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16"),
    "avx512_core_fp16": ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16"),
    "avx10_1_512": ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16"),
}

#: What each feature needs: any one of these flags (after the cap). ``avx512`` is the wide-vector fp32 path,
#: ``vnni`` the int8 dot-product instructions (u8×s8 ``vpdpbusd``) that make int8 faster than fp32, ``bf16``
#: native bf16 arithmetic (elsewhere bf16 is emulated and slower than fp32), ``amx`` the tile units.
FEATURES: dict[str, tuple[str, ...]] = {
    "avx2": ("avx2",),
    "fma": ("fma",),
    "avx512": ("avx512f",),
    "vnni": ("avx512_vnni", "avx_vnni", "amx_int8"),
    "bf16": ("avx512_bf16", "amx_bf16"),
    "fp16": ("avx512_fp16",),
    "amx": ("amx_tile",),
}


def isa_cap() -> tuple[str | None, str | None]:
    """``(cap, variable)``: the ISA this process is held to and the environment variable that says so
    (``TRYON_MAX_ISA`` first, then ``ONEDNN_MAX_CPU_ISA``), or ``(None, None)`` when nothing holds it.
    ``ALL`` (oneDNN's default) means no cap. An unknown name is an error, not a silent no-op."""
    for var in ("TRYON_MAX_ISA", "ONEDNN_MAX_CPU_ISA"):
        value = os.environ.get(var, "").strip().lower()
        if not value or value in ("all", "default"):
            continue
        if value not in ISA_CAPS:
            raise ValueError(f"{var}={os.environ[var]!r}: expected one of ALL, {', '.join(k.upper() for k in ISA_CAPS)}")
        return value, var
    return None, None


def effective_flags() -> set[str]:
    """:func:`cpu_flags` less the :data:`ISA_FLAGS` above the cap of :func:`isa_cap` (all of them without a cap)."""
    flags = cpu_flags()
    cap, _ = isa_cap()
    if cap is None:
        return flags
    allowed = set(ISA_CAPS[cap])
    return {f for f in flags if f not in ISA_FLAGS or f in allowed}


def has(feature: str) -> bool:
    """Whether the CPU (as held by the cap) has ``feature`` (a key of :data:`FEATURES`)."""
    return missing(feature) is None


def missing(feature: str) -> str | None:
    """``None`` when the CPU has ``feature``, else the one-line reason (for ``pytest.skip`` and benchmark rows):
    which flags it needs, and whether the CPU lacks them or a cap holds the run below them."""
    if feature not in FEATURES:
        raise KeyError(f"unknown CPU feature {feature!r}; known: {', '.join(FEATURES)}")
    needs = FEATURES[feature]
    if set(needs) & effective_flags():
        return None
    cap, var = isa_cap()
    if cap is not None and set(needs) & cpu_flags():
        return f"{feature} not used: the run is held to {cap.upper()} by {var}"
    return f"{feature} not supported by this CPU ({cpu_model()}: no {' / '.join(needs)})"


#: The CPU classes the project's speed figures are sorted by (docs/benchmarks.md), best first: a class and the flags
#: (any of them) that mark it.
CPU_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (("AMX", ("amx_tile",)), ("AVX-512", ("avx512f",)), ("AVX2", ("avx2",)))


def cpu_class() -> str:
    """``AMX``, ``AVX-512``, ``AVX2`` or ``below AVX2``: the best class the CPU reaches under the cap of
    :func:`isa_cap` — what a speed row says it was measured on, since absolute figures do not travel between them."""
    flags = effective_flags()
    return next((name for name, needs in CPU_CLASSES if set(needs) & flags), "below AVX2")


def physical_cores() -> int:
    """Number of physical cores (distinct ``physical id``/``core id`` pairs), else ``os.cpu_count()``."""
    pairs, phys, core = set(), None, None
    for line in _cpuinfo().splitlines() + [""]:
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = val.strip()
        elif key == "core id":
            core = val.strip()
        elif not line.strip():
            if core is not None:
                pairs.add((phys, core))
            phys, core = None, None
    return len(pairs) or os.cpu_count() or 1


def ram_gb() -> float | None:
    """Physical memory in GiB (one decimal), or None where sysconf cannot say."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def machine() -> dict[str, object]:
    """The dict a benchmark stores: platform, CPU, ISA flags (and the cap a run was held to), cores, RAM, load
    average at the time."""
    cap, var = isa_cap()
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "isa": isa_flags(),
        "isa_cap": f"{cap.upper()} ({var})" if cap else None,
        "cpu_class": cpu_class(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "ram_gb": ram_gb(),
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


__all__ = ["CPU_CLASSES", "FEATURES", "ISA_CAPS", "ISA_FLAGS", "cpu_class", "cpu_flags", "cpu_model",
           "effective_flags", "has", "isa_cap", "isa_flags", "machine", "missing", "physical_cores", "ram_gb"]
