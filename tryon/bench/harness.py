"""The harness: :func:`run_bench` times each backend at each size and batch (see :mod:`tryon.bench` for what it records)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence


from ..errors import TryonError
from ..hardware import missing as missing_isa
from .facts import environment
from .render import write_reports
from .schema import BACKENDS, SCHEMA_VERSION, validate_bench_json
from .timing import rss_mb, summarise, time_fn
from .yardstick import Yardstick, add_efficiency, openvino_unavailable, parity_vs_fp32

ORT_BACKENDS = {
    "ort-cpu": (["CPUExecutionProvider"], "fp32"),
    "ort-cuda": (["CUDAExecutionProvider"], "fp32"),
    "ort-trt": (["TensorrtExecutionProvider", "CUDAExecutionProvider"], "fp32"),
    "ort-int8": (["CPUExecutionProvider"], "int8"),
}
#: OpenVINO CPU backends (optional extra): backend name -> precision
OV_BACKENDS = {"ov-fp32": "fp32", "ov-bf16": "bf16", "ov-int8": "int8"}
#: The CPU feature (tryon.hardware.FEATURES) a backend's precision needs to be faster than fp32.
#: (ov-bf16 is refused by the OpenVINO session itself, with the same reason: it would run in fp32.)
ISA_NEEDS = {"ort-int8": "vnni", "ov-int8": "vnni"}


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
        mem = round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_cuda else rss_mb()
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

    from ..export.onnx import export_onnx, resolve_export_spec
    from ..runtime import ImageModelSession, available_providers, onnxruntime_distribution, read_manifest

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
    yard = Yardstick(tmp_root, warmup, iters, b)
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
                        add_efficiency(row, macs_torch * batch, yard.torch_reference(str(device), on_cuda))
                elif backend == "torch-pipeline":
                    _bench_pipeline(b, task, task_spec, pipe, batches, real_size, device, on_cuda)
                else:
                    if spec is None:
                        b.skip(task, backend, real_size, "the task declares no exportable component")
                        continue
                    needs = ISA_NEEDS.get(backend)
                    lacking = missing_isa(needs) if needs else None
                    if lacking and not emulated:
                        b.skip(task, backend, real_size, f"{lacking}: {backend} would run on emulated kernels, its speed would "
                               "mislead (time it anyway with emulated=True / --emulated)")
                        continue
                    if backend in OV_BACKENDS:
                        providers, variant, kind = ["CPUExecutionProvider"], OV_BACKENDS[backend], "openvino"
                        reason = openvino_unavailable(variant)
                        if reason:
                            b.skip(task, backend, real_size, reason)
                            continue
                    else:
                        (providers, variant), kind = ORT_BACKENDS[backend], "ort"
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
                        add_efficiency(row, macs * batch, ref)
                        row.update(parity_vs_fp32(fn(), fp32.run(None, feeds)))
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



__all__ = ["BACKENDS", "ISA_NEEDS", "ORT_BACKENDS", "OV_BACKENDS", "run_bench"]
