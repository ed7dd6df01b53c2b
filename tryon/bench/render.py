"""Reports of a benchmark: a Markdown table, ``bench.json`` + ``bench.md`` on disk, a rich table on the terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


from ..fs import atomic_write_text
from ..report import markdown_table

COLUMNS = ("task", "backend", "batch", "size", "p50 ms", "p95 ms", "p99 ms", "img/s", "GMAC", "GMAC/s", "eff.",
            "peak MB", "providers")


def row_cells(r: dict[str, Any]) -> list[str]:
    return [r["task"], r["backend"] + ("" if r.get("model", "fp32") in ("fp32",) else f" ({r['model']})"), str(r["batch"]),
            f"{r['size'][0]}x{r['size'][1]}", f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['p99_ms']:.2f}",
            f"{r['fps']:.1f}", f"{r['gmac']:.2f}" if "gmac" in r else "-", f"{r['gmac_per_s']:.1f}" if "gmac_per_s" in r else "-",
            f"{r['efficiency']:.2f}" if "efficiency" in r else "-",
            "-" if r["peak_mem_mb"] is None else f"{r['peak_mem_mb']:.0f}", ",".join(r["providers"])]


def machine_line(env: dict[str, Any]) -> str:
    """CPU model, cores, ISA flags, versions and threads in one line (printed with every table)."""
    m, v, t = env["machine"], env["versions"], env["threads"]
    extra = "".join(f", {k} {v[k]}" for k in ("openvino", "nncf") if k in v)
    return ((f"{m['cpu_class']}-class " if m.get("cpu_class") else "") + f"{m['cpu']} ({m['physical_cores']} physical / "
            f"{m['logical_cores']} logical cores), ISA: "
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
        markdown_table(COLUMNS, [row_cells(r) for r in result["results"]], numeric=[False] * len(COLUMNS)),
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
    for c in COLUMNS:
        table.add_column(c, justify="right" if c not in ("task", "backend", "providers") else "left")
    for r in result["results"]:
        table.add_row(*row_cells(r))
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



__all__ = ["COLUMNS", "machine_line", "print_table", "render_markdown", "row_cells", "write_reports"]
