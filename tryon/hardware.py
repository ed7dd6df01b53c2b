"""What this machine is: CPU model, ISA flags, physical cores, RAM (torch-free, no psutil).

Every benchmark records these next to its numbers (speed targets are ratios measured in one run, and the
machine changes from day to day: Intel with AVX-512/AMX, AMD without AMX). Read from Linux
``/proc/cpuinfo``; elsewhere the values fall back to :mod:`platform` / :func:`os.cpu_count` and an empty
flag set. ``py-cpuinfo`` would add a dependency (and a subprocess per call) for these four facts.
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
    """The dict a benchmark stores: platform, CPU, ISA flags, cores, RAM, load average at the time."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "isa": isa_flags(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "ram_gb": ram_gb(),
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


__all__ = ["ISA_FLAGS", "cpu_flags", "cpu_model", "isa_flags", "machine", "physical_cores", "ram_gb"]
