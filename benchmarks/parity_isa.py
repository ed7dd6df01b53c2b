"""The export's parity figures under every ISA level this CPU can be held to (docs/portability.md).

For each level (native, AVX2, scalar/SSE4.1 — those at or below this CPU's), a fresh process holds torch and
oneDNN to it, exports S-WUTON (random weights, a non-identity TPS) at 64×48 with parity at batch 1 and 3, and
records from the manifest: onnxruntime vs torch fp32 (the figure a fixed bound used to judge), each engine's
error vs the float64 run, the bound of the criterion and the margin. A table is printed and
``results.json`` written (machine, CPU flags, date)::

    .venv/bin/python benchmarks/parity_isa.py --out runs/parity-isa        # ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

LEVELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "TRYON_MAX_ISA": "avx2"},
    "sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "TRYON_MAX_ISA": "sse41"},
}

CHILD = r"""
import json, sys, tempfile, torch
import tryon
from tryon.export import export_onnx
size = tuple(int(v) for v in sys.argv[1].split("x"))
torch.manual_seed(0)
pipe = tryon.load("wuton-student", device="cpu", size=list(size))
with torch.no_grad():
    pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
pipe.eval()
with tempfile.TemporaryDirectory() as d:
    m = export_onnx(pipe, "student", d + "/e", parity_batches=(1, 3))
print(json.dumps({"parity": m["parity"], "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def run(levels: list[str], size: str) -> dict:
    from tryon import hardware

    rows = []
    for level in levels:
        env = {**os.environ, **LEVELS[level]}
        proc = subprocess.run([sys.executable, "-c", CHILD, size], capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            rows.append({"level": level, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"})
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        p = res["parity"]
        for name in p["bound"]:
            rows.append({
                "level": level, "torch_capability": res["capability"], "output": name,
                "ort_vs_torch32": p["by_output"][name], "ort_vs_float64": p["error_vs_float64"][name],
                "torch32_vs_float64": p["torch_fp32_error"][name], "bound": p["bound"][name],
                "ratio": p["error_vs_float64"][name] / max(p["torch_fp32_error"][name], 1e-30),
                "old_fixed_bound_1e-4": "fail" if p["by_output"][name] > 1e-4 else "pass",
            })
    return {"benchmark": "parity_isa", "size": size, "machine": hardware.machine(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": rows}


def render(result: dict) -> str:
    from tryon.report import markdown_table

    m = result["machine"]
    head = (f"S-WUTON {result['size']}, batches 1 and 3, random + example inputs; {m['cpu']} "
            f"({', '.join(m['isa']) or 'no ISA flags read'}), {result['date'][:10]}.\n\n")
    cols = ["level", "torch_capability", "output", "ort_vs_torch32", "ort_vs_float64", "torch32_vs_float64", "bound", "ratio",
            "old_fixed_bound_1e-4"]
    table = [[r.get(c, "") if not isinstance(r.get(c), float) else f"{r[c]:.2e}" if c != "ratio" else f"{r[c]:.2f}" for c in cols]
             for r in result["rows"] if "error" not in r]
    return head + markdown_table(cols, table)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/parity-isa")
    ap.add_argument("--size", default="64x48")
    ap.add_argument("--levels", default=None, help="comma-separated among native,avx2,sse41 (default: those this CPU has)")
    args = ap.parse_args()
    from tryon import hardware
    from tryon.fs import atomic_write_json, atomic_write_text

    levels = args.levels.split(",") if args.levels else ["native"] + (["avx2"] if hardware.has("avx512") else []) + ["sse41"]
    result = run(levels, args.size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", result)
    text = render(result)
    atomic_write_text(out / "table.md", text + "\n")
    print(text)
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
