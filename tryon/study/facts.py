"""What every study records beside its numbers: the date, the machine and the library versions — torch-free.

One copy of these facts for every demo, evaluation and benchmark (speed targets are ratios measured in one run on
the machine of the day, so a results file without its machine cannot be read). Versions come from the installed
distributions' metadata, so recording them imports nothing heavy.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from .._version import __version__
from ..hardware import machine

#: Distributions whose versions decide a study's numbers (absent ones are left out).
VERSIONED = ("torch", "torchvision", "kornia", "numpy", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "openvino",
             "nncf", "opencv-python-headless", "opencv-python", "scikit-image", "ray")


def now() -> str:
    """The current UTC time, ISO 8601 to the second (``2026-12-07T05:10:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """``{distribution: version}`` for tryon, Python and every installed one of :data:`VERSIONED`."""
    out = {"tryon": __version__, "python": sys.version.split()[0]}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def gpu_name() -> str | None:
    """The first CUDA device's name when torch is already imported and sees one (torch is never imported here)."""
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "cuda", None) is not None and torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return None


def facts() -> dict[str, Any]:
    """``{"date", "machine", "versions"}``: the record every ``results.json`` starts with.

    ``machine`` is :func:`tryon.hardware.machine` (CPU model, ISA flags and cap, cores, RAM, load average) plus the
    GPU's name (:func:`gpu_name`) when torch is already imported and sees one.
    """
    info: dict[str, Any] = dict(machine())
    gpu = gpu_name()
    if gpu is not None:
        info["gpu"] = gpu
    return {"date": now(), "machine": info, "versions": versions()}


__all__ = ["VERSIONED", "facts", "gpu_name", "now", "versions"]
