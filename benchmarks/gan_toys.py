"""Toy reproductions of the GAN seeds (000 ch. 3, 001, 002, 004) with the tryon-gan plugin, side by side.

    .venv/bin/python benchmarks/gan_toys.py --out runs/bench-gan [--budget quick] [--only nine,grid,rw25,swissroll,simplicial,digits]

Writes ``<out>/results.json`` (machine, versions, date, settings, numbers) and ``<out>/table.md`` (one table per
experiment, printed). Training runs are resumable run folders under ``<out>/runs``. The sampler cost is measured in
the same run as the cost-model timings t_G, t_{G+D}, t_w, t_∇w (002 / seeds-gan §5.4), so ratios are comparable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-toys"
EXPERIMENTS = "nine,grid,rw25,swissroll,simplicial,digits"
#: steps of each experiment = max(min_steps, its full step count × step_fraction); ``n``: evaluation samples
#: (None: each experiment's own)
BUDGETS = {
    "tiny": {"step_fraction": 0.0, "min_steps": 2, "n": 64, "only": "simplicial"},
    "quick": {"step_fraction": 0.05, "min_steps": 20, "n": None, "only": EXPERIMENTS},
    "default": {"step_fraction": 1.0, "min_steps": 20, "n": None, "only": EXPERIMENTS},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", dest="budget", action="store_const", const="quick", help="same as --budget quick (5 %% of the steps)")
    p.add_argument("--only", default=None, help=f"comma-separated among {EXPERIMENTS} (default: the budget's)")
    p.add_argument("--seed", type=int, default=0)


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch
    from tryon_gan.experiments import toys as E

    s = study.settings(args)
    runs = study.out / "runs"
    only = set(s["only"].split(","))
    n = {} if s["n"] is None else {"n": s["n"]}

    def steps(full: int) -> int:
        return max(s["min_steps"], int(full * s["step_fraction"]))

    torch.set_num_threads(1)
    res = study.results
    res["settings"] = {"toy": {k: list(v) if isinstance(v, tuple) else v for k, v in E.TOY.items()}, **s, "seed": args.seed,
                       "torch_threads": torch.get_num_threads()}
    if "nine" in only:
        with study.section("nine"):
            out = E.nine_gaussians_jbt(runs, steps=steps(8000), seed=args.seed, **n)
        res["nine"] = {k: v for k, v in out.items() if k != "images"}
    if "grid" in only:
        with study.section("grid"):
            res["grid"] = E.modes_distance_grid(runs, modes=(4, 9, 25), distances=(3.0, 9.0), steps=steps(4000), seed=args.seed)
    for key, name in (("rw25", "gaussians25"), ("swissroll", "swissroll")):
        if key in only:
            with study.section(key):
                r = E.latent_reweighting(runs, name, gan_steps=steps(8000), w_steps=steps(1500), seed=args.seed)
            res[key] = {k: v for k, v in r.items() if k != "images"}
    if "simplicial" in only:
        with study.section("simplicial"):
            res["simplicial"] = E.simplicial_vs_jbt(runs, steps=steps(3000), seed=args.seed, **n)
    if "digits" in only:
        with study.section("digits"):
            res["digits"] = {"rows": E.digits_losses(runs, steps=steps(3000), seed=args.seed)["rows"]}


TITLES = {"nine": "9 Gaussians: base vs JBT", "grid": "precision vs M (rows) and D (columns)",
          "rw25": "gaussians25: latent reweighting (EMD, acceptance, ms/sample)",
          "swissroll": "swissroll: latent reweighting (EMD, acceptance, ms/sample)",
          "simplicial": "simplicial vs JBT vs base", "digits": "digits: losses"}


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    lines = [f"# GAN toys ({results['budget']['name']} budget)", "", f"Machine: {machine_summary(results)}; "
             f"{results['settings']['torch_threads']} torch thread; wall time {sum(results['timings'].values()):.0f} s.", ""]
    for key, title in TITLES.items():
        if key not in results:
            continue
        rows = results[key]["rows"]
        lines += [f"## {title}", ""]
        if rows:
            cols = list(rows[0])
            lines += [markdown_table(cols, [[r.get(c, "") for c in cols] for r in rows]), ""]
        if key == "nine":
            lines += [f"Marginal precision per JFN decile: {results[key]['marginal_precision_deciles']}", ""]
        if key in ("rw25", "swissroll"):
            lines += ["Cost model (ms/sample): " + json.dumps({k: round(v, 5) for k, v in results[key]["cost"].items()}), ""]
    text = "\n".join(lines)
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-gan")


if __name__ == "__main__":
    sys.exit(main())
