"""EdiBERT quality run: train a small VQGAN + EdiBERT on built-in procedural scenes, then

* the inpainting ablation of 000 Table 4.2 (full method vs each component removed; free-form masks):
  masked L1, proxy-FID, density, coverage;
* one token per forward (spiral) vs the batched samplers (spiral-rings, least-likely) on the same inputs and
  masks: wall time, forwards, masked L1 and proxy-FID (target: ≥ 5× less wall time at masked L1 within 5 %).

Writes ``<out>/results.json`` (machine, versions and date included) and ``<out>/table.md``; the trained runs, the
scenes and the plugin's HTML report of the same study go to ``<out>/run``.

    .venv/bin/python benchmarks/edibert_quality.py --out runs/bench-edibert            # ≤ 30 min on 2 cores
    .venv/bin/python benchmarks/edibert_quality.py --out /tmp/b --budget tiny           # smoke setting
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "edibert-quality"
BUDGETS = {
    # seconds: every stage runs, the numbers mean nothing
    "tiny": {"n_train": 16, "n_eval": 4, "size": [32, 32], "vq_steps": 2, "bert_steps": 2, "codes": 16, "ch": 8,
             "ch_mult": [1, 2, 2], "width": 32, "layers": 1, "heads": 2, "optim_steps": 1, "proxy_steps": 2},
    # ≤ 30 min on 2 shared cores (one torch thread)
    "default": {"n_train": 512, "n_eval": 24, "size": [32, 32], "vq_steps": 1200, "bert_steps": 1200, "codes": 128, "ch": 32,
                "ch_mult": [1, 2, 2], "width": 128, "layers": 4, "heads": 4, "optim_steps": 50, "proxy_steps": 150},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tiny", dest="budget", action="store_const", const="tiny", help="same as --budget tiny")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, see `tryon demo edibert`)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch
    from tryon_edibert.experiments.demo import run_study

    torch.set_num_threads(max(1, args.threads))
    with study.section("study"):
        res = run_study(study.out / "run", study.settings(args), progress=False, log=lambda *_: None)
    study.results.update({"settings": res["settings"], "torch_threads": torch.get_num_threads(), "ablation": res["ablation"],
                          "timing": res["timing"], "timing_target": res["timing_target"],
                          "reconstruction": res["reconstruction"], "stages_s": res["stages_s"], "train_s": res["train_s"],
                          "total_s": res["total_s"]})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    def table(rows: list[dict[str, Any]]) -> str:
        return markdown_table(list(rows[0]), [[f"{v:.4g}" if isinstance(v, float) else v for v in r.values()] for r in rows])

    v = results["timing_target"]
    text = (f"Budget: {results['budget']['name']} {json.dumps(results['settings'])}\n\n"
            f"Machine: {machine_summary(results)}; {results['torch_threads']} torch thread(s); total {results['total_s']:.0f} s "
            f"(training {results['train_s']:.0f} s)\n\n"
            f"### Inpainting ablation (000 Table 4.2; free-form masks, {results['settings']['n_eval']} images)\n\n"
            f"{table(results['ablation'])}\n\n### One token per forward vs batched samplers\n\n{table(results['timing'])}\n\n"
            f"Target ({v['target']}): {'met' if v['met'] else 'missed'}; best {v['sampler']}: {v['speed_up']}x faster, "
            f"masked L1 {v['l1_vs_one_token']}x. Stages (s): {json.dumps(results['stages_s'])}\n")
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-edibert")


if __name__ == "__main__":
    sys.exit(main())
