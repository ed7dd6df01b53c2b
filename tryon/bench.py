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
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .fs import atomic_write_text
from .hardware import missing as missing_isa
from .cli import parse_sizes
from .errors import TryonError
from .report import markdown_table

SCHEMA_VERSION = 1
BACKENDS = ("torch", "torch-pipeline", "ort-cpu", "ort-cuda", "ort-trt", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8")
_ORT_BACKENDS = {
    "ort-cpu": (["CPUExecutionProvider"], "fp32"),
    "ort-cuda": (["CUDAExecutionProvider"], "fp32"),
    "ort-trt": (["TensorrtExecutionProvider", "CUDAExecutionProvider"], "fp32"),
    "ort-int8": (["CPUExecutionProvider"], "int8"),
}
#: OpenVINO CPU backends (optional extra): backend name -> precision
_OV_BACKENDS = {"ov-fp32": "fp32", "ov-bf16": "bf16", "ov-int8": "int8"}
#: The CPU feature (tryon.hardware.FEATURES) a backend's precision needs to be faster than fp32.
#: (ov-bf16 is refused by the OpenVINO session itself, with the same reason: it would run in fp32.)
_ISA_NEEDS = {"ort-int8": "vnni", "ov-int8": "vnni"}
#: ISA flags that decide which CPU kernels run (recorded with every benchmark)
RESULT_KEYS = {
    "task": str, "component": str, "backend": str, "batch": int, "size": list, "p50_ms": float, "p95_ms": float,
    "p99_ms": float, "mean_ms": float, "fps": float, "peak_mem_mb": (float, type(None)), "providers": list,
}


# ------------------------------------------------------------------------------------------------
# environment
# ------------------------------------------------------------------------------------------------
def environment(ort_threads: int | None = None) -> dict[str, Any]:
    """Machine (CPU model, cores, RAM, GPU), library versions and thread counts."""
    import torch

    from .export.onnx import versions
    from .hardware import machine, physical_cores

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


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------
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


def summarise(times_ms: Sequence[float], batch: int) -> dict[str, float]:
    t = np.asarray(times_ms, dtype=np.float64)
    p50, p95, p99 = (float(v) for v in np.percentile(t, [50, 95, 99]))
    mean = float(t.mean())
    return {
        "p50_ms": round(p50, 4), "p95_ms": round(p95, 4), "p99_ms": round(p99, 4), "mean_ms": round(mean, 4),
        "min_ms": round(float(t.min()), 4), "fps": round(batch * 1000.0 / mean, 4),
    }


def _rss_mb() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


# ------------------------------------------------------------------------------------------------
# the harness
# ------------------------------------------------------------------------------------------------
def _load(task: str, weights: Any, device: str, size: tuple[int, int] | None) -> Any:
    import tryon

    config = {"size": list(size)} if size else {}
    try:
        return tryon.load(task, weights=weights, device=device, **config)
    except TypeError as exc:
        if size and "size" in str(exc):
            raise TryonError(f"task {task!r}: its pipeline takes no size= (cannot bench at {size[0]}x{size[1]})") from None
        raise


def _pipeline_size(pipe: Any, spec: Any) -> tuple[int, int]:
    ex = spec.example_inputs(pipe, 1) if spec is not None else {}
    t = next((v for v in ex.values() if getattr(v, "ndim", 0) == 4), None)
    if t is not None:
        return int(t.shape[-2]), int(t.shape[-1])
    size = getattr(pipe, "size", None) or pipe.config.get("size")
    return (int(size[0]), int(size[1])) if size else (0, 0)


class _Bench:
    def __init__(self, iters: int, warmup: int, threads: int | None, device: str):
        self.iters, self.warmup, self.threads, self.device = iters, warmup, threads, device
        self.results: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self.compare: list[dict[str, Any]] = []
        self.role = "main"  # "compare" while timing the --compare task
        self.progress: Callable[[str], None] = lambda msg: None

    def skip(self, task: str, backend: str, size: tuple[int, int] | None, reason: str) -> None:
        self.skipped.append({"task": task, "backend": backend, "size": list(size) if size else None, "reason": reason})
        self.progress(f"skip {task} {backend}: {reason}")

    def record(self, task: str, component: str, backend: str, model: str, batch: int, size: tuple[int, int],
               fn: Callable[[], Any], providers: list[str], on_cuda: bool) -> dict[str, Any]:
        import torch

        sync = torch.cuda.synchronize if on_cuda else None
        if on_cuda:
            torch.cuda.reset_peak_memory_stats()
        times = time_fn(fn, self.warmup, self.iters, sync)
        mem = round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_cuda else _rss_mb()
        row = {
            "task": task, "role": self.role, "component": component, "backend": backend, "model": model, "batch": int(batch),
            "size": [int(size[0]), int(size[1])], **summarise(times, batch), "peak_mem_mb": mem,
            "peak_mem_kind": "cuda_max_allocated" if on_cuda else "rss_high_water_mark",
            "providers": providers, "device": self.device if backend.startswith("torch") else ",".join(providers),
            "iters": len(times), "warmup": self.warmup,
        }
        self.results.append(row)
        self.progress(f"{task} {backend} B={batch} {size[0]}x{size[1]}: p50 {row['p50_ms']:.2f} ms, {row['fps']:.1f} img/s")
        return row


def run_bench(
    task: str,
    weights: Any = None,
    sizes: Sequence[Sequence[int]] | None = None,
    batches: Sequence[int] = (1, 4, 16),
    backends: Sequence[str] = BACKENDS,
    iters: int = 20,
    warmup: int = 5,
    threads: int | None = None,
    compare: str | None = None,
    compare_weights: Any = None,
    out_dir: str | os.PathLike | None = None,
    device: str | None = None,
    export_dir: str | os.PathLike | None = None,
    component: str | None = None,
    progress: Callable[[str], None] | None = None,
    emulated: bool = False,
) -> dict[str, Any]:
    """Benchmark ``task`` (see the module docstring); returns the ``bench.json`` object (also written to
    ``out_dir`` with ``bench.md`` when given). ``sizes=None``: the pipeline's own resolution.
    ``export_dir``: an existing export to time for the ORT backends (used when its resolution matches;
    otherwise a temporary export of the same weights is made). Rows whose precision this CPU lacks the
    instructions for — int8 without VNNI, bf16 without avx512_bf16/AMX (:func:`tryon.hardware.missing`) — are
    skipped with the reason ("not supported by this CPU"), since their speed would mislead; ``emulated=True``
    times them anyway (the rows then say ``"emulated": true``)."""
    import torch

    import tryon

    from .export.onnx import export_onnx, resolve_export_spec
    from .runtime import ImageModelSession, available_providers, onnxruntime_distribution, read_manifest

    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise TryonError(f"unknown backend(s) {unknown}; known: {', '.join(BACKENDS)}")
    if iters < 1 or warmup < 0:
        raise TryonError(f"iters must be >= 1 and warmup >= 0, got {iters}, {warmup}")
    batches = [int(b) for b in batches]
    if not batches or min(batches) < 1:
        raise TryonError(f"batch sizes must be positive, got {batches}")
    if threads:
        torch.set_num_threads(int(threads))
    device = device or tryon.default_device()
    on_cuda = str(device).startswith("cuda")
    b = _Bench(iters, warmup, threads, str(device))
    b.progress = progress or (lambda msg: None)
    task_spec = tryon.get_task(task)
    size_list: list[tuple[int, int] | None] = [tuple(int(v) for v in s) for s in sizes] if sizes else [None]  # type: ignore[misc]
    given_export = None
    if export_dir is not None:
        given_export = read_manifest(export_dir)
    tmp_root = Path(tempfile.mkdtemp(prefix="tryon-bench-"))
    yard = _Yardstick(tmp_root, warmup, iters, b)
    backends = list(backends)
    if compare and "torch-pipeline" not in backends:
        backends.append("torch-pipeline")  # the comparison is made on the whole pipeline
    try:
        for size in size_list:
            pipe = _load(task, weights, device, size)
            spec = None
            if task_spec.exportable:
                spec, _ = resolve_export_spec(pipe, component, task)
            real_size = _pipeline_size(pipe, spec)
            comp = spec.name if spec is not None else "pipeline"
            exported: list[Path] = []
            macs_torch: int | None = None

            def ensure_export(pipe: Any = pipe, spec: Any = spec, real_size: tuple = real_size, comp: str = comp,
                              exported: list = exported) -> Path:
                if given_export is not None and list(given_export[1]["resolution"]) == list(real_size):
                    return given_export[0]
                if not exported:
                    path = tmp_root / f"{task}-{real_size[0]}x{real_size[1]}"
                    b.progress(f"exporting {task}/{comp} at {real_size[0]}x{real_size[1]} for the ORT/OpenVINO backends and MACs")
                    export_onnx(pipe, spec, path, parity_batches=(1,), task=task)
                    exported.append(path)
                return exported[0]
            for backend in backends:
                if backend == "torch":
                    if spec is None:
                        b.skip(task, backend, real_size, "the task declares no exportable component")
                        continue
                    module = spec.build(pipe).eval()
                    for batch in batches:
                        inputs = tuple(spec.example_inputs(pipe, batch).values())

                        def fn(module: Any = module, inputs: tuple = inputs) -> Any:
                            with torch.inference_mode():
                                return module(*inputs)

                        row = b.record(task, comp, backend, "fp32", batch, real_size, fn, [str(device)], on_cuda)
                        if macs_torch is None:
                            macs_torch = yard.macs_of(read_manifest(ensure_export()))
                        _add_efficiency(row, macs_torch * batch, yard.torch_reference(str(device), on_cuda))
                elif backend == "torch-pipeline":
                    _bench_pipeline(b, task, task_spec, pipe, batches, real_size, device, on_cuda)
                else:
                    if spec is None:
                        b.skip(task, backend, real_size, "the task declares no exportable component")
                        continue
                    needs = _ISA_NEEDS.get(backend)
                    lacking = missing_isa(needs) if needs else None
                    if lacking and not emulated:
                        b.skip(task, backend, real_size, f"{lacking}: {backend} would run on emulated kernels, its speed would "
                               "mislead (time it anyway with emulated=True / --emulated)")
                        continue
                    if backend in _OV_BACKENDS:
                        providers, variant, kind = ["CPUExecutionProvider"], _OV_BACKENDS[backend], "openvino"
                        reason = _openvino_unavailable(variant)
                        if reason:
                            b.skip(task, backend, real_size, reason)
                            continue
                    else:
                        (providers, variant), kind = _ORT_BACKENDS[backend], "ort"
                    absent = [p for p in providers if p != "CPUExecutionProvider" and p not in available_providers()]
                    if absent:  # decided before any export work
                        b.skip(task, backend, real_size, f"{', '.join(absent)} not offered by the installed onnxruntime "
                               f"({onnxruntime_distribution()}; providers: {', '.join(available_providers())}); "
                               "install onnxruntime-gpu instead of onnxruntime")
                        continue
                    if given_export is not None and list(given_export[1]["resolution"]) == list(real_size):
                        path = given_export[0]
                    elif variant == "int8":
                        b.skip(task, backend, real_size, "no int8 model: pass export_dir/--export of an export made "
                               "with `tryon export --int8` (or tryon.export.quantize_int8"
                               + (", then tryon.export.openvino.quantize_openvino_int8" if kind == "openvino" else "")
                               + ") at this resolution")
                        continue
                    else:
                        path = ensure_export()
                    try:
                        if kind == "openvino":
                            sess = ImageModelSession(path, intra_op_threads=threads, backend="openvino", precision=variant)
                        else:
                            sess = ImageModelSession(path, providers=providers, intra_op_threads=threads, model=variant)
                    except TryonError as exc:  # ProviderError included: no silent CPU fallback
                        b.skip(task, backend, real_size, str(exc))
                        continue
                    macs = yard.macs_of((sess.export_dir, sess.manifest))
                    ref = yard.reference(backend, kind, variant, providers, sess.intra_op_threads, sess.manifest)
                    fp32 = yard.fp32_session(sess.export_dir, sess.intra_op_threads)
                    for batch in batches:
                        feeds = {k: v.detach().float().cpu().numpy() for k, v in spec.example_inputs(pipe, batch).items()}
                        feeds = {k: feeds[k] for k in sess.input_names}

                        def fn(sess: Any = sess, feeds: dict = feeds) -> Any:
                            return sess.session.run(None, feeds)

                        row = b.record(task, comp, backend, variant, batch, real_size, fn, sess.providers_used, False)
                        if lacking:
                            row["emulated"] = True
                        row["ort_intra_op_threads" if kind == "ort" else "openvino_threads"] = sess.intra_op_threads
                        _add_efficiency(row, macs * batch, ref)
                        row.update(_parity(fn(), fp32.run(None, feeds)))
            del pipe
            if compare:
                mine = [r for r in b.results if r["task"] == task and r["backend"] == "torch-pipeline" and r["role"] == "main"
                        and r["size"] == list(real_size)]
                other_spec = tryon.get_task(compare)
                other = _load(compare, compare_weights, device, size)
                other_size = _pipeline_size(other, other_spec.exportable[0] if other_spec.exportable else None)
                b.role = "compare"
                n0 = len(b.results)
                _bench_pipeline(b, compare, other_spec, other, batches, other_size, device, on_cuda)
                b.role = "main"
                for o in b.results[n0:]:
                    r = next((x for x in mine if x["batch"] == o["batch"]), None)
                    if r is not None:
                        b.compare.append({"task": task, "other": compare, "backend": "torch-pipeline", "batch": r["batch"],
                                          "size": r["size"], "other_size": o["size"],
                                          "speedup": round(o["mean_ms"] / r["mean_ms"], 4)})
                del other
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    result = {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "compare": compare,
        "config": {"sizes": [list(s) for s in size_list if s] or None, "batches": batches, "backends": list(backends),
                   "iters": iters, "warmup": warmup, "threads": threads, "device": str(device),
                   "weights": str(weights) if weights else None, "export": str(export_dir) if export_dir else None},
        "environment": environment(threads),
        "results": b.results,
        "reference_conv": yard.summary(),
        "skipped": b.skipped,
        "ratios": {"vs_torch": _vs_torch(b.results), "compare": b.compare},
    }
    validate_bench_json(result)
    if out_dir is not None:
        write_reports(result, out_dir)
    return result


def _bench_pipeline(b: _Bench, task: str, task_spec: Any, pipe: Any, batches: Sequence[int], size: tuple[int, int],
                    device: str, on_cuda: bool) -> None:
    if task_spec.bench_inputs is None:
        b.skip(task, "torch-pipeline", size, "TaskSpec.bench_inputs is not set (the task gives no whole-pipeline inputs)")
        return
    for batch in batches:
        inputs = task_spec.bench_inputs(pipe, batch)

        def fn(pipe: Any = pipe, inputs: dict = inputs) -> Any:
            return pipe(**inputs)

        b.record(task, "pipeline", "torch-pipeline", "fp32", batch, size, fn, [str(device)], on_cuda)


def _vs_torch(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Eager-torch mean / backend mean per (task, size, batch): > 1 means faster than eager torch.
    (``compare`` ratios are OTHER's whole-pipeline mean / TASK's: > 1 means TASK is faster.)"""
    by = {(r["role"], r["task"], r["batch"], tuple(r["size"])): r for r in results if r["backend"] == "torch"}
    out = []
    for r in results:
        if r["backend"] in ("torch", "torch-pipeline"):
            continue
        base = by.get((r["role"], r["task"], r["batch"], tuple(r["size"])))
        if base:
            out.append({"task": r["task"], "backend": r["backend"], "batch": r["batch"], "size": r["size"],
                        "speedup": round(base["mean_ms"] / r["mean_ms"], 4)})
    return out


# ------------------------------------------------------------------------------------------------
# efficiency: MACs and the reference convolution
# ------------------------------------------------------------------------------------------------
def _openvino_unavailable(precision: str) -> str | None:
    """Why an OpenVINO row cannot run here (``None``: it can)."""
    from .runtime_openvino import check_precision

    try:
        import openvino  # noqa: F401
    except ImportError:
        return "openvino is not installed (pip install 'tryon[openvino]')"
    try:
        check_precision(precision)
    except TryonError as exc:
        return str(exc)
    return None


def _add_efficiency(row: dict[str, Any], macs: int | None, ref: dict[str, Any] | None) -> None:
    from .macs import efficiency

    if not macs or not ref:
        return
    row["macs"] = int(macs)
    row["gmac"] = round(macs / 1e9, 6)
    row.update(efficiency(macs, row["p50_ms"], ref["macs"], ref["p50_ms"]))


def _parity(got: Sequence[Any], ref: Sequence[Any]) -> dict[str, float]:
    errs = [np.abs(np.asarray(g, np.float32) - np.asarray(r, np.float32)) for g, r in zip(got, ref)]
    return {"max_abs_vs_fp32": round(float(max(e.max() for e in errs)), 6),
            "mean_abs_vs_fp32": round(float(max(e.mean() for e in errs)), 6)}


class _Yardstick:
    """MAC counts per export and reference-conv timings per (backend, precision, threads), each made once a run."""

    def __init__(self, tmp: Path, warmup: int, iters: int, bench: _Bench):
        self.tmp, self.warmup, self.iters, self.bench = tmp, max(2, warmup), max(10, iters), bench
        self._macs: dict[str, int] = {}
        self._refs: dict[tuple, dict[str, Any]] = {}
        self._fp32: dict[tuple, Any] = {}

    def macs_of(self, export: tuple[Path, dict[str, Any]]) -> int:
        from .macs import count_macs

        export_dir, manifest = export
        key = str(export_dir)
        if key not in self._macs:
            self._macs[key] = count_macs(Path(export_dir) / manifest["models"]["fp32"]["file"], batch=1)["macs"]
        return self._macs[key]

    def fp32_session(self, export_dir: Path, threads: int) -> Any:
        from .runtime import ImageModelSession

        key = (str(export_dir), threads)
        if key not in self._fp32:
            self._fp32[key] = ImageModelSession(export_dir, intra_op_threads=threads).session
        return self._fp32[key]

    def _time(self, key: tuple, fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> dict[str, Any]:
        from .macs import REFERENCE_CONV, reference_conv_macs

        times = time_fn(fn, self.warmup, self.iters, sync)
        row = {"backend": key[0], "precision": key[1], "threads": key[2], **REFERENCE_CONV, "batch": 1,
               "macs": reference_conv_macs(depth=REFERENCE_CONV["depth"]), **summarise(times, 1)}
        row["gmac_per_s"] = round(row["macs"] / (row["p50_ms"] * 1e6), 3)
        self._refs[key] = row
        self.bench.progress(f"reference conv {key[0]} {key[1]}: p50 {row['p50_ms']:.2f} ms, {row['gmac_per_s']:.1f} GMAC/s")
        return row

    def torch_reference(self, device: str, on_cuda: bool) -> dict[str, Any]:
        import torch

        from .macs import REFERENCE_CONV as R

        key = ("torch", "fp32", torch.get_num_threads(), device)
        if key not in self._refs:
            conv = torch.nn.Sequential(*[torch.nn.Conv2d(R["channels"], R["channels"], R["kernel"], padding=R["kernel"] // 2)
                                         for _ in range(R["depth"])]).to(device).eval()
            x = torch.randn(1, R["channels"], R["height"], R["width"], device=device)

            def fn() -> Any:
                with torch.inference_mode():
                    return conv(x)

            self._time(key, fn, torch.cuda.synchronize if on_cuda else None)
        return self._refs[key]

    def reference(self, backend: str, kind: str, precision: str, providers: list[str], threads: int,
                  manifest: dict[str, Any]) -> dict[str, Any] | None:
        from .macs import REFERENCE_CONV as R
        from .macs import write_reference_conv

        key = (backend, precision, threads)
        if key in self._refs:
            return self._refs[key]
        path = self.tmp / "reference-conv" / "model.onnx"
        if not path.is_file():
            write_reference_conv(path, depth=R["depth"])
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, R["channels"], R["height"], R["width"])).astype(np.float32)
        calib = [{"x": rng.standard_normal(x.shape).astype(np.float32)} for _ in range(4)]
        try:
            if kind == "openvino":
                from .runtime_openvino import OpenVINOSession

                file = path
                if precision == "int8":
                    file = _reference_ov_int8(path, calib)
                sess = OpenVINOSession(file, precision, threads)
                return self._time(key, lambda: sess.run(None, {"x": x}))
            import onnxruntime as ort

            file = path
            if precision == "int8":
                file = _reference_ort_int8(path, calib, (manifest["models"].get("int8") or {}).get("calibration", {}))
            so = ort.SessionOptions()
            so.intra_op_num_threads = int(threads)
            so.log_severity_level = 3
            s = ort.InferenceSession(str(file), so, providers=providers)
            return self._time(key, lambda: s.run(None, {"x": x}))
        except Exception as exc:  # noqa: BLE001 - efficiency is then left out of the rows, with the reason
            self.bench.skip("reference-conv", backend, (R["height"], R["width"]), f"reference conv failed: {exc}")
            self._refs[key] = None  # type: ignore[assignment]
            return None

    def summary(self) -> list[dict[str, Any]]:
        return [r for r in self._refs.values() if r]


def _reference_ort_int8(path: Path, calib: list[dict[str, np.ndarray]], settings: dict[str, Any]) -> Path:
    """The reference conv quantised like the export's int8 model (its recorded format/activation settings)."""
    import contextlib
    import io

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    out = path.with_name(f"int8-{str(settings.get('format', 'qdq')).lower()}-{settings.get('activations', 'int8')}.onnx")
    if out.is_file():
        return out

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self) -> Any:
            return next(self.it, None)

    import logging

    logging.disable(logging.WARNING)  # onnxruntime.quantization's "consider pre-processing" on the root logger
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(path), str(out), _Reader(),
                            quant_format=QuantFormat.QOperator if str(settings.get("format")).lower() == "qoperator" else QuantFormat.QDQ,
                            per_channel=bool(settings.get("per_channel", True)),
                            activation_type=QuantType.QUInt8 if settings.get("activations") == "uint8" else QuantType.QInt8,
                            weight_type=QuantType.QInt8, reduce_range=bool(settings.get("reduce_range", False)),
                            extra_options={"ActivationSymmetric": bool(settings.get("symmetric_activations", False))})
    finally:
        logging.disable(logging.NOTSET)
    return out


