"""A lighter critic for the teacher: the same wall-clock budget, more generator steps — what does it cost in quality?

On an AVX2-only CPU the critic's work (its update and its gradient in the generator's) is about two thirds of a
T-WUTON step at the demo's 128x96 (000 App. E: PatchGAN, five downsamplings, 64 channels doubling to 512). For each
seed and critic width (``--critic-width`` of ``tryon train wuton-teacher``), a teacher is trained for the same minutes
on the same synthetic data (perceptual features: a human parser trained first, as in the demo), then scored on
unpaired test pairs with the ground-truth parse (SSIM, proxy-LPIPS,
proxy-FID, arms L1 — the demo's evaluation). Reported per width: ms per step, steps reached, the metrics (mean ±
half-range over seeds) and, against width 64, whether each metric is at least as good in every seed (held) — the
rule of the project's other orderings. Writes ``results.json`` and ``table.md``.

    .venv/bin/python benchmarks/wuton_critic.py --out runs/bench-wuton-critic      # ~13 min on 2 cores
    .venv/bin/python benchmarks/wuton_critic.py --out /tmp/critic --budget tiny    # smoke (seconds)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "wuton-critic"
METRICS = (("ssim", "SSIM", +1), ("proxy-lpips", "proxy-LPIPS", -1), ("proxy-fid", "proxy-FID", -1), ("arms-l1", "arms L1", -1))
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": [0], "widths": [64, 16], "n": 24, "size": [64, 48], "minutes": None, "steps": 2, "batch": 4,
             "eval": 8, "proxy": 2, "parser": 2},
    # 1.5 minutes per teacher: the order of what the demo's teacher gets on a slow CPU (its wall-clock plan gives it
    # about 5 of 14 minutes), kept short so that 3 widths x 2 seeds fit ~13 minutes on 2 cores
    "default": {"seeds": [0, 1], "widths": [64, 32, 16], "n": 600, "size": [128, 96], "minutes": 1.5, "steps": 100_000,
                "batch": 8, "eval": 64, "proxy": 150, "parser": 100},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default=None, help="folder of the data, training runs and evaluations (default OUT/runs)")
    p.add_argument("--minutes", type=float, default=None, help="training minutes per teacher (default: the budget's)")


def compute(study: Study, args: argparse.Namespace) -> None:
    from tryon.train import TrainConfig
    from tryon_wuton.data.synth import generate_once
    from tryon_wuton.experiments.evaluate import evaluate_tryon
    from tryon_wuton.training.parser import PARSER_LOOP, ParserTaskConfig, train_parser
    from tryon_wuton.training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

    s = study.settings(args)
    runs = Path(args.runs) if args.runs else study.out / "runs"
    size = tuple(int(v) for v in s["size"])
    data = runs / "data"
    with study.section("data"):
        generate_once(data, int(s["n"]), size, seed=0, test_fraction=0.15, progress=False)
    parser = runs / "parser"  # the perceptual loss's features, as in the demo (no VGG19 weights offline)
    with study.section("parser"):
        if not (parser / "config.json").is_file():
            train_parser(TrainConfig(**{**PARSER_LOOP, "batch_size": int(s["batch"]), "max_steps": int(s["parser"]),
                                        "progress": False, "device": "cpu", "ckpt_every": 10_000, "out_dir": str(parser)}),
                         ParserTaskConfig(data=data, size=size))
    proxy = None
    per_seed: dict[str, Any] = {}
    for seed in s["seeds"]:
        per_seed[str(seed)] = {}
        for width in s["widths"]:
            run = runs / f"seed{seed}" / f"critic{width}"
            with study.section(f"seed {seed} width {width} teacher"):
                if not (run / "config.json").is_file():
                    train_teacher(TrainConfig(**{**TEACHER_LOOP, "batch_size": int(s["batch"]), "seed": seed,
                                                 "max_steps": int(s["steps"]), "minutes": s["minutes"], "ckpt_every": 10_000,
                                                 "log_every": 10, "progress": False, "device": "cpu", "out_dir": str(run)}),
                                  TeacherTaskConfig(data=data, size=size, parser_run=parser, critic_width=int(width)))
            info = json.loads((run / "train_info.json").read_text())["result"]
            with study.section(f"seed {seed} width {width} evaluation"):
                res = evaluate_tryon(data, run / "eval", teacher=run, students={}, max_pairs=int(s["eval"]), proxy=proxy,
                                     proxy_steps=int(s["proxy"]), seed=0, conditions=("gt-parse",), save=lambda *_: None)
            proxy = proxy or run / "eval" / "proxy"  # one feature space for every run
            row = next(r for r in res["table"] if r["model"] == "T-WUTON")
            steps = int(info["steps_done"])
            per_seed[str(seed)][str(width)] = {"steps": steps, "elapsed_s": float(info["elapsed_s"]),
                                               "ms_per_step": 1000 * float(info["elapsed_s"]) / max(steps, 1),
                                               **{m: row[m] for m, _, _ in METRICS}}
    study.results.update({"settings": s, "per_seed": per_seed, "summary": summarise(per_seed, [str(w) for w in s["widths"]])})


def summarise(per_seed: dict[str, Any], widths: list[str]) -> dict[str, Any]:
    """Per width: mean ± half-range over seeds of every figure, and per metric whether it is at least as good as the
    first width's (the App. E critic) in every seed."""
    seeds, ref = list(per_seed), widths[0]
    out: dict[str, Any] = {}
    for w in widths:
        cell: dict[str, Any] = {}
        for key in ("ms_per_step", "steps", *(m for m, _, _ in METRICS)):
            xs = [per_seed[k][w][key] for k in seeds]
            cell[key] = [sum(xs) / len(xs), (max(xs) - min(xs)) / 2]
        if w != ref:
            for m, _, sign in METRICS:
                gaps = [sign * (per_seed[k][w][m] - per_seed[k][ref][m]) for k in seeds]
                cell[f"{m}_verdict"] = ("n/a" if any(g != g for g in gaps) else "held" if all(g >= 0 for g in gaps)
                                        else "not held" if all(g < 0 for g in gaps) else "mixed")
        out[w] = cell
    return out


def render(out: Path, results: dict[str, Any]) -> str:
    s, summary = results["settings"], results["summary"]
    widths = [str(w) for w in s["widths"]]
    minutes = f"{s['minutes']} min" if s["minutes"] else f"{s['steps']} steps"
    lines = [f"# A lighter T-WUTON critic at equal training time ({len(s['seeds'])} seed(s))", "",
             f"{machine_summary(results)}; budget **{results['budget']['name']}**: {s['n']} synthetic samples at "
             f"{s['size'][0]}x{s['size'][1]}, a teacher per critic width trained {minutes} (batch {s['batch']}), scored "
             f"on {s['eval']} unpaired test pairs with the ground-truth parse. Verdict: at least as good as width "
             f"{widths[0]} (000 App. E) in every seed.", "",
             "| critic width | ms / step | steps | " + " | ".join(label for _, label, _ in METRICS) + " |",
             "|---:|---:|---:|" + "---:|" * len(METRICS)]
    for w in widths:
        c = summary[w]
        cells = [f"{c[m][0]:.4f} ± {c[m][1]:.4f}" + (f" ({c[f'{m}_verdict']})" if f"{m}_verdict" in c else "")
                 for m, _, _ in METRICS]
        lines.append(f"| {w} | {c['ms_per_step'][0]:.0f} ± {c['ms_per_step'][1]:.0f} | {c['steps'][0]:.0f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-wuton-critic")


if __name__ == "__main__":
    sys.exit(main())
