"""What a benchmark records beside its numbers: the study facts (date, machine, versions) plus threads and providers."""

from __future__ import annotations

from typing import Any

#: How to read a ``bench.json`` (stored with every run).
NOTES = [
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
]


def environment(ort_threads: int | None = None) -> dict[str, Any]:
    """:func:`tryon.study.facts` (date; machine: CPU model, ISA flags, cores, RAM, load, GPU; library versions) with
    ``machine["gpu"]`` always present (None without CUDA), the thread counts, onnxruntime's providers and the notes."""
    import torch  # imported first, so that the study facts see the GPU

    from ..hardware import physical_cores
    from ..study.facts import facts

    try:
        import onnxruntime as ort

        providers = list(ort.get_available_providers())
    except ImportError:  # pragma: no cover
        providers = []
    record = facts()
    record["machine"].setdefault("gpu", None)
    return {
        **record,
        "threads": {"torch": torch.get_num_threads(), "ort_intra_op": ort_threads or physical_cores()},
        "ort_available_providers": providers,
        "notes": list(NOTES),
    }


__all__ = ["NOTES", "environment"]
