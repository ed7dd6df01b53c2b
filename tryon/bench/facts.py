"""What a benchmark records beside its numbers: machine, versions, threads, providers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any




def environment(ort_threads: int | None = None) -> dict[str, Any]:
    """Machine (CPU model, cores, RAM, GPU), library versions and thread counts."""
    import torch

    from ..export.onnx import versions
    from ..hardware import machine, physical_cores

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        import onnxruntime as ort

        providers = list(ort.get_available_providers())
    except ImportError:  # pragma: no cover
        providers = []
    vers = dict(versions())
    for dist in ("openvino", "nncf"):
        try:
            from importlib import metadata

            vers[dist] = metadata.version(dist)
        except Exception:  # noqa: BLE001 - not installed
            pass
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine(), "gpu": gpu},
        "versions": vers,
        "threads": {"torch": torch.get_num_threads(), "ort_intra_op": ort_threads or physical_cores()},
        "ort_available_providers": providers,
        "notes": [
            "latency per call of a whole batch; fps = batch * 1000 / mean_ms",
            "peak_mem_mb: CPU rows = process RSS high-water mark (ru_maxrss) after the row, cumulative over the "
            "process; torch rows on CUDA = torch.cuda.max_memory_allocated during the row",
            "onnxruntime CUDA/TensorRT rows run without IO binding (host inputs, copies included)",
            "gmac: MACs of one call counted from the fp32 ONNX graph (Conv/ConvTranspose/Gemm/MatMul); efficiency = "
            "achieved GMAC/s / GMAC/s of the reference graph (4 chained 3x3 convs 64->64 at 128x96, batch 1) timed with the same "
            "backend, threads and precision in the same run (tryon.macs)",
            "max_abs_vs_fp32: largest |output - ORT fp32 output| on the same random batch (a parity figure, not quality)",
            "load_average (1/5/15 min) at the start: with other processes on the cores, multi-threaded eager torch "
            "suffers most (OpenMP spinning); compare rows only from runs on an idle machine",
        ],
    }



__all__ = ["environment"]
