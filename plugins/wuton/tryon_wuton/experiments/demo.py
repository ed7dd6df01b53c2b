"""``tryon demo wuton``: the whole try-on job end to end on built-in synthetic data (what ``make demo`` runs).

generate data → train parser → train T-WUTON → distil S-WUTON (λadv = 1 and the λadv = 0 ablation of
000 Table 4.5) → evaluate (unpaired ground truth, injected parser errors) → export the student to ONNX
(parity checked) → benchmark (student ORT / torch vs the teacher pipeline) → ``report.html``.

Every stage writes into its own folder under ``--out`` and is skipped when its result already exists,
so an interrupted demo resumes where it stopped (training stages also resume from their checkpoints).
The default budget (parser 100, teacher 420, students 240 steps each at batch 8) is sized to stay under
15 minutes on 2 CPU cores: the full App. E architecture at 128×96 (the speed stage also times 256×192),
with the training path's speed defaults (lazy gradient penalty, channels_last, cached items) and
``precision="auto"`` (bf16 autocast where the CPU has native bf16). Quality runs: docs/benchmarks.md.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from tryon.fs import atomic_write_json

log = logging.getLogger("tryon_wuton.experiments.demo")

SPEED_SIZE = (256, 192)
BUDGETS: dict[str, dict[str, int]] = {
    # samples, parser steps, teacher steps, student steps (each of the two), eval pairs, bench iters,
    # batch size, int8 calibration pairs
    "tiny": {"n": 120, "parser": 20, "teacher": 20, "student": 10, "eval": 16, "bench": 10, "batch": 4, "calibration": 8},
    "default": {"n": 1000, "parser": 100, "teacher": 420, "student": 240, "eval": 96, "bench": 20, "batch": 8, "calibration": 16},
    "long": {"n": 2400, "parser": 600, "teacher": 1500, "student": 800, "eval": 240, "bench": 60, "batch": 8, "calibration": 32},
}


class _Stages:
    """Runs named stages with timing, skipping those whose marker file exists."""

    def __init__(self, out: Path, console: Any):
        self.out, self.console, self.times = out, console, {}
        self.state_path = out / "demo_state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if name in self.state.get("done", {}):
            self.console.print(f"[dim]✓ {name}: done earlier, skipped[/]")
            self.times[name] = self.state["done"][name]["seconds"]
            return self.state["done"][name].get("result")
        self.console.rule(f"[bold]{name}")
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        self.times[name] = dt
        self.state.setdefault("done", {})[name] = {"seconds": dt, "result": result}
        atomic_write_json(self.state_path, self.state, default=str)
        self.console.print(f"[green]✓ {name}[/] in {dt:.1f} s")
        return result


def run_demo(out: Path, *, size: tuple[int, int] = (128, 96), budget: str = "default", seed: int = 0,
             vgg_weights: str | None = None, bench: bool = True) -> dict[str, Any]:
    from rich.console import Console

    console = Console()
    b = BUDGETS[budget]
    out.mkdir(parents=True, exist_ok=True)
    data, parser_run, teacher_run = out / "data", out / "parser", out / "teacher"
    student_run, student0_run = out / "student", out / "student_noadv"
    st = _Stages(out, console)
    t_start = time.perf_counter()
    # precision "auto": bf16 autocast where the CPU has native bf16 (avx512_bf16 / AMX), else fp32 — about 1.5x
    # faster steps at the same losses (docs/benchmarks.md, training throughput)
    common = {"seed": seed, "log_every": 5, "ckpt_every": 50, "precision": "auto", "batch_size": b["batch"]}

    def loop(defaults: dict, run: Path, steps: int) -> Any:
        from tryon.train import TrainConfig

        return TrainConfig(**{**defaults, **common, "out_dir": str(run), "max_steps": steps})

    def synth() -> dict:
        from ..data.synth import generate

        if data.exists():
            return json.loads((data / "synth_meta.json").read_text())
        return generate(data, b["n"], size=size, seed=seed, test_fraction=0.1)

    def parser() -> dict:
        from ..training.parser import PARSER_LOOP, ParserTaskConfig, train_parser

        return train_parser(loop(PARSER_LOOP, parser_run, b["parser"]), ParserTaskConfig(data=data, size=size))

    def teacher() -> dict:
        from ..training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

        return train_teacher(loop(TEACHER_LOOP, teacher_run, b["teacher"]),
                             TeacherTaskConfig(data=data, size=size, parser_run=parser_run, vgg_weights=vgg_weights))

    def student(lam: float, run: Path) -> Callable[[], dict]:
        def go() -> dict:
            from ..training.student import STUDENT_LOOP, StudentTaskConfig, distill_student

            return distill_student(loop(STUDENT_LOOP, run, b["student"]),
                                   StudentTaskConfig(teacher_run=teacher_run, data=data, lambda_adv=lam,
                                                     vgg_weights=vgg_weights, cache_teacher=out / "teacher_cache"))
        return go

    def evaluate() -> dict:
        from .evaluate import evaluate_tryon

        res = evaluate_tryon(data, out / "eval", teacher=teacher_run,
                             students={"S-WUTON": student_run, "S-WUTON λadv=0": student0_run},
                             max_pairs=b["eval"], seed=seed)
        return {"table": res["table"]}

    def export() -> dict:
        import torch

        import tryon
        from tryon.export import export_onnx, quantize_int8

        from ..data import TryOnDataset
        from .speed import calibration_inputs, int8_quality

        export_dir = out / "export" / "wuton-student"
        pipe = tryon.load("wuton-student", weights=student_run, device="cpu")
        spec = next(e for e in tryon.get_task("wuton-student").exportable if e.name == "student")
        test = TryOnDataset(data, split="test", size=size)
        real = {k: torch.stack([test[i][k] for i in range(min(3, len(test)))]) for k in ("person", "garment")}
        manifest = export_onnx(pipe, spec, export_dir, opset=17, check_inputs=real)
        calib = calibration_inputs(data, size, n=b["calibration"])
        manifest = quantize_int8(export_dir, calib, data_note=f"{len(calib)} synthetic training pairs at {size[0]}x{size[1]}")
        quality = int8_quality(export_dir, data, max_pairs=b["eval"])
        atomic_write_json(export_dir / "int8_quality.json", quality)
        return {"parity": manifest.get("parity"), "int8_parity": manifest["models"]["int8"].get("parity"),
                "int8_quality": quality, "path": str(export_dir)}

    def benchmark() -> dict:
        import tryon
        from tryon.bench import run_bench

        res = run_bench("wuton-student", weights=str(student_run), sizes=[size], batches=[1],
                        backends=["torch", "ort-cpu", "ort-int8"], iters=b["bench"], warmup=3, compare="wuton-teacher",
                        compare_weights=str(teacher_run), out_dir=out / "bench",
                        export_dir=out / "export" / "wuton-student")
        from .speed import teacher_breakdown

        teacher_pipe = tryon.load("wuton-teacher", weights=teacher_run, device="cpu")
        bd = teacher_breakdown(teacher_pipe, batch=1, iters=b["bench"], warmup=3)
        atomic_write_json(out / "bench" / "teacher_breakdown.json", bd)
        if tuple(size) != SPEED_SIZE:  # the seeds' resolution: speed does not depend on the weights
            run_bench("wuton-student", weights=None, sizes=[SPEED_SIZE], batches=[1], backends=["torch", "ort-cpu"],
                      iters=b["bench"], warmup=3, out_dir=out / "bench-256x192")
        return {"results": res.get("results"), "ratios": res.get("ratios"), "teacher_breakdown": bd}

    st.run("1/7 synthetic data", synth)
    st.run("2/7 human parser", parser)
    st.run("3/7 teacher T-WUTON", teacher)
    st.run("4/7 student S-WUTON (λadv=1)", student(1.0, student_run))
    st.run("4b/7 student S-WUTON (λadv=0, ablation)", student(0.0, student0_run))
    st.run("5/7 evaluation", evaluate)
    st.run("6/7 ONNX export", export)
    if bench:
        st.run("7/7 benchmark", benchmark)
    report = write_report(out, st.times)
    total = time.perf_counter() - t_start
    console.print(f"[bold green]demo finished[/] in {total / 60:.1f} min (this run); report: {report}")
    return {"report": str(report), "times": st.times}


def write_report(out: Path, times: dict[str, float]) -> Path:
    """``out/report.html``: image grids, loss curves, metric and FPS tables."""
    from tryon.report import Report

    rep = Report(out, title="tryon demo — WUTON virtual try-on on synthetic data")
    rep.add_text(
        "Teacher T-WUTON (parser-masked person), student S-WUTON (plain person, no parser), and the student "
        "without adversarial loss (λadv = 0, 000 Table 4.5), trained for a few minutes on CPU on procedurally "
        "generated people and garments. Unpaired ground truth exists because the generator can render any "
        "person in any garment. proxy-* metrics use a small feature network trained on the data at hand, "
        "not Inception/LPIPS: they rank models here and are not comparable to published numbers."
    )
    ev = out / "eval" / "eval.json"
    if ev.is_file():
        res = json.loads(ev.read_text())
        cols = ["condition", "model", "ssim", "proxy-lpips", "proxy-fid", "arms-l1", "accessory-l1"]
        rep.add_table("Unpaired try-on quality (synthetic ground truth; ↑ ssim, ↓ others)", cols,
                      [[row[c] for c in cols] for row in res["table"]])
        for g in res.get("grids", []):
            rep.add_text(f"![{g['condition']}](eval/{g['path']})\n\nGrid, parse condition **{g['condition']}**: "
                         + " | ".join(g["columns"]))
    for name in ("parser", "teacher", "student", "student_noadv"):
        csv = out / name / "metrics.csv"
        if csv.is_file():
            rep.add_curves(f"training losses — {name}", csv)
    cols = ["task", "backend", "batch", "size", "p50_ms", "p95_ms", "fps"]
    for folder, what in (("bench", "trained models"), ("bench-256x192", "random weights at 256×192")):
        bj = out / folder / "bench.json"
        if bj.is_file():
            b = json.loads(bj.read_text())
            rep.add_table(f"Speed on this machine — {what}", cols, [[r.get(c) for c in cols] for r in b.get("results", [])])
            for c in (b.get("ratios") or {}).get("compare", []):
                rep.add_text(f"Whole pipeline, student vs teacher, B={c['batch']}: student ×{c['speedup']:.2f} faster.")
    bd_path = out / "bench" / "teacher_breakdown.json"
    if bd_path.is_file():
        bd = json.loads(bd_path.read_text())
        rep.add_table("Teacher pipeline breakdown (torch, B=1, p50 ms)", ["stage", "ms"],
                      [*[[k, v] for k, v in bd["p50_ms"].items()], ["parser share", bd["parser_share"]]])
    ex = out / "export" / "wuton-student" / "manifest.json"
    if ex.is_file():
        m = json.loads(ex.read_text())
        rep.add_table("ONNX export parity (max abs error vs PyTorch)", ["check", "value"],
                      [[k, v] for k, v in _flatten(m.get("parity", {})).items()])
    q = out / "export" / "wuton-student" / "int8_quality.json"
    if q.is_file():
        rep.add_table("int8 model (ORT static QDQ) vs fp32 on held-out unpaired test pairs", ["figure", "value"],
                      [[k, v] for k, v in json.loads(q.read_text()).items()])
    rep.add_table("Stage times (s)", ["stage", "seconds"], [[k, round(v, 1)] for k, v in times.items()])
    return rep.write()


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix or "value": d}
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        flat.update(_flatten(v, key) if isinstance(v, dict) else {key: v})
    return flat
