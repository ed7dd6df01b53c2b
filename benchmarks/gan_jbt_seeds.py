"""Jacobian-based truncation on 9 Gaussians, over seeds: precision, recall, EMD and the Hausdorff distance of plain
sampling against JBT 90 % and 70 % (000 §3.2.4.2, Fig. 3.3, App. A.2.2 and Table A.1).

    .venv/bin/python benchmarks/gan_jbt_seeds.py --out docs/results/gan-jbt-seeds [--budget tiny]

Each seed trains the plugin's toy WGAN-GP recipe on a 3 × 3 grid of Gaussians (spacing 9, std 0.5; the setting of
000 App. A.2.3) with its own initialisation and data draw (``tryon_gan.experiments.toys.nine_gaussians_jbt``), then
scores ``n`` samples of each sampler against fresh data: improved precision/recall (k = 5), oracle precision (share
within 3σ of a mode), EMD and the Hausdorff distance. Rows carry their seed, so the seeds' claims table compares the
samplers seed by seed. Writes ``results.json``, ``table.md`` and the scatter plots of seed 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-jbt-seeds"
BUDGETS = {
    "tiny": {"steps": 2, "n": 64, "seeds": [0]},
    "default": {"steps": 8000, "n": 2000, "seeds": [0, 1]},
}
METRICS = ("precision", "recall", "oracle_precision", "emd", "hausdorff", "modes_hit", "acceptance")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch
    from tryon_gan.experiments import toys as E

    s = study.settings(args)
    torch.set_num_threads(1)
    rows, deciles = [], {}
    for seed in s["seeds"]:
        with study.section(f"seed {seed}"):
            out = E.nine_gaussians_jbt(study.out / "runs" / f"seed{seed}", steps=s["steps"], n=s["n"], seed=seed)
        rows += [{"seed": seed, **r} for r in out["rows"]]
        deciles[str(seed)] = out["marginal_precision_deciles"]
        if seed == s["seeds"][0]:
            for name in ("base", "jbt70"):
                study.save_image(f"{name}.png", out["images"][name])
    study.results.update({"settings": {**s, "torch_threads": 1}, "rows": rows, "marginal_precision_deciles": deciles})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    s = results["settings"]
    md = [f"# JBT on 9 Gaussians over seeds ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}; {s['steps']} training steps, {s['n']} samples per sampler.", ""]
    rows = results["rows"]
    md += [markdown_table(["seed", "sampler", *METRICS], [[r["seed"], r["sampler"], *[r.get(m, "") for m in METRICS]]
                                                         for r in rows]), ""]
    md += ["Marginal oracle precision per JFN decile (lowest JFN first): "
           + "; ".join(f"seed {k}: {v}" for k, v in results["marginal_precision_deciles"].items()), ""]
    md += ["Scatter plots of seed 0: `base.png` (plain sampling), `jbt70.png` (JBT 70 %)."]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, default_out="runs/gan-jbt-seeds")


if __name__ == "__main__":
    sys.exit(main())
