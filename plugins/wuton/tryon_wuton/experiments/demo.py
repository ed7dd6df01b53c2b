"""``tryon demo wuton``: the whole try-on job end to end on built-in synthetic data (what ``make demo`` runs).

generate data → train parser → train T-WUTON → distil S-WUTON (λadv = 1 and the λadv = 0 ablation of
000 Table 4.5) → evaluate (unpaired ground truth, injected parser errors) → export the student to ONNX
(parity checked) → benchmark (student ORT / torch vs the teacher pipeline) → ``report.html``.

A study (:mod:`tryon.study`): :func:`compute` runs the stages and fills ``results.json`` (every number the report
shows, the training curves included) and saves the evaluation grids; :func:`render` writes the report from that
record alone, so ``--render-only`` re-renders without computing. The study's budgets are the demo's: ``tiny`` (a
smoke run), ``default`` and ``long``.

Every stage writes into its own folder under ``--out`` and is skipped when it finished before (``demo_state.json``
keeps each finished stage's result), so an interrupted demo resumes where it stopped (training stages also resume
from their checkpoints). The default budget (parser 100, teacher 420, students 240 steps each at batch 8) is sized
to stay under 15 minutes on 2 CPU cores: the full App. E architecture at 128×96 (the speed stage also times
256×192), with the training path's speed defaults (lazy gradient penalty, channels_last, cached items) and
``precision="auto"`` (bf16 autocast where the CPU has native bf16). Quality runs: docs/benchmarks.md.
Import-light: torch is imported when the study runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

from tryon.fs import atomic_write_json

NAME = "demo-wuton"
SPEED_SIZE = (256, 192)
BUDGETS: dict[str, dict[str, int]] = {
    # samples, parser steps, teacher steps, student steps (each of the two), eval pairs, bench iters,
    # batch size, int8 calibration pairs, proxy feature net steps (the evaluation's; 200 took 390 of the tiny
    # run's 420 s evaluation stage on 2 shared cores, 20 leave the tiny run's table as meaningless as before),
    # garment categories drawn (one teacher and one student on all three: the report shows each category), the
    # teacher critic's width (16, not App. E's 64: at the demo's minutes a step is 2.2x cheaper and the teacher better
    # on every metric in both seeds, docs/results/wuton-critic; the library default stays 64)
    "tiny": {"n": 120, "parser": 20, "teacher": 20, "student": 10, "eval": 16, "bench": 10, "batch": 4, "calibration": 8,
             "proxy": 20, "categories": "upper,lower,dress", "critic_width": 16},
    "default": {"n": 1000, "parser": 100, "teacher": 420, "student": 240, "eval": 96, "bench": 20, "batch": 8,
                "calibration": 16, "proxy": 200, "wall_minutes": 14, "reserve_minutes": 4, "categories": "upper,lower,dress",
                "critic_width": 16},
    "long": {"n": 2400, "parser": 600, "teacher": 1500, "student": 800, "eval": 240, "bench": 60, "batch": 8,
             "calibration": 32, "proxy": 200, "categories": "upper,lower,dress", "critic_width": 16},
}
#: Share of the training time each model gets when a budget has a wall-clock goal (``wall_minutes``): the teacher
#: step costs about 2.5x a student step and needs the most steps (000 App. E.3).
TRAIN_SHARES = {"parser": 1.0, "teacher": 5.0, "student": 2.5, "student_noadv": 2.5}


def training_minutes(left: float, reserve: float, remaining: list[str], shares: dict[str, float] = TRAIN_SHARES) -> float:
    """Minutes the next training stage may spend so that the demo ends within its wall-clock goal.

    ``left``: minutes until the goal; ``reserve``: minutes kept for the stages after training (evaluation, export,
    benchmark); ``remaining``: the training stages still to run, the next one first. The time left for training is
    shared in proportion to :data:`TRAIN_SHARES`, recomputed before every stage, so a stage that ends early (or a slow
    machine) moves the time to the others. Never below 0.2 min: a stage always trains a few steps.

    >>> round(training_minutes(14, 4, ["parser", "teacher", "student", "student_noadv"]), 3)
    0.909
    >>> training_minutes(1, 4, ["student_noadv"])
    0.2
    """
    total = sum(shares[r] for r in remaining)
    return max(0.2, (left - reserve) * shares[remaining[0]] / total)


#: the stages, in order (a stage's name is its key in ``demo_state.json`` and in the report's stage table)
STAGES = ("1/7 synthetic data", "2/7 human parser", "3/7 teacher T-WUTON", "4/7 student S-WUTON (λadv=1)",
          "4b/7 student S-WUTON (λadv=0, ablation)", "5/7 evaluation", "6/7 ONNX export", "7/7 benchmark")
#: training runs whose loss curves the report shows (folder under ``--out``)
RUNS = ("parser", "teacher", "student", "student_noadv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's own options (``--out``, ``--budget``, ``--render-only``: the study's)."""
    from ..training.config import parse_size  # torch-free

    p.add_argument("--size", default="128x96", type=parse_size,
                   help="training resolution HxW (default 128x96; speed is also measured at 256x192 with random weights)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vgg-weights", default=None, help="local VGG19 weights for the perceptual loss (optional)")
    # not dest="bench": a budget knob of that name (benchmark iterations) would take the flag's value
    p.add_argument("--skip-bench", action="store_true", help="skip the FPS benchmark stage")