def _reference_ov_int8(path: Path, calib: list[dict[str, np.ndarray]]) -> Path:
    import contextlib
    import io
    import logging

    import nncf
    import openvino as ov

    out = path.with_name("int8-openvino.xml")
    if not out.is_file():
        nncf.set_log_level(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()):
            q = nncf.quantize(ov.Core().read_model(str(path)), nncf.Dataset(calib), subset_size=len(calib),
                              preset=nncf.QuantizationPreset.PERFORMANCE)
        ov.save_model(q, str(out), compress_to_fp16=False)
    return out


# ------------------------------------------------------------------------------------------------
# schema
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# reports
# ------------------------------------------------------------------------------------------------
_COLUMNS = ("task", "backend", "batch", "size", "p50 ms", "p95 ms", "p99 ms", "img/s", "GMAC", "GMAC/s", "eff.",
            "peak MB", "providers")


def _row_cells(r: dict[str, Any]) -> list[str]:
    return [r["task"], r["backend"] + ("" if r.get("model", "fp32") in ("fp32",) else f" ({r['model']})"), str(r["batch"]),
            f"{r['size'][0]}x{r['size'][1]}", f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['p99_ms']:.2f}",
            f"{r['fps']:.1f}", f"{r['gmac']:.2f}" if "gmac" in r else "-", f"{r['gmac_per_s']:.1f}" if "gmac_per_s" in r else "-",
            f"{r['efficiency']:.2f}" if "efficiency" in r else "-",
            "-" if r["peak_mem_mb"] is None else f"{r['peak_mem_mb']:.0f}", ",".join(r["providers"])]


