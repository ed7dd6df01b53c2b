"""``tryon demo gan``: the toy reproductions of 000 ch. 3 / 001 / 002 / 004 and GAN inversion in one report
(≤ 10 min on 2 cores at the default budget).

A study (:mod:`tryon.study`): :func:`compute` trains and evaluates every toy, runs the inversion section
(:mod:`.inversion`), saves the image grids and fills ``results.json``; :func:`render` writes ``report.html`` /
``report.md`` from that record alone (scatter plots before/after the samplers, the JFN heat-map over the 2-D latent,
the tables next to the seeds' numbers, sampler cost per sample), so ``--render-only`` re-renders without computing.
Import-light: torch is imported when the study runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "demo-gan"
#: full step counts of each toy (the default budget trains these; ``step_fraction`` scales them, never below
#: ``min_steps``); ``n``: samples each evaluation draws (None: each toy's own, 1000–2000); ``inversion``: the budget
#: of the inversion section (:data:`.inversion.BUDGETS`)
STEPS = {"nine": 6000, "grid": 3000, "rw25": 6000, "rw25_weights": 1000, "simplicial": 2000, "digits": 2000}
BUDGETS: dict[str, dict[str, Any]] = {
    # a smoke run (formerly --quick): 20 steps of everything, 200 samples — seconds, the numbers mean nothing
    "tiny": {"step_fraction": 0.0, "min_steps": 20, "n": 200, "inversion": "tiny"},
    "default": {"step_fraction": 1.0, "min_steps": 20, "n": None, "inversion": "quick"},
    "long": {"step_fraction": 1.0, "min_steps": 20, "n": None, "inversion": "full"},
}
#: the toy grids :func:`compute` saves (artifact names)
GRIDS = {"nine": "grids/nine-gaussians.png", "rw25": "grids/25-gaussians.png", "digits": "grids/digits.png"}
#: 004's numbers on MNIST (FID, precision, recall) shown next to ours
SEEDS_004 = {"nonsaturating": (44.12, 0.56, 0.18), "wgan": (89.84, 0.19, 0.00), "hinge": (22.08, 0.40, 0.20),
             "san": (19.04, None, None)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's own options (``--out``, ``--budget``, ``--render-only``: the study's)."""
    p.add_argument("--quick", dest="budget", action="store_const", const="tiny", help="same as --budget tiny")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-digits", dest="digits", action="store_false", help="skip the digits loss table")
    p.add_argument("--no-inversion", dest="inversion_section", action="store_false", help="skip the inversion section")


def compute(study: Any, args: argparse.Namespace) -> None:
    """Train and evaluate every toy (one torch thread: tiny MLPs), then the inversion section; save the grids."""
    import torch

    from tryon.report import grid_image

    from . import toys as E
    from .inversion import inversion_study

    s = study.settings(args)
    seed = int(getattr(args, "seed", 0) or 0)
    runs = study.out / "runs"

    def steps(key: str) -> int:
        return max(int(s["min_steps"]), int(STEPS[key] * float(s["step_fraction"])))

    n = {} if s.get("n") is None else {"n": int(s["n"])}

    res = study.results
    res["settings"] = {"seed": seed, "steps": {k: steps(k) for k in STEPS}, "n": s.get("n"),
                       "digits": bool(getattr(args, "digits", True)),
                       "toy": {k: list(v) if isinstance(v, tuple) else v for k, v in E.TOY.items()}}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny MLPs: one thread is fastest, and the machine is shared
    try:
        with study.section("9 Gaussians"):
            nine = E.nine_gaussians_jbt(runs, steps=steps("nine"), seed=seed, **n)
        im = nine.pop("images")
        study.save_image(GRIDS["nine"], grid_image([[im["base"], im["jbt70"], im["jfn"], im["partition"]]],
                                                   ["plain WGAN-GP", "JBT 70 %", "log JFN (yellow = high)",
                                                    "mode of G(z); white = off-mode"]))
        res["nine"] = nine
        with study.section("modes × distance grid"):
            res["grid"] = E.modes_distance_grid(runs, steps=steps("grid"), seed=seed, **n)
        with study.section("25 Gaussians: latent reweighting"):
            rw = E.latent_reweighting(runs, "gaussians25", gan_steps=steps("rw25"), w_steps=steps("rw25_weights"), seed=seed,
                                      **n)
        im = rw.pop("images")
        study.save_image(GRIDS["rw25"], grid_image([[im["WGAN-GP"], im["latentRS"]]], ["WGAN-GP", "latentRS"]))
        res["rw25"] = rw
        with study.section("simplicial truncation"):
            res["simplicial"] = E.simplicial_vs_jbt(runs, steps=steps("simplicial"), seed=seed, **n)
        if getattr(args, "digits", True):
            with study.section("digits losses"):
                d = E.digits_losses(runs, steps=steps("digits"), seed=seed, **n)
            study.save_image(GRIDS["digits"], grid_image([d["grids"][k] for k in d["grids"]], [str(i) for i in range(8)],
                                                         row_titles=list(d["grids"]), scale=4))
            res["digits"] = {"rows": d["rows"]}
    finally:
        torch.set_num_threads(threads)
    if getattr(args, "inversion_section", True):
        with study.section("GAN inversion"):
            res["inversion"] = inversion_study(study.save_image, s["inversion"], seed=seed)


