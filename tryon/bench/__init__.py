"""Speed benchmark harness: ``tryon bench TASK``.

For each resolution (pipelines take ``size=(H, W)``) and batch size it times each backend with warm-up
runs, then ``iters`` timed runs, each ended by a device synchronisation (``torch.cuda.synchronize`` on
CUDA; onnxruntime's ``run`` returns host arrays, so it is synchronous), and records latency percentiles
p50/p95/p99 (ms), mean latency, throughput ``fps = batch × 1000 / mean_ms`` (images/s), peak memory and
the execution providers really used. Backends:

* ``torch`` — the exportable component alone (``ExportSpec.build``), eager, ``torch.inference_mode``;
* ``torch-pipeline`` — the whole pipeline call on ``TaskSpec.bench_inputs`` (pre/post-processing included);
* ``ort-cpu`` — the ONNX export on the CPU provider (graph optimisation ALL, intra-op threads = physical
  cores unless ``threads`` is given);
* ``ort-cuda`` / ``ort-trt`` — CUDA / TensorRT providers, skipped with the reason when not available or
  when onnxruntime would fall back to CPU (:class:`tryon.errors.ProviderError`); no IO binding (host
  inputs, copies included in the timing);
* ``ort-int8`` — the export's int8 model on CPU, when the export folder has one.

``compare=OTHER`` also times OTHER's whole pipeline (``torch-pipeline``) at the same sizes and batches and
records the speed ratio. Output: a rich table, ``bench.json`` (:func:`validate_bench_json` checks it) and
``bench.md``. Speed targets are never asserted here — these are measurements.

The package: :mod:`~tryon.bench.harness` (:func:`run_bench`), :mod:`~tryon.bench.facts` (machine and versions),
:mod:`~tryon.bench.timing`, :mod:`~tryon.bench.yardstick` (efficiency), :mod:`~tryon.bench.schema`,
:mod:`~tryon.bench.render`, :mod:`~tryon.bench.cli`; this face loads them on first use (``import tryon.bench``
stays free of torch and onnxruntime).
"""

from __future__ import annotations

from ..imports import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "run_bench": "harness", "BACKENDS": "harness", "validate_bench_json": "schema", "SCHEMA_VERSION": "schema",
    "render_markdown": "render", "write_reports": "render", "print_table": "render", "environment": "facts",
    "time_fn": "timing", "summarise": "timing",
})

__all__ = ["run_bench", "validate_bench_json", "render_markdown", "write_reports", "environment", "time_fn", "summarise",
           "BACKENDS", "SCHEMA_VERSION", "print_table"]