def machine_line(env: dict[str, Any]) -> str:
    """CPU model, cores, ISA flags, versions and threads in one line (printed with every table)."""
    m, v, t = env["machine"], env["versions"], env["threads"]
    extra = "".join(f", {k} {v[k]}" for k in ("openvino", "nncf") if k in v)
    return (f"{m['cpu']} ({m['physical_cores']} physical / {m['logical_cores']} logical cores), ISA: "
            f"{' '.join(m.get('isa') or []) or 'n/a'}; GPU: {m['gpu'] or 'none'}; torch {v.get('torch', '?')}, onnxruntime "
            f"{v.get('onnxruntime', v.get('onnxruntime-gpu', '?'))}{extra}; threads: torch {t['torch']}, ORT/OpenVINO {t['ort_intra_op']}")


def render_markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    m = env["machine"]
    v = env["versions"]
    lines = [
        f"# tryon bench: {result['task']}" + (f" vs {result['compare']}" if result.get("compare") else ""),
        "",
        f"{env['date']} — {machine_line(env)}; {m['ram_gb']} GiB RAM; tryon {v.get('tryon', '?')}; "
        f"{result['config']['iters']} timed runs after {result['config']['warmup']} warm-up runs.",
        "",
        markdown_table(_COLUMNS, [_row_cells(r) for r in result["results"]], numeric=[False] * len(_COLUMNS)),
    ]
    refs = result.get("reference_conv") or []
    if refs:
        lines += ["", "Reference graph (4 chained 3x3 convs 64->64 at 128x96, batch 1) per backend: "
                  + "; ".join(f"{r['backend']} {r['precision']} {r['threads']} thr: {r['p50_ms']:.2f} ms = {r['gmac_per_s']:.1f} GMAC/s"
                              for r in refs)]
    ratios = result["ratios"]
    if ratios.get("vs_torch"):
        lines += ["", "Speed-up over eager torch (same component, size, batch):", ""]
        lines += [f"- {x['backend']} B={x['batch']} {x['size'][0]}x{x['size'][1]}: ×{x['speedup']:.2f}" for x in ratios["vs_torch"]]
    if ratios.get("compare"):
        lines += ["", f"Whole pipeline, {result['task']} vs {result['compare']} (×: how much faster {result['task']} is):", ""]
        lines += [f"- B={x['batch']} {x['size'][0]}x{x['size'][1]}: ×{x['speedup']:.2f}" for x in ratios["compare"]]
    if result.get("skipped"):
        lines += ["", "Skipped:", ""]
        lines += [f"- {s['task']} {s['backend']}: {s['reason']}" for s in result["skipped"]]
    lines += ["", "Notes: " + "; ".join(env.get("notes", [])), ""]
    return "\n".join(lines)


