"""GPU rows: torch CUDA eager, ORT CUDA EP fp32/fp16, ORT TensorRT EP, at batches × resolutions.

    .venv/bin/python benchmarks/gpu_rows.py --out runs/bench-gpu [--task wuton-student] [--sizes 256x192,512x384]
        [--batches 1,8,32] [--iters 30] [--dry-run]

Called by ``benchmarks/gpu.sh`` (which installs the ``onnx-gpu`` extra first). For each resolution the
task's component is exported once (fp32 + ``model_fp16.onnx``, parity checked) and timed: ``torch-cuda``
(eager, ``inference_mode``, synchronised), ``ort-cuda`` fp32 and fp16, ``ort-trt`` fp32 (TensorRT EP, only
when it loads — its engine build is done in the warm-up). A row that cannot run is recorded under
``skipped`` with the reason (no CUDA device, onnxruntime without the CUDA/TensorRT provider, silent
CPU fallback refused by :class:`tryon.runtime.ImageModelSession`). ``--dry-run`` (= ``--budget tiny``): one
iteration, no warm-up (a CPU machine then gets every CUDA row skipped, and ``results.json``/``table.md`` written:
the test of this script). ORT rows use host inputs (no IO binding): copies are inside the timing, as in
``tryon bench``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gpu-rows"
BUDGETS = {
    "tiny": {"sizes": "256x192,512x384", "batches": "1,8,32", "iters": 1, "warmup": 0},
    "default": {"sizes": "256x192,512x384", "batches": "1,8,32", "iters": 30, "warmup": 5},
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--dry-run", dest="budget", action="store_const", const="tiny",
                    help="same as --budget tiny: 1 iteration, no warm-up")
    ap.add_argument("--task", default="wuton-student")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--sizes", default=None, help="HxW list (budget: 256x192,512x384)")
    ap.add_argument("--batches", default=None, help="budget: 1,8,32")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--exporter", choices=("auto", "dynamo", "torchscript"), default="auto", help="ONNX exporter (default auto)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon.bench import summarise, time_fn
    from tryon.cli import parse_sizes
    from tryon.errors import TryonError
    from tryon.export import export_onnx
    from tryon.export.onnx import resolve_export_spec
    from tryon.runtime import ImageModelSession, available_providers, onnxruntime_distribution

    s = study.settings(args)
    task, weights, iters, warmup = args.task, args.weights, s["iters"], s["warmup"]
    sizes = [tuple(v) for v in parse_sizes(s["sizes"])]
    batches = [int(b) for b in str(s["batches"]).split(",")]
    cuda = torch.cuda.is_available()
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []

    def skip(backend: str, size: tuple[int, int], reason: str) -> None:
        skipped.append({"backend": backend, "size": list(size), "reason": reason})
        print(f"skip {backend} {size[0]}x{size[1]}: {reason}", file=sys.stderr)

    def record(backend: str, precision: str, batch: int, size: tuple[int, int], fn: Any, sync: Any, providers: list[str]) -> None:
        times = time_fn(fn, warmup, iters, sync)
        rows.append({"task": task, "backend": backend, "precision": precision, "batch": batch, "size": list(size),
                     **summarise(times, batch), "providers": providers})

    with tempfile.TemporaryDirectory(prefix="tryon-gpu-") as tmp:
        for size in sizes:
            with study.section(f"{size[0]}x{size[1]}"):
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
                export_onnx(cpu_pipe, spec, export_dir, parity_batches=(1,), fp16=True, task=task, exporter=args.exporter)
                for backend, providers, model in (("ort-cuda", ["cuda"], "fp32"), ("ort-cuda", ["cuda"], "fp16"),
                                                  ("ort-trt", ["trt", "cuda"], "fp32")):
                    try:
                        sess = ImageModelSession(export_dir, providers=providers, model=model)
                    except TryonError as exc:
                        skip(f"{backend}-{model}", size, str(exc) + f" (available providers: {', '.join(available_providers())})")
                        continue
                    for b in batches:
                        feeds = sess.dummy_feeds(b)

                        def fn(s_: Any = sess, f: dict = feeds) -> Any:
                            return s_.session.run(None, f)

                        record(backend, model, b, size, fn, None, sess.providers_used)
                if cuda:
                    pipe.to("cpu")
                del pipe
    study.results.update({"task": task, "config": {"sizes": [list(v) for v in sizes], "batches": batches, "iters": iters,
                                                   "warmup": warmup, "weights": weights},
                          "onnxruntime_distribution": onnxruntime_distribution(),
                          "ort_available_providers": available_providers(), "results": rows, "skipped": skipped})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    c = results["config"]
    gpu = results["machine"].get("gpu") or "none"
    lines = [f"{results['task']}, {c['iters']} timed iterations after {c['warmup']} warm-up; GPU: {gpu}; "
             f"onnxruntime providers: {', '.join(results['ort_available_providers'])}; {machine_summary(results)}", "",
             markdown_table(["backend", "precision", "batch", "size", "p50 ms", "p95 ms", "img/s"],
                            [[r["backend"], r["precision"], r["batch"], f"{r['size'][0]}x{r['size'][1]}", f"{r['p50_ms']:.2f}",
                              f"{r['p95_ms']:.2f}", f"{r['fps']:.1f}"] for r in results["results"]])]
    lines += ["", "Skipped:", ""] + [f"- {s['backend']} {s['size'][0]}x{s['size'][1]}: {s['reason']}" for s in results["skipped"]]
    text = "\n".join(lines) + "\n"
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-gpu")


if __name__ == "__main__":
    sys.exit(main())
