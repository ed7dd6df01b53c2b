"""Execution providers and threads of the deploy wing's onnxruntime sessions (no torch).

onnxruntime silently runs on CPU when a requested GPU provider cannot start (missing CUDA/cuDNN libraries;
deps.md §5). The wing refuses that: :func:`request_providers` refuses a provider the installed onnxruntime does
not offer, and :func:`fallback_message` names a requested provider a created session does not use — the callers
raise :class:`tryon.errors.ProviderError` with it (or, with ``allow_fallback``, go on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ProviderError, TryonError
from ..hardware import physical_cores

CPU = "CPUExecutionProvider"

#: short names accepted in ``providers=`` (and ``--providers`` on the CLI)
PROVIDER_ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
#: ``graph_optimization=`` values → the names of ``onnxruntime.GraphOptimizationLevel``
OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "none": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
_GPU_HINT = ("; for CUDA/TensorRT install onnxruntime-gpu *instead of* onnxruntime (they overwrite each "
             "other): pip uninstall -y onnxruntime && pip install onnxruntime-gpu")


def require_onnxruntime() -> Any:
    """The ``onnxruntime`` module, or one :class:`TryonError` with the install hint when it is missing."""
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - the [onnx] extra is installed in dev
        raise TryonError("onnxruntime is not installed: pip install 'tryon[onnx]' (CPU) or 'tryon[onnx-gpu]' (CUDA)") from None
    return onnxruntime


def onnxruntime_distribution() -> str:
    """Which distribution provides the ``onnxruntime`` package (``onnxruntime`` / ``onnxruntime-gpu`` …)."""
    from importlib import metadata

    found = []
    for dist in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-rocm"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found) or "unknown"


def available_providers() -> list[str]:
    """The execution providers the installed onnxruntime offers."""
    return list(require_onnxruntime().get_available_providers())


def normalise_providers(providers: Any) -> list[Any]:
    """``None`` → CPU; short names (``"cuda"``; a comma-separated string) → full names; ``(name, options)`` kept."""
    if providers is None:
        return [CPU]
    if isinstance(providers, str):
        providers = [p for p in providers.split(",") if p.strip()]
    out: list[Any] = []
    for p in providers:
        if isinstance(p, (tuple, list)):
            name, opts = p
            out.append((PROVIDER_ALIASES.get(str(name).strip().lower(), str(name).strip()), dict(opts)))
        else:
            out.append(PROVIDER_ALIASES.get(str(p).strip().lower(), str(p).strip()))
    if not out:
        raise ProviderError("no execution provider requested (empty providers list)")
    return out


def provider_name(p: Any) -> str:
    """The name of a provider entry (a name, or a ``(name, options)`` tuple)."""
    return p[0] if isinstance(p, tuple) else p


def default_threads(threads: int | None) -> int:
    """onnxruntime intra-op threads: ``threads`` when given, else the number of physical cores."""
    return int(threads) if threads else physical_cores()


@dataclass(frozen=True)
class ProviderRequest:
    """What a session asked for: ``requested`` (names, the CPU provider appended as the per-node fallback for
    ops a GPU provider lacks), ``session_providers`` (the list handed to onnxruntime: entries with their
    options, those missing from the installation dropped when a fallback is allowed) and ``wanted`` (the
    requested non-CPU names)."""

    requested: list[str]
    session_providers: list[Any]
    wanted: list[str]


def request_providers(providers: Any, allow_fallback: bool = False) -> ProviderRequest:
    """Normalise ``providers`` (:func:`normalise_providers`), append the CPU provider, and refuse — one
    :class:`ProviderError` naming requested vs offered — a provider the installed onnxruntime does not offer
    (dropped instead when ``allow_fallback``)."""
    entries = normalise_providers(providers)
    if CPU not in [provider_name(p) for p in entries]:
        entries.append(CPU)
    requested = [provider_name(p) for p in entries]
    wanted = [p for p in requested if p != CPU]
    avail = available_providers()
    missing = [p for p in wanted if p not in avail]
    if missing and not allow_fallback:
        hint = _GPU_HINT if any(p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") for p in missing) else ""
        raise ProviderError(f"requested execution provider(s) {', '.join(missing)} but the installed onnxruntime "
                            f"({onnxruntime_distribution()}) offers only {', '.join(avail)}{hint}")
    return ProviderRequest(requested, [p for p in entries if provider_name(p) not in missing], wanted)


def fallback_message(request: ProviderRequest, used: list[str], what: str = "the session") -> str | None:
    """``None`` when every requested non-CPU provider is among ``used`` (a session's ``get_providers()``), else the
    one-line explanation of onnxruntime's silent fallback (``what`` names the session)."""
    inactive = [p for p in request.wanted if p not in used]
    if not inactive:
        return None
    return (f"requested execution provider(s) {', '.join(request.requested)} but {what} runs on {', '.join(used)}: "
            f"onnxruntime fell back silently for {', '.join(inactive)} (typically CUDA/cuDNN/TensorRT libraries "
            "missing or of the wrong version; see the onnxruntime log)")


__all__ = ["PROVIDER_ALIASES", "OPT_LEVELS", "ProviderRequest", "require_onnxruntime", "onnxruntime_distribution",
           "available_providers", "normalise_providers", "provider_name", "physical_cores", "default_threads",
           "request_providers", "fallback_message"]