class _Stages:
    """Runs named stages as the study's timed sections, skipping those ``demo_state.json`` records as done."""

    def __init__(self, study: Any, console: Any):
        self.study, self.console, self.times = study, console, {}
        self.state_path = study.out / "demo_state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        done = self.state.get("done", {})
        if name in done:
            self.console.print(f"[dim]✓ {name}: done earlier, skipped[/]")
            self.times[name] = done[name]["seconds"]
            return done[name].get("result")
        self.console.rule(f"[bold]{name}")
        t0 = time.perf_counter()
        with self.study.section(name):
            result = fn()
        self.times[name] = time.perf_counter() - t0
        self.state.setdefault("done", {})[name] = {"seconds": self.times[name], "result": result}
        atomic_write_json(self.state_path, self.state, default=str)
        return result


def compute(study: Any, args: argparse.Namespace) -> None:
    """Run (or resume) the stages; ``study.results``: settings, per-stage results, curves and stage times."""
    from rich.console import Console

    console = Console()
    b = study.settings(args)
    out = study.out
    size = tuple(getattr(args, "size", None) or (128, 96))
    seed = int(getattr(args, "seed", 0) or 0)
    vgg_weights = getattr(args, "vgg_weights", None)
    data, parser_run, teacher_run = out / "data", out / "parser", out / "teacher"
    student_run, student0_run = out / "student", out / "student_noadv"
    st = _Stages(study, console)
    t_start = time.perf_counter()
    # precision "auto": bf16 autocast where the CPU has native bf16 (avx512_bf16 / AMX), else fp32 — about 1.5x
    # faster steps at the same losses (docs/benchmarks.md, training throughput)
    common = {"seed": seed, "log_every": 5, "ckpt_every": 50, "precision": "auto", "batch_size": b["batch"]}

    deadline = t_start + 60 * b["wall_minutes"] if b.get("wall_minutes") else None
    planned: dict[str, dict[str, Any]] = {}

    def loop(defaults: dict, run: Path, steps: int) -> Any:
        """The stage's loop: ``steps`` at most and, under a wall-clock goal, the minutes :func:`training_minutes`
        gives it (steps are then sized by the speed this machine shows, and the report says how many each got)."""
        from tryon.train import TrainConfig

        minutes = None
        if deadline is not None:
            order = [r for r in TRAIN_SHARES if not (out / r / "config.json").is_file()]
            minutes = training_minutes((deadline - time.perf_counter()) / 60, float(b["reserve_minutes"]),
                                       order[order.index(run.name):] if run.name in order else [run.name])
        planned[run.name] = {"max_steps": steps, "minutes": None if minutes is None else round(minutes, 2)}
        return TrainConfig(**{**defaults, **common, "out_dir": str(run), "max_steps": steps, "minutes": minutes})

    def synth() -> dict:
        from ..data.synth import generate_once

        return generate_once(data, b["n"], size, seed=seed, test_fraction=0.1, categories=b.get("categories", "upper"))

    def parser() -> dict:
        from ..training.parser import PARSER_LOOP, ParserTaskConfig, train_parser

        return train_parser(loop(PARSER_LOOP, parser_run, b["parser"]), ParserTaskConfig(data=data, size=size))

    def teacher() -> dict:
        from ..training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

        return train_teacher(loop(TEACHER_LOOP, teacher_run, b["teacher"]),
                             TeacherTaskConfig(data=data, size=size, parser_run=parser_run, vgg_weights=vgg_weights,
                                               critic_width=int(b.get("critic_width", 64))))

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
                             max_pairs=b["eval"], proxy_steps=b.get("proxy", 200), seed=seed,
                             save=lambda name, img: study.save_image(f"eval/{name}", img))
        return {"table": res["table"], "protocol": res["protocol"], "grids": res["grids"]}

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
        atomic_write_json(export_dir / "int8_quality.json", quality)  # documents the exported folder itself
        return {"parity": manifest.get("parity"), "int8_parity": manifest["models"]["int8"].get("parity"),
                "int8_quality": quality, "path": str(export_dir)}

    def benchmark() -> dict:
        import tryon
        from tryon.bench import run_bench

        from .speed import teacher_breakdown

        res = run_bench("wuton-student", weights=str(student_run), sizes=[size], batches=[1],
                        backends=["torch", "ort-cpu", "ort-int8"], iters=b["bench"], warmup=3, compare="wuton-teacher",
                        compare_weights=str(teacher_run), out_dir=out / "bench",
                        export_dir=out / "export" / "wuton-student")
        teacher_pipe = tryon.load("wuton-teacher", weights=teacher_run, device="cpu")
        bd = teacher_breakdown(teacher_pipe, batch=1, iters=b["bench"], warmup=3)
        speed = None
        if tuple(size) != SPEED_SIZE:  # the seeds' resolution: speed does not depend on the weights
            speed = run_bench("wuton-student", weights=None, sizes=[SPEED_SIZE], batches=[1], backends=["torch", "ort-cpu"],
                              iters=b["bench"], warmup=3, out_dir=out / "bench-256x192").get("results")
        return {"results": res.get("results"), "ratios": res.get("ratios"), "teacher_breakdown": bd,
                "results_256x192": speed}

    stages = dict(zip(STAGES, (synth, parser, teacher, student(1.0, student_run), student(0.0, student0_run), evaluate,
                               export, benchmark)))
    found: dict[str, Any] = {}
    for name, fn in stages.items():
        if name == STAGES[-1] and getattr(args, "skip_bench", False):
            continue
        found[name] = st.run(name, fn)
    ev = found["5/7 evaluation"]
    for g in ev.get("grids", []):  # resumed runs: the grids saved when the stage ran are this study's artifacts too
        study.path(f"eval/{g['path']}")
    study.results.update({
        "settings": {"size": list(size), "seed": seed, "vgg_weights": vgg_weights, "bench": not getattr(args, "skip_bench", False)},
        "evaluation": ev,
        "export": found["6/7 ONNX export"],
        "benchmark": found.get(STAGES[-1]),
        "curves": _curves(out),
        "training": _training_record(out, planned),
        "stage_seconds": st.times,
        "resumed": sorted(set(found) - set(study.timings)),
    })
    console.print(f"[bold green]demo finished[/] in {(time.perf_counter() - t_start) / 60:.1f} min (this run)")


