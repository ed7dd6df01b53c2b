"""``tryon demo gan``: the toy reproductions of 000 ch. 3 / 001 / 002 / 004 in one report (≤ 10 min on 2 cores).

Writes ``runs/demo-gan/report.html`` (+ ``report.md``, ``results.json``): scatter plots before/after the samplers,
the JFN heat-map over the 2-D latent, the tables next to the seeds' numbers, and sampler cost per sample.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from tryon.fs import atomic_write_json
from tryon.report import Report

from . import toys as E


def machine() -> dict[str, Any]:
    from tryon.hardware import cpu_model, isa_flags

    import os

    return {"cpu": cpu_model(), "isa": isa_flags(), "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def run_demo(out: str | Path = "runs/demo-gan", *, quick: bool = False, seed: int = 0, digits: bool = True,
             inversion: bool = True) -> Path:
    """Train and evaluate every toy (budgets below: ≈ 6–8 min on 2 shared cores), then append the inversion
    section (its quick budget) and write the report. ``quick`` runs 5 % of the steps (a smoke run)."""
    out = Path(out)
    f = 0.05 if quick else 1.0
    steps = lambda s: max(20, int(s * f))  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny MLPs: one thread is fastest, and the machine is shared
    t0 = time.time()
    res: dict[str, Any] = {"machine": machine(), "quick": quick,
                           "budgets": {"nine": steps(6000), "grid": steps(3000), "rw25": [steps(6000), steps(1000)],
                                       "simplicial": steps(2000), "digits": steps(DIGIT_STEPS)}}
    try:
        res["nine"] = E.nine_gaussians_jbt(out / "runs", steps=steps(6000), seed=seed)
        res["grid"] = E.modes_distance_grid(out / "runs", steps=steps(3000), seed=seed)
        res["rw25"] = E.latent_reweighting(out / "runs", "gaussians25", gan_steps=steps(6000), w_steps=steps(1000),
                                           seed=seed)
        res["simplicial"] = E.simplicial_vs_jbt(out / "runs", steps=steps(2000), seed=seed)
        if digits:
            res["digits"] = E.digits_losses(out / "runs", steps=steps(DIGIT_STEPS), seed=seed)
    finally:
        torch.set_num_threads(threads)
    res["wall_time_s"] = round(time.time() - t0, 1)
    return write_report(out, res, inversion="quick" if inversion else None, seed=seed)


DIGIT_STEPS = 2000


def _table(rep: Report, title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    cols = columns or list(rows[0].keys())
    rep.add_table(title, cols, [{c: r.get(c) for c in cols} for r in rows])


def write_report(out: Path, res: dict[str, Any], *, inversion: str | None = None, seed: int = 0) -> Path:
    """The report of :func:`run_demo`'s results; ``inversion`` (a budget, "quick" or "full") appends the GAN
    inversion section (:func:`tryon_gan.experiments.inversion.inversion_report_section`) before writing."""
    m = res["machine"]
    rep = Report(out, "GAN demo: truncation, latent reweighting, losses (000 ch. 3, 001, 002, 004)")
    rep.add_text(f"Machine: {m['cpu']} ({', '.join(m['isa'])}), {m['cores']} cores shared with other jobs, torch "
                 f"{m['torch']}, 1 torch thread for training/sampling; {m['date']}; toys {res['wall_time_s']} s"
                 + (" — **quick smoke run (5 % of the steps): numbers are not meaningful**" if res["quick"] else "")
                 + ". Metrics: improved precision/recall/density/coverage (k = 5, Euclidean), EMD = mean matched "
                 "distance (n = 1000), oracle precision = share of samples within 3σ of a mode. Training steps: "
                 + ", ".join(f"{k} {v}" for k, v in res.get("budgets", {}).items()) + ".")
    cols = ["sampler", "precision", "recall", "density", "coverage", "oracle_precision", "modes_hit", "emd",
            "acceptance", "ms_per_sample"]
    nine = res["nine"]
    _table(rep, "9 Gaussians (spacing 9), WGAN-GP: base vs JBT (seed: base ≈ 80 %, JBT 70 % ≈ 100 %)", nine["rows"], cols)
    rep.add_text("Oracle precision of each JFN decile (lowest JFN first; 000 Fig. 3.4 marginal precision): "
                 + ", ".join(f"{v:.2f}" for v in nine["marginal_precision_deciles"])
                 + f". Median JFN on latents mapped off every mode / on a mode: {nine['jfn_ratio_off_vs_on']}×.")
    rep.add_image_grid("9 Gaussians: samples (blue) over data (grey), JFN over the latent [-3,3]², mode partition",
                       [[nine["images"]["base"], nine["images"]["jbt70"], nine["images"]["jfn"], nine["images"]["partition"]]],
                       ["plain WGAN-GP", "JBT 70 %", "log JFN (yellow = high)", "mode of G(z); white = off-mode"])
    g = res["grid"]
    rep.add_table("Improved precision vs modes M and distance D (000 Fig. 3.2d: M=4: .979/.916, M=9: .938/.805 at D=3/9)",
                  g["columns"], g["rows"])
    rw = res["rw25"]
    _table(rep, "25 Gaussians: latent reweighting vs baselines (seed EMD: WGAN 0.044, DRS 0.038, SIR 0.041, latentRS 0.036)",
           rw["rows"], ["sampler", "emd", "emd_std", "precision", "recall", "oracle_precision", "acceptance", "ms_per_sample"])
    rep.add_image_grid("25 Gaussians: WGAN-GP (blue) and latentRS (red) over data (grey)",
                       [[rw["images"]["WGAN-GP"], rw["images"]["latentRS"]]], ["WGAN-GP", "latentRS"])
    c = rw["cost"]
    rep.add_table("Cost model (ms per sample, batch 4096; 002 / seeds-gan §5.4)", ["quantity", "ms"],
                  [[k, round(v, 5)] for k, v in c.items()])
    _table(rep, "Simplicial truncation vs JBT vs base (4 one-hot modes in R⁴, latent 4; Table 3.3 ordering)",
           res["simplicial"]["rows"], cols)
    if "digits" in res:
        d = res["digits"]
        seeds_004 = {"nonsaturating": (44.12, 0.56, 0.18), "wgan": (89.84, 0.19, 0.00), "hinge": (22.08, 0.40, 0.20),
                "san": (19.04, None, None)}
        rows = [{**r, "seed FID / P / R (MNIST)": " / ".join("–" if v is None else f"{v}" for v in seeds_004[r["loss"]])}
                for r in d["rows"]]
        _table(rep, "Losses on scikit-learn digits 8×8 (004's table was on MNIST with Inception FID: not comparable in "
               "absolute value)", rows)
        rep.add_image_grid("digits samples per loss", [d["grids"][k] for k in d["grids"]], [str(i) for i in range(8)],
                           row_titles=list(d["grids"]), scale=4)
    plain = {k: v for k, v in res.items()}
    for key in ("nine", "rw25"):
        plain[key] = {k: v for k, v in res[key].items() if k != "images"}
    if "digits" in plain:
        plain["digits"] = {"rows": res["digits"]["rows"]}
    if inversion is not None:
        from .inversion import inversion_report_section

        t_inv = time.time()
        plain["inversion"] = inversion_report_section(rep, out, inversion, seed=seed)
        plain["inversion_wall_time_s"] = round(time.time() - t_inv, 1)
    atomic_write_json(out / "results.json", plain, default=str)
    return rep.write()


def main() -> None:  # pragma: no cover - convenience
    print(json.dumps(str(run_demo(quick=True))))


__all__ = ["run_demo", "write_report", "machine"]
