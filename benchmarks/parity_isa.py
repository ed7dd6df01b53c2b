"""The export's parity figures under every ISA level this CPU can be held to (docs/portability.md).

For each level (native, AVX2, scalar/SSE4.1 — those at or below this CPU's), a fresh process holds torch and
oneDNN to it, exports S-WUTON (random weights, a non-identity TPS) at 64×48 with parity at batch 1 and 3, and
records from the manifest: onnxruntime vs torch fp32 (the figure a fixed bound used to judge), each engine's
error vs the float64 run, the bound of the criterion and the margin. ``results.json`` (machine, versions and
date included) and ``table.md`` are written, the table printed::

    .venv/bin/python benchmarks/parity_isa.py --out runs/parity-isa        # ~1 min on 2 cores
    .venv/bin/python benchmarks/parity_isa.py --out runs/parity-isa --render-only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "parity-isa"
#: ``levels`` None: native, AVX2 when this CPU has AVX-512, and SSE4.1
BUDGETS = {
    "tiny": {"size": "64x48", "levels": "native", "batches": "1"},
    "default": {"size": "64x48", "levels": None, "batches": "1,3"},
}
LEVELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "TRYON_MAX_ISA": "avx2"},
    "sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "TRYON_MAX_ISA": "sse41"},
}
COLUMNS = ["level", "torch_capability", "output", "ort_vs_torch32", "ort_vs_float64", "torch32_vs_float64", "bound", "ratio",
           "old_fixed_bound_1e-4"]

CHILD = r"""
import json, sys, tempfile, torch
import tryon
from tryon.export import export_onnx
size = tuple(int(v) for v in sys.argv[1].split("x"))
batches = tuple(int(b) for b in sys.argv[2].split(","))
torch.manual_seed(0)
pipe = tryon.load("wuton-student", device="cpu", size=list(size))
with torch.no_grad():
    pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
pipe.eval()
with tempfile.TemporaryDirectory() as d:
    m = export_onnx(pipe, "student", d + "/e", parity_batches=batches)
print(json.dumps({"parity": m["parity"], "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--size", default=None, help="HxW of the exported student (budget: 64x48)")
    ap.add_argument("--levels", default=None, help="comma-separated among native,avx2,sse41 (default: those this CPU has)")
    ap.add_argument("--batches", default=None, help="parity batches (budget: 1,3)")


def level_rows(level: str, size: str, batches: str) -> list[dict[str, Any]]:
    env = {**os.environ, **LEVELS[level]}
    proc = subprocess.run([sys.executable, "-c", CHILD, size, batches], capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        return [{"level": level, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    p = res["parity"]
    return [{"level": level, "torch_capability": res["capability"], "output": name,
             "ort_vs_torch32": p["by_output"][name], "ort_vs_float64": p["error_vs_float64"][name],
             "torch32_vs_float64": p["torch_fp32_error"][name], "bound": p["bound"][name],
             "ratio": p["error_vs_float64"][name] / max(p["torch_fp32_error"][name], 1e-30),
             "old_fixed_bound_1e-4": "fail" if p["by_output"][name] > 1e-4 else "pass"} for name in p["bound"]]


def compute(study: Study, args: argparse.Namespace) -> None:
    from tryon import hardware

    s = study.settings(args)
    levels = s["levels"].split(",") if s["levels"] else ["native"] + (["avx2"] if hardware.has("avx512") else []) + ["sse41"]
    rows: list[dict[str, Any]] = []
    for level in levels:
        with study.section(f"level {level}"):
            rows += level_rows(level, s["size"], s["batches"])
    study.results.update({"size": s["size"], "batches": [int(b) for b in s["batches"].split(",")], "levels": levels, "rows": rows})


def _cell(row: dict[str, Any], col: str) -> Any:
    v = row.get(col, "")
    if not isinstance(v, float):
        return v
    return f"{v:.2f}" if col == "ratio" else f"{v:.2e}"


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    batches = " and ".join(str(b) for b in results.get("batches", [1, 3]))
    head = f"S-WUTON {results['size']}, batches {batches}, random + example inputs; {machine_summary(results)}.\n\n"
    ok = [r for r in results["rows"] if "error" not in r]
    text = head + markdown_table(COLUMNS, [[_cell(r, c) for c in COLUMNS] for r in ok])
    failed = [r for r in results["rows"] if "error" in r]
    if failed:
        text += "\n\nFailed levels: " + "; ".join(f"{r['level']}: {r['error']}" for r in failed)
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/parity-isa")


if __name__ == "__main__":
    sys.exit(main())