def _training_record(out: Path, planned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per training run: the steps planned, the minutes it was given (wall-clock budgets), the steps reached and why it
    stopped — read from each run's ``train_info.json`` (also for stages done in an earlier, resumed run)."""
    record = {}
    for name in RUNS:
        info_path = out / name / "train_info.json"
        if not info_path.is_file():
            continue
        info = json.loads(info_path.read_text())
        res, loop = info.get("result", {}), info.get("loop", {})
        record[name] = {"max_steps": planned.get(name, {}).get("max_steps", loop.get("max_steps")),
                        "minutes": planned.get(name, {}).get("minutes", loop.get("minutes")),
                        "steps_done": res.get("steps_done"), "stopped_by": res.get("stopped_by"),
                        "elapsed_s": res.get("elapsed_s")}
    return record


def _curves(out: Path) -> dict[str, dict[str, list]]:
    from tryon.report import read_curves

    return {name: read_curves(out / name / "metrics.csv") for name in RUNS if (out / name / "metrics.csv").is_file()}


def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md``: image grids, loss curves, metric and FPS tables — from the record alone."""
    from tryon.report import Report
    from tryon.study import add_figure, machine_summary

    rep = Report(out, "tryon demo — WUTON virtual try-on on synthetic data")
    s = results["settings"]
    rep.add_text(
        "Teacher T-WUTON (parser-masked person), student S-WUTON (plain person, no parser), and the student "
        "without adversarial loss (λadv = 0, 000 Table 4.5), trained for a few minutes on CPU on procedurally "
        "generated people and garments. Unpaired ground truth exists because the generator can render any "
        "person in any garment. proxy-* metrics use a small feature network trained on the data at hand, "
        "not Inception/LPIPS: they rank models here and are not comparable to published numbers. "
        f"Budget **{results['budget']['name']}** at {s['size'][0]}×{s['size'][1]}; {machine_summary(results)}."
        + (f" The teacher's critic is {results['budget']['critic_width']} channels wide, not 000 App. E's 64: at these "
           "minutes it gives the teacher twice the steps and better scores (docs/benchmarks.md, lighter critic)."
           if results["budget"].get("critic_width", 64) != 64 else "")
    )
    ev = results.get("evaluation") or {}
    if ev.get("table"):
        cols = ["condition", "model", "ssim", "proxy-lpips", "proxy-fid", "arms-l1", "accessory-l1"]
        every = [row for row in ev["table"] if row.get("category", "all") == "all"]
        rep.add_table("Unpaired try-on quality, every category (synthetic ground truth; ↑ ssim, ↓ others)", cols,
                      [[row[c] for c in cols] for row in every])
        first = every[0]["condition"] if every else None
        per = [row for row in ev["table"] if row.get("category", "all") != "all" and row["condition"] == first]
        if per:
            cols = ["category", "model", "ssim", "proxy-lpips", "proxy-fid", "arms-l1", "accessory-l1"]
            rep.add_table(f"Per garment category (teacher with parse condition {first}; one teacher and one student "
                          "trained on all categories)", cols, [[row[c] for c in cols] for row in per])
    for g in ev.get("grids", []):
        what = "Grid per garment category" if g["condition"] == "per category" else f"Grid, parse condition {g['condition']}"
        add_figure(rep, out, f"eval/{g['path']}", what, " | ".join(g["columns"]))
    for name, curves in (results.get("curves") or {}).items():
        rep.add_curves(f"training losses — {name}", {k: [tuple(p) for p in pts] for k, pts in curves.items()})
    bench = results.get("benchmark") or {}
    cols = ["task", "backend", "batch", "size", "p50_ms", "p95_ms", "fps"]
    for key, what in (("results", "trained models"), ("results_256x192", "random weights at 256×192")):
        if bench.get(key):
            rep.add_table(f"Speed on this machine — {what}", cols, [[r.get(c) for c in cols] for r in bench[key]])
    for c in (bench.get("ratios") or {}).get("compare", []):
        rep.add_text(f"Whole pipeline, student vs teacher, B={c['batch']}: student ×{c['speedup']:.2f} faster.")
    bd = bench.get("teacher_breakdown")
    if bd:
        rep.add_table("Teacher pipeline breakdown (torch, B=1, p50 ms)", ["stage", "ms"],
                      [*[[k, v] for k, v in bd["p50_ms"].items()], ["parser share", bd["parser_share"]]])
    ex = results.get("export") or {}
    if ex.get("parity") is not None:
        rep.add_table("ONNX export parity (max abs error vs PyTorch)", ["check", "value"],
                      [[k, v] for k, v in _flatten(ex["parity"]).items()])
    if ex.get("int8_quality"):
        rep.add_table("int8 model (ORT static QDQ) vs fp32 on held-out unpaired test pairs", ["figure", "value"],
                      [[k, v] for k, v in ex["int8_quality"].items()])
    train = results.get("training") or {}
    if train:
        goal = results["budget"].get("wall_minutes")
        rep.add_text("Steps per model: each training stage had at most its planned steps"
                     + (f" and a share of the {goal}-minute goal (000 App. E.3 weights: teacher 5, students 2.5 each, "
                        "parser 1), so a slower CPU gets fewer steps and the same wall time." if goal else "."))
        rep.add_table("Training steps", ["model", "planned steps", "minutes given", "steps reached", "stopped by"],
                      [[k, v["max_steps"], v["minutes"], v["steps_done"], v["stopped_by"]] for k, v in train.items()])
    times = results.get("stage_seconds") or {}
    resumed = set(results.get("resumed") or [])
    rep.add_table("Stage times (s)", ["stage", "seconds", "this run"],
                  [[k, round(v, 1), "no (done earlier)" if k in resumed else "yes"] for k, v in times.items()])
    path = rep.write()
    return f"report: {path} (stages {sum(times.values()) / 60:.1f} min)"


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix or "value": d}
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        flat.update(_flatten(v, key) if isinstance(v, dict) else {key: v})
    return flat


__all__ = ["BUDGETS", "NAME", "SPEED_SIZE", "STAGES", "add_arguments", "compute", "render"]
