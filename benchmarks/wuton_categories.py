"""One student for every garment category, or one per category? (000 §4.3, with the three categories drawn by
``tryon data synth --categories upper,lower,dress``.)

For each seed: one teacher is trained on all three categories, then four students are distilled from it with the same
steps each — one on every category ("one model") and one per category (``--categories upper`` …: "per category") —
and all are scored on the unpaired synthetic test split, per category (SSIM, proxy-LPIPS, proxy-FID, arms L1, the
evaluation of ``tryon eval``/the demo, teacher with the ground-truth parse). The question is what one deployable model
costs in quality against three models, each trained as long; the verdict per category and metric follows the project's
rule (held = in every seed). Writes ``results.json``, ``table.md``, ``grid.png`` (the per-category grid of seed 0).

    .venv/bin/python benchmarks/wuton_categories.py --out runs/bench-wuton-categories     # ~20 min on 2 shared cores
    .venv/bin/python benchmarks/wuton_categories.py --out /tmp/cat --budget tiny          # smoke (a minute)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "wuton-categories"
CATEGORIES = ("upper", "lower", "dress")
METRICS = (("ssim", "SSIM", +1), ("proxy-lpips", "proxy-LPIPS", -1), ("proxy-fid", "proxy-FID", -1), ("arms-l1", "arms L1", -1))
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": [0], "n": 72, "size": [64, 48], "teacher": 2, "student": 2, "batch": 4, "eval": 18, "proxy": 2},
    # 64x48 keeps a teacher step under a second on an AVX2-only 2-core CPU; 300 teacher and 200 student steps per
    # model are ~5 min per seed there
    "default": {"seeds": [0, 1], "n": 720, "size": [64, 48], "teacher": 300, "student": 200, "batch": 8, "eval": 108,
                "proxy": 150},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default=None, help="folder of the data, training runs and evaluations (default OUT/runs)")


def compute(study: Study, args: argparse.Namespace) -> None:
    from tryon.train import TrainConfig
    from tryon_wuton.data.synth import generate_once
    from tryon_wuton.experiments.evaluate import evaluate_tryon
    from tryon_wuton.training.student import STUDENT_LOOP, StudentTaskConfig, distill_student
    from tryon_wuton.training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

    s = study.settings(args)
    runs = Path(args.runs) if args.runs else study.out / "runs"
    size = tuple(int(v) for v in s["size"])
    data = runs / "data"
    with study.section("data"):
        generate_once(data, int(s["n"]), size, seed=0, test_fraction=0.15, categories=",".join(CATEGORIES), progress=False)
    common = {"batch_size": int(s["batch"]), "ckpt_every": 10_000, "log_every": 10, "progress": False, "device": "cpu"}
    proxy = None
    per_seed: dict[str, Any] = {}
    for seed in s["seeds"]:
        sdir = runs / f"seed{seed}"
        teacher = sdir / "teacher"
        with study.section(f"seed {seed} teacher"):
            if not (teacher / "config.json").is_file():
                train_teacher(TrainConfig(**{**TEACHER_LOOP, **common, "seed": seed, "max_steps": int(s["teacher"]),
                                             "out_dir": str(teacher)}), TeacherTaskConfig(data=data, size=size))
        students = {"one model": (sdir / "student_all", None), **{c: (sdir / f"student_{c}", c) for c in CATEGORIES}}
        for label, (run, cats) in students.items():
            with study.section(f"seed {seed} student {label}"):
                if not (run / "config.json").is_file():
                    distill_student(TrainConfig(**{**STUDENT_LOOP, **common, "seed": seed, "max_steps": int(s["student"]),
                                                   "out_dir": str(run)}),
                                    StudentTaskConfig(teacher_run=teacher, data=data, categories=cats,
                                                      cache_teacher=sdir / f"teacher_cache_{cats or 'all'}"))
        with study.section(f"seed {seed} evaluation"):
            saved: dict[str, Any] = {}
            res = evaluate_tryon(data, sdir / "eval", teacher=teacher, students={k: v[0] for k, v in students.items()},
                                 max_pairs=int(s["eval"]), proxy=proxy, proxy_steps=int(s["proxy"]), seed=seed,
                                 conditions=("gt-parse",), grid_rows_per_category=2,
                                 save=saved.setdefault)
        proxy = proxy or sdir / "eval" / "proxy"  # one feature space for every seed
        if seed == s["seeds"][0] and "grid_categories.png" in saved:
            study.save_image("grid.png", saved["grid_categories.png"])
        rows = {(r["model"], r["category"]): r for r in res["table"]}
        per_seed[str(seed)] = {c: {"one model": {m: rows[("one model", c)][m] for m, _, _ in METRICS},
                                   "per category": {m: rows[(c, c)][m] for m, _, _ in METRICS},
                                   "teacher": {m: rows[("T-WUTON", c)][m] for m, _, _ in METRICS}}
                               for c in CATEGORIES if ("one model", c) in rows}
    study.results.update({"settings": {**s, "categories": list(CATEGORIES)}, "per_seed": per_seed,
                          "summary": summarise(per_seed)})


def summarise(per_seed: dict[str, Any]) -> dict[str, Any]:
    """Per category and metric: mean ± half-range over seeds of both arms, the per-seed gaps (per category − one,
    signed so that > 0 means the per-category students are better) and the verdict."""
    out: dict[str, Any] = {}
    seeds = list(per_seed)
    for c in CATEGORIES:
        if not all(c in per_seed[k] for k in seeds):
            continue
        out[c] = {}
        for m, _, sign in METRICS:
            one = [per_seed[k][c]["one model"][m] for k in seeds]
            own = [per_seed[k][c]["per category"][m] for k in seeds]
            gaps = [sign * (b - a) for a, b in zip(one, own)]
            verdict = ("n/a (too few pairs)" if any(g != g for g in gaps) else  # NaN: proxy-FID of < 3 pairs
                       "per category better" if all(g > 0 for g in gaps) else
                       "one model better" if all(g < 0 for g in gaps) else "mixed")
            out[c][m] = {"one": _mean_hr(one), "per": _mean_hr(own), "gaps": gaps, "verdict": verdict}
    return out


def _mean_hr(xs: list[float]) -> list[float]:
    return [sum(xs) / len(xs), (max(xs) - min(xs)) / 2]


def render(out: Path, results: dict[str, Any]) -> str:
    s, summary = results["settings"], results["summary"]
    lines = [f"# One try-on student for every category, or one per category ({len(s['seeds'])} seed(s))", "",
             f"{machine_summary(results)}; budget **{results['budget']['name']}**: {s['n']} synthetic samples at "
             f"{s['size'][0]}x{s['size'][1]} (upper, lower, dress), one teacher ({s['teacher']} steps) on all categories, "
             f"four students of {s['student']} steps each distilled from it; unpaired test pairs scored per category.", "",
             "| category | metric | one model | per category | gap per seed (> 0: per category better) | verdict |",
             "|---|---|---:|---:|---|---|"]
    for c, metrics in summary.items():
        for m, label, _ in METRICS:
            r = metrics[m]
            lines.append(f"| {c} | {label} | {r['one'][0]:.4f} ± {r['one'][1]:.4f} | {r['per'][0]:.4f} ± {r['per'][1]:.4f} | "
                         + ", ".join(f"{g:+.4f}" for g in r["gaps"]) + f" | {r['verdict']} |")
    verdicts = [metrics[m]["verdict"] for metrics in summary.values() for m, _, _ in METRICS]
    lines += ["", f"Verdicts: {verdicts.count('per category better')} of {len(verdicts)} cells favour the per-category "
              f"students in every seed, {verdicts.count('one model better')} the single model, "
              f"{verdicts.count('mixed')} are mixed, {sum(v.startswith('n/a') for v in verdicts)} n/a. "
              "Deployment: one export and one catalogue cache against three "
              "(and a category router).", ""]
    if "grid.png" in results.get("artifacts", []):
        lines.append("![per-category grid, seed 0](grid.png)")
    return "\n".join(lines).rstrip() + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-wuton-categories")


if __name__ == "__main__":
    sys.exit(main())