def write_reports(result: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    out = Path(out_dir)
    paths = {"json": out / "bench.json", "md": out / "bench.md"}
    atomic_write_text(paths["json"], json.dumps(result, indent=2) + "\n")
    atomic_write_text(paths["md"], render_markdown(result))
    return paths


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tryon bench {result['task']}" + (f" vs {result['compare']}" if result.get("compare") else ""))
    for c in _COLUMNS:
        table.add_column(c, justify="right" if c not in ("task", "backend", "providers") else "left")
    for r in result["results"]:
        table.add_row(*_row_cells(r))
    console = Console(width=max(140, Console().width))
    console.print(machine_line(result["environment"]))
    console.print(table)
    for r in result.get("reference_conv", []):
        console.print(f"reference conv ({r['backend']}, {r['precision']}, {r['threads']} threads): p50 {r['p50_ms']:.2f} ms, "
                      f"{r['gmac_per_s']:.1f} GMAC/s")
    for x in result["ratios"].get("compare", []):
        console.print(f"{result['task']} vs {x['other']} (whole pipeline) B={x['batch']} "
                      f"{x['size'][0]}x{x['size'][1]}: ×{x['speedup']:.2f}")
    for s in result.get("skipped", []):
        console.print(f"[yellow]skipped[/] {s['task']} {s['backend']}: {s['reason']}")


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,4,16, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def _names(text: str) -> list[str]:
    vals = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [v for v in vals if v not in BACKENDS]
    if bad or not vals:
        raise argparse.ArgumentTypeError(f"unknown backend(s) {bad}; known: {', '.join(BACKENDS)}")
    return vals


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task to benchmark (see `tryon tasks`)")
    p.add_argument("--weights", default=None, help="weights folder (default: random weights — speed only)")
    p.add_argument("--sizes", type=parse_sizes, default=None, help="resolutions HxW, comma-separated (default: the pipeline's)")
    p.add_argument("--batches", type=_ints, default=[1, 4, 16], help="batch sizes (default 1,4,16)")
    p.add_argument("--backends", type=_names, default=list(BACKENDS), help=f"comma-separated among {','.join(BACKENDS)} (default all)")
    p.add_argument("--iters", type=int, default=20, help="timed runs per row (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up runs per row (default 5)")
    p.add_argument("--threads", type=int, default=None, help="torch and ORT intra-op threads (default: torch's / physical cores)")
    p.add_argument("--compare", default=None, metavar="OTHER_TASK", help="also time OTHER_TASK's whole pipeline; record the speed ratio")
    p.add_argument("--compare-weights", default=None, help="weights folder of OTHER_TASK")
    p.add_argument("--component", default=None, help="exportable component (default: the task's first)")
    p.add_argument("--export", default=None, help="existing export folder to time on the ORT backends (needed for ort-int8)")
    p.add_argument("--emulated", action="store_true",
                   help="also time int8 / bf16 rows on a CPU without VNNI / native bf16 (skipped by default: misleading)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--out", default=None, help="folder for bench.json and bench.md (default runs/bench/<task>)")
    p.add_argument("--json", action="store_true", help="print bench.json instead of the table")


def _run(args: argparse.Namespace) -> int:
    out = args.out or f"runs/bench/{args.task}"
    quiet = args.json
    result = run_bench(
        args.task, weights=args.weights, sizes=args.sizes, batches=args.batches, backends=args.backends,
        iters=args.iters, warmup=args.warmup, threads=args.threads, compare=args.compare,
        compare_weights=args.compare_weights, out_dir=out, device=args.device, export_dir=args.export,
        component=args.component, progress=None if quiet else (lambda msg: print(f"  {msg}", file=sys.stderr)),
        emulated=args.emulated,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
        print(f"wrote {Path(out) / 'bench.json'} and {Path(out) / 'bench.md'}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("bench", help="time a task: torch vs onnxruntime backends, batch sweep, latency percentiles",
                    configure=_configure, run=_run)


__all__ = ["run_bench", "validate_bench_json", "render_markdown", "write_reports", "environment", "time_fn",
           "summarise", "register_cli", "BACKENDS", "SCHEMA_VERSION"]