def _table(rep: Any, title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    cols = columns or list(rows[0].keys())
    rep.add_table(title, cols, [{c: r.get(c) for c in cols} for r in rows])


def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md`` from the record and the saved grids alone; returns the report's path line."""
    from tryon.report import Report
    from tryon.study import add_figure, machine_summary

    from .inversion import render_inversion

    b, st, t = results["budget"], results["settings"], results["timings"]
    toys_s = sum(v for k, v in t.items() if k != "GAN inversion")
    rep = Report(out, "GAN demo: truncation, latent reweighting, losses (000 ch. 3, 001, 002, 004)")
    rep.add_text(f"Machine: {machine_summary(results)}, cores shared with other jobs, 1 torch thread for "
                 f"training/sampling; toys {toys_s:.1f} s"
                 + (" — **tiny smoke run: numbers are not meaningful**" if b["name"] == "tiny" else "")
                 + ". Metrics: improved precision/recall/density/coverage (k = 5, Euclidean), EMD = mean matched "
                 f"distance (n = {b.get('n') or 1000}), oracle precision = share of samples within 3σ of a mode. Training steps: "
                 + ", ".join(f"{k} {v}" for k, v in st["steps"].items()) + ".")
    cols = ["sampler", "precision", "recall", "density", "coverage", "oracle_precision", "modes_hit", "emd",
            "acceptance", "ms_per_sample"]
    nine = results["nine"]
    _table(rep, "9 Gaussians (spacing 9), WGAN-GP: base vs JBT (seed: base ≈ 80 %, JBT 70 % ≈ 100 %)", nine["rows"], cols)
    rep.add_text("Oracle precision of each JFN decile (lowest JFN first; 000 Fig. 3.4 marginal precision): "
                 + ", ".join(f"{v:.2f}" for v in nine["marginal_precision_deciles"])
                 + f". Median JFN on latents mapped off every mode / on a mode: {nine['jfn_ratio_off_vs_on']}×.")
    add_figure(rep, out, GRIDS["nine"], "9 Gaussians: samples (blue) over data (grey), JFN over the latent [-3,3]², "
               "mode partition")
    g = results["grid"]
    rep.add_table("Improved precision vs modes M and distance D (000 Fig. 3.2d: M=4: .979/.916, M=9: .938/.805 at D=3/9)",
                  g["columns"], g["rows"])
    rw = results["rw25"]
    _table(rep, "25 Gaussians: latent reweighting vs baselines (seed EMD: WGAN 0.044, DRS 0.038, SIR 0.041, latentRS 0.036)",
           rw["rows"], ["sampler", "emd", "emd_std", "precision", "recall", "oracle_precision", "acceptance", "ms_per_sample"])
    add_figure(rep, out, GRIDS["rw25"], "25 Gaussians: WGAN-GP (blue) and latentRS (red) over data (grey)")
    rep.add_table("Cost model (ms per sample, batch 4096; 002 / seeds-gan §5.4)", ["quantity", "ms"],
                  [[k, round(v, 5)] for k, v in rw["cost"].items()])
    _table(rep, "Simplicial truncation vs JBT vs base (4 one-hot modes in R⁴, latent 4; Table 3.3 ordering)",
           results["simplicial"]["rows"], cols)
    if "digits" in results:
        rows = [{**r, "seed FID / P / R (MNIST)": " / ".join("–" if v is None else f"{v}" for v in SEEDS_004[r["loss"]])}
                for r in results["digits"]["rows"]]
        _table(rep, "Losses on scikit-learn digits 8×8 (004's table was on MNIST with Inception FID: not comparable in "
               "absolute value)", rows)
        add_figure(rep, out, GRIDS["digits"], "digits samples per loss")
    if "inversion" in results:
        render_inversion(rep, out, results["inversion"])
    return f"report: {rep.write()}"


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience
    """``python -m tryon_gan.experiments.demo [--budget tiny] [--out DIR] [--render-only]``."""
    from tryon.study import main as study_main

    return study_main(NAME, compute, render, BUDGETS, argv=argv, add_arguments=add_arguments,
                      description=__doc__.splitlines()[0], default_out="runs/demo-gan")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["BUDGETS", "GRIDS", "NAME", "STEPS", "add_arguments", "compute", "main", "render"]
