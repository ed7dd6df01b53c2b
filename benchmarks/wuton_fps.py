"""S-WUTON FPS benchmark: student vs teacher pipeline, torch eager vs onnxruntime (fp32, int8).

    .venv/bin/python benchmarks/wuton_fps.py --out runs/bench [--weights RUN2 --teacher RUN]
        [--sizes 256x192,512x384] [--batches 1,4,16] [--iters 30] [--threads 2]

Without weights, randomly initialised models are timed (speed does not depend on the weights). For each
resolution: export the student (fp32, parity checked), add the int8 model (ORT static quantisation,
calibrated on synthetic person/garment images of that resolution: its parity figure goes to the
manifest), then ``tryon.bench.run_bench`` over torch / ort-cpu / ort-int8 and the batch sweep, with the
teacher pipeline timed side by side (``compare``), plus the teacher's per-stage breakdown (parser share).
Writes ``bench.json`` and ``bench.md`` under ``--out``. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench")
    ap.add_argument("--weights", default=None, help="student run (default: random init)")
    ap.add_argument("--teacher", default=None, help="teacher run (default: random init)")
    ap.add_argument("--sizes", default="256x192,512x384")
    ap.add_argument("--batches", default="1,4,16")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--calibration", type=int, default=16, help="synthetic pairs for int8 calibration")
    args = ap.parse_args()

    import torch

    import tryon
    from tryon.bench import render_markdown, run_bench
    from tryon.export import export_onnx, quantize_int8
    from tryon_wuton.commands import parse_size
    from tryon_wuton.data import TryOnDataset
    from tryon_wuton.data.synth import generate
    from tryon_wuton.speed import calibration_inputs, teacher_breakdown

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]
    combined: dict = {"runs": [], "breakdown": []}
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        tag = f"{size[0]}x{size[1]}"
        student = tryon.load("wuton-student", weights=args.weights, device="cpu", **({} if args.weights else {"size": list(size)}))
        if tuple(student.size) != tuple(size):
            print(f"skip {tag}: the student weights are for {student.size}")
            continue
        spec = next(e for e in tryon.get_task("wuton-student").exportable if e.name == "student")
        export_dir = out / f"export-{tag}"
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "calib"
            generate(data, max(12, args.calibration + 2), size=size, seed=123, test_fraction=0.1, progress=False)
            ds = TryOnDataset(data, split="train", size=size)
            calib = calibration_inputs(data, size, n=args.calibration)
            real = {"person": torch.stack([ds[i]["person"] for i in range(2)]),
                    "garment": torch.stack([ds[i]["garment"] for i in range(2)])}
            # Real-image parity only for trained weights: in a *random* network many channels are nearly
            # constant on flat synthetic images, and InstanceNorm (eps 1e-5) amplifies float rounding up
            # to ~300x (measured 1.2e-4 random vs 9e-6 trained, 128x96). Random inputs are checked always.
            export_onnx(student, spec, export_dir, opset=17, check_inputs=real if args.weights else None)
            quantize_int8(export_dir, calib, data_note=f"{len(calib)} synthetic pairs at {tag}")
        res = run_bench("wuton-student", weights=args.weights, sizes=[size], batches=batches,
                        backends=["torch", "ort-cpu", "ort-int8"], iters=args.iters, warmup=args.warmup,
                        threads=args.threads, compare="wuton-teacher", compare_weights=args.teacher,
                        out_dir=out / f"bench-{tag}", export_dir=export_dir)
        combined["runs"].append(res)
        teacher = tryon.load("wuton-teacher", weights=args.teacher, device="cpu", **({} if args.teacher else {"size": list(size)}))
        bd = teacher_breakdown(teacher, batch=1, iters=args.iters, warmup=args.warmup)
        combined["breakdown"].append(bd)
        manifest = json.loads((export_dir / "manifest.json").read_text())
        combined.setdefault("parity", {})[tag] = {"fp32": manifest.get("parity"),
                                                  "int8": manifest.get("models", {}).get("int8", {}).get("parity")}
        print(render_markdown(res))
        print(f"teacher breakdown {tag} (torch, B=1, p50 ms): {bd['p50_ms']} — parser share {bd['parser_share']:.1%}")
    (out / "bench.json").write_text(json.dumps(combined, indent=2, default=str) + "\n")
    md = [render_markdown(r) for r in combined["runs"]]
    for bd in combined["breakdown"]:
        md.append(f"Teacher pipeline breakdown {bd['size'][0]}x{bd['size'][1]} (torch eager, B=1, p50 ms): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in bd["p50_ms"].items())
                  + f" — parser share {bd['parser_share']:.1%}, parser+agnostic {bd['parser_plus_agnostic_share']:.1%}")
    (out / "bench.md").write_text("\n\n".join(md) + "\n")
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")


if __name__ == "__main__":
    main()
