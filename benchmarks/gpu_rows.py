"""GPU rows: torch CUDA eager, ORT CUDA EP fp32/fp16, ORT TensorRT EP, at batches × resolutions.

    .venv/bin/python benchmarks/gpu_rows.py --out runs/bench-gpu [--task wuton-student] [--sizes 256x192,512x384]
        [--batches 1,8,32] [--iters 30] [--dry-run]

Called by ``benchmarks/gpu.sh`` (which installs the ``onnx-gpu`` extra first). For each resolution the
task's component is exported once (fp32 + ``model_fp16.onnx``, parity checked) and timed: ``torch-cuda``
(eager, ``inference_mode``, synchronised), ``ort-cuda`` fp32 and fp16, ``ort-trt`` fp32 (TensorRT EP, only
when it loads — its engine build is done in the warm-up). A row that cannot run is recorded under
``skipped`` with the reason (no CUDA device, onnxruntime without the CUDA/TensorRT provider, silent
CPU fallback refused by :class:`tryon.runtime.ImageModelSession`). ``--dry-run``: one iteration, no
warm-up (a CPU machine then gets every CUDA row skipped, and the JSON/Markdown written: the test of this
script). ORT rows use host inputs (no IO binding): copies are inside the timing, as in ``tryon bench``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any


def run(task: str, sizes: list[tuple[int, int]], batches: list[int], iters: int, warmup: int, out: Path,
        weights: str | None = None) -> dict[str, Any]:
    import torch

    import tryon
    from tryon.bench import environment, summarise, time_fn
    from tryon.errors import TryonError
    from tryon.export import export_onnx
    from tryon.export.onnx import resolve_export_spec
    from tryon.fs import atomic_write_text
    from tryon.runtime import ImageModelSession, available_providers

    cuda = torch.cuda.is_available()
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []

    def skip(backend: str, size: tuple[int, int], reason: str) -> None:
        skipped.append({"backend": backend, "size": list(size), "reason": reason})
        print(f"skip {backend} {size[0]}x{size[1]}: {reason}")

    def record(backend: str, precision: str, batch: int, size: tuple[int, int], fn: Any, sync: Any, providers: list[str]) -> None:
        times = time_fn(fn, warmup, iters, sync)
        row = {"task": task, "backend": backend, "precision": precision, "batch": batch, "size": list(size),
               **summarise(times, batch), "providers": providers}
        rows.append(row)
        print(f"{backend} {precision} B={batch} {size[0]}x{size[1]}: p50 {row['p50_ms']:.2f} ms, {row['fps']:.1f} img/s")

    with tempfile.TemporaryDirectory(prefix="tryon-gpu-") as tmp:
        for size in sizes:
            pipe = tryon.load(task, weights=weights, device="cuda" if cuda else "cpu", **({} if weights else {"size": list(size)}))
            spec, _ = resolve_export_spec(pipe, None, task)
            module = spec.build(pipe).eval()
            if cuda:
                for b in batches:
                    inputs = tuple(v.to("cuda") for v in spec.example_inputs(pipe, b).values())

                    def fn(m: Any = module, x: tuple = inputs) -> Any:
                        with torch.inference_mode():
                            return m(*x)

                    record("torch-cuda", "fp32", b, size, fn, torch.cuda.synchronize, [torch.cuda.get_device_name(0)])
            else:
                skip("torch-cuda", size, "torch.cuda.is_available() is False (no CUDA device or a CPU build of torch)")
            export_dir = Path(tmp) / f"{size[0]}x{size[1]}"
            cpu_pipe = pipe.to("cpu") if hasattr(pipe, "to") else pipe
            export_onnx(cpu_pipe, spec, export_dir, parity_batches=(1,), fp16=True, task=task)
            for backend, providers, model in (("ort-cuda", ["cuda"], "fp32"), ("ort-cuda", ["cuda"], "fp16"),
                                              ("ort-trt", ["trt", "cuda"], "fp32")):
                try:
                    sess = ImageModelSession(export_dir, providers=providers, model=model)
                except TryonError as exc:
                    skip(f"{backend}-{model}", size, str(exc) + f" (available providers: {', '.join(available_providers())})")
                    continue
                for b in batches:
                    feeds = sess.dummy_feeds(b)

                    def fn(s: Any = sess, f: dict = feeds) -> Any:
                        return s.session.run(None, f)

                    record(backend, model, b, size, fn, None, sess.providers_used)
            if cuda:
                pipe.to("cpu")
            del pipe
    result = {"task": task, "config": {"sizes": [list(s) for s in sizes], "batches": batches, "iters": iters, "warmup": warmup,
                                       "weights": weights}, "environment": environment(), "results": rows, "skipped": skipped}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "gpu.json", json.dumps(result, indent=2) + "\n")
    lines = ["| backend | precision | batch | size | p50 ms | p95 ms | img/s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['backend']} | {r['precision']} | {r['batch']} | {r['size'][0]}x{r['size'][1]} | {r['p50_ms']:.2f} | "
              f"{r['p95_ms']:.2f} | {r['fps']:.1f} |" for r in rows]
    lines += ["", "Skipped:", ""] + [f"- {s['backend']} {s['size'][0]}x{s['size'][1]}: {s['reason']}" for s in skipped]
    atomic_write_text(out / "gpu.md", "\n".join(lines) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    from tryon.cli import parse_sizes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench-gpu")
    ap.add_argument("--task", default="wuton-student")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--sizes", type=parse_sizes, default=[(256, 192), (512, 384)])
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--dry-run", action="store_true", help="1 iteration, no warm-up")
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    iters, warmup = (1, 0) if args.dry_run else (args.iters, args.warmup)
    run(args.task, [tuple(s) for s in args.sizes], batches, iters, warmup, Path(args.out), args.weights)
    print(f"wrote {Path(args.out) / 'gpu.json'} and {Path(args.out) / 'gpu.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
