"""ORT int8 variants of the S-WUTON student side by side: speed vs fp32 and SSIM vs fp32.

    .venv/bin/python benchmarks/int8_variants.py --export runs/bench/export-256x192 --out runs/bench-int8 [--threads 1]

Takes an fp32 export folder (e.g. the one ``benchmarks/wuton_fps.py`` wrote, with its fitted weights), draws
calibration pairs from the *training* split and quality pairs from the *test* split of a synthetic dataset
at the export's resolution, and for each variant of :func:`tryon.export.quantize_int8` (QDQ vs QOperator,
s8 vs u8 activations, symmetric activations, reduce_range, per-tensor weights, MinMax vs Percentile
calibration, last layers kept fp32) writes ``model_int8.onnx`` into a copy of the folder, then times every
variant and fp32 in interleaved rounds in one process (medians; the order alternates so background load
hits all alike) and scores SSIM of the try-on image vs fp32 ONNX. Writes ``results.json`` and ``table.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "int8-variants"
VARIANTS = {
    "qdq-s8+convT (old default)": {"activation_type": "int8", "op_types": ("Conv", "ConvTranspose", "Gemm", "MatMul")},
    "qdq-u8+convT": {"activation_type": "uint8", "op_types": ("Conv", "ConvTranspose", "Gemm", "MatMul")},
    "qdq-u8 (new default)": {},
    "qdq-u8-symmetric": {"activation_type": "uint8", "symmetric_activations": True},
    "qdq-s8-symmetric": {"activation_type": "int8", "symmetric_activations": True},
    "qdq-u8-reduce-range": {"activation_type": "uint8", "reduce_range": True},
    "qdq-u8-per-tensor": {"activation_type": "uint8", "per_channel": False},
    "qdq-u8-percentile": {"activation_type": "uint8", "calibration": "percentile"},
    "qdq-u8-last2-fp32": {"activation_type": "uint8", "keep_last_fp32": 2},
    "qoperator-u8": {"quant_format": "qoperator", "activation_type": "uint8"},
    "qoperator-u8-last2-fp32": {"quant_format": "qoperator", "activation_type": "uint8", "keep_last_fp32": 2},
    "qdq-u8-last2-fp32-convT-fp32": {"activation_type": "uint8", "keep_last_fp32": 2, "op_types": ("Conv", "Gemm", "MatMul")},
    "qoperator-u8-last2-convT-fp32": {"quant_format": "qoperator", "activation_type": "uint8", "keep_last_fp32": 2,
                                      "op_types": ("Conv", "Gemm", "MatMul")},
}
BUDGETS = {
    "tiny": {"calibration": 2, "pairs": 1, "rounds": 2, "variants": "qdq-u8 (new default),qoperator-u8"},
    "default": {"calibration": 16, "pairs": 8, "rounds": 15, "variants": ",".join(VARIANTS)},
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--export", default=None, help="fp32 export folder of wuton-student (required unless --render-only)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--calibration", type=int, default=None, help="calibration pairs (budget: 16)")
    ap.add_argument("--pairs", type=int, default=None, help="held-out pairs for SSIM (budget: 8)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (budget: 15)")
    ap.add_argument("--variants", default=None, help="comma-separated variant names (budget: all)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from tryon.errors import InputError
    from tryon.export import quantize_int8
    from tryon.metrics import ssim
    from tryon.runtime import ImageModelSession, read_manifest
    from tryon_wuton.data import TryOnDataset
    from tryon_wuton.data.synth import generate
    from tryon_wuton.experiments.speed import calibration_inputs

    s = study.settings(args)
    names = [v for v in s["variants"].split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise InputError("--variants", f"names among {', '.join(VARIANTS)}", ", ".join(unknown))
    if not args.export:
        raise InputError("--export", "the fp32 export folder to quantise", "none given")
    export, manifest = read_manifest(args.export)
    size = tuple(manifest["resolution"])
    with tempfile.TemporaryDirectory() as tmp:
        with study.section("data"):
            data = Path(tmp) / "data"
            n = s["calibration"] + 2 * s["pairs"] + 4
            generate(data, n, size=size, seed=321, test_fraction=(s["pairs"] + 1) / n, progress=False)
            calib = calibration_inputs(data, size, n=s["calibration"])
            test = TryOnDataset(data, split="test", pairs="unpaired", size=size)
            feeds = [{"person": test[i]["person"][None].numpy(), "garment": test[i]["garment"][None].numpy()}
                     for i in range(min(s["pairs"], len(test)))]
        sessions = {"fp32": ImageModelSession(export, intra_op_threads=args.threads)}
        info: dict[str, dict[str, Any]] = {}
        with study.section("quantise"):
            for name in names:
                d = Path(tmp) / f"v{len(info)}"
                shutil.copytree(export, d)
                m = quantize_int8(d, calib, parity_batches=(1,), **VARIANTS[name])["models"]["int8"]
                sessions[name] = ImageModelSession(d, intra_op_threads=args.threads, precision="int8")
                info[name] = {"settings": m["calibration"], "ops": m["ops"], "parity_max_abs": m["parity"]["max_abs_error"]}
        with study.section("quality"):
            ref = torch.from_numpy(np.concatenate([sessions["fp32"].run_arrays(f)["image"] for f in feeds]))
            for name in names:
                got = torch.from_numpy(np.concatenate([sessions[name].run_arrays(f)["image"] for f in feeds]))
                info[name]["ssim_vs_fp32"] = round(float(ssim(got, ref)), 5)
                info[name]["mean_abs_vs_fp32"] = round(float((got - ref).abs().mean()), 6)
        times: dict[str, list[float]] = {k: [] for k in sessions}
        order = list(sessions)
        with study.section("timing"):
            for sess in sessions.values():
                sess.run_arrays(feeds[0])
            for r in range(s["rounds"]):
                for k in (order if r % 2 == 0 else order[::-1]):
                    t0 = time.perf_counter()
                    sessions[k].session.run(None, feeds[0])
                    times[k].append((time.perf_counter() - t0) * 1000)
    fp32 = float(np.median(times["fp32"]))
    rows = [{"variant": "fp32", "p50_ms": round(fp32, 3), "speedup": 1.0}]
    for name in names:
        p50 = float(np.median(times[name]))
        rows.append({"variant": name, "p50_ms": round(p50, 3), "speedup": round(fp32 / p50, 3), **info[name]})
    study.results.update({"export": str(export), "resolution": list(size), "threads": args.threads, "rounds": s["rounds"],
                          "calibration_pairs": s["calibration"], "quality_pairs": len(feeds), "rows": rows})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    h, w = results["resolution"]
    head = (f"S-WUTON export {h}x{w}, ORT CPU {results['threads'] or 'default'} intra-op thread(s), median of "
            f"{results['rounds']} interleaved rounds, SSIM on {results['quality_pairs']} held-out pairs; {machine_summary(results)}")
    table = markdown_table(["variant", "p50 ms", "× fp32", "SSIM vs fp32", "mean abs vs fp32"],
                           [[r["variant"], f"{r['p50_ms']:.1f}", f"{r['speedup']:.2f}", f"{r.get('ssim_vs_fp32', 1.0):.4f}",
                             f"{r.get('mean_abs_vs_fp32', 0.0):.4f}"] for r in results["rows"]])
    text = head + "\n\n" + table + "\n"
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-int8")


if __name__ == "__main__":
    sys.exit(main())
