"""003 Fig. 4.11 at small scale (R7, R8): x directions on β-VAEs (β = 1, 5, 10, 20) and the spread of control.

Every β-VAE (003 Table 4.2, latent 10, 32×32 procedural sprites: square, ellipse, heart × 16 × 16 positions × 6
scales × 40 angles) is trained by the control plugin's ``train_betavae`` (the path of ``tryon train betavae-edit``);
its x direction is learned with 003 Alg. 1 on the decoder (shifts ±{0.1 … 0.5}, blurred MSE σ = 1 px, ‖z‖ ≤ √10,
worst 10 % rejected) and the monotone g (101 knots), then

* the barycentre protocol (003 §4.4.1): 200 latents ``z ∼ N(0, I)``, images of ``z − ⟨z, u⟩u + t u`` for
  ``t ∈ linspace(−5, 5, 11)``, the x barycentre of white pixels: mean and std per t, monotonicity, erf fit;
* held-out BCE and KL per image; reshaping the x factor to N(−0.15, 0.05²) (003 Eq. 4.14–4.15) and the
  Wasserstein-1 distance of the measured positions to it, before and after;

and the seed's claim "the std at fixed t decreases as β increases" gets a verdict per seed. Writes ``results.json``,
``table.md``, ``spread.svg`` (mean ± std against t per β), ``traversals.png`` and ``report.html``.

    .venv/bin/python benchmarks/betavae_directions.py --out docs/results/betavae-directions   # ~13 min, one thread
    .venv/bin/python benchmarks/betavae_directions.py --out /tmp/bv --budget tiny               # smoke (seconds)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "betavae-directions"
#: the sizes of a run (``default`` is what docs/results/betavae-directions holds)
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"betas": [1.0, 20.0], "seeds": [0], "steps": 10, "batch_size": 16, "data": "sprites:n=256", "trajectories": 4,
             "inversion_steps": 3, "protocol_n": 16, "reshape_n": 32, "held_out": 32},
    # 1500 steps of batch 64 (~5 epochs of 20 000 sprites): one model ~95 s on one shared thread (50 ms/step + ~10 s of
    # Alg. 1), so 8 models fit ~13 min; below R7's 2-5 k steps, the price of the 15-min one-thread budget
    "default": {"betas": [1.0, 5.0, 10.0, 20.0], "seeds": [0, 1], "steps": 1500, "batch_size": 64,
                "data": "sprites:n=20000", "trajectories": 64, "inversion_steps": 50, "protocol_n": 200, "reshape_n": 1000,
                "held_out": 1000},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=None, help="training steps of every β-VAE (default: the budget's)")
    p.add_argument("--method", choices=("trajectories", "encoder"), default="trajectories",
                   help="how the x direction is learned: 003 Alg. 1 on the decoder, or z_t = mu_e(T_t(I))")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    from tryon.report import grid_image
    from tryon_control.experiments.betavae import betavae_study, traversal_grid

    torch.set_num_threads(int(args.threads))
    s = study.settings(args)
    res = betavae_study(study.out / "runs", betas=tuple(s["betas"]), seeds=tuple(s["seeds"]), steps=s["steps"],
                        batch_size=s["batch_size"], data=s["data"], method=args.method, trajectories=s["trajectories"],
                        inversion_steps=s["inversion_steps"], protocol_n=s["protocol_n"], reshape_n=s["reshape_n"],
                        held_out=s["held_out"], section=study.section)
    rows, ts, titles = traversal_grid(res.pop("shown"))
    study.save_image("traversals.png", grid_image(rows, ts, titles, scale=2))
    study.results.update(res)


def _ms(v: dict[str, float], digits: int = 3) -> str:
    return f"{v['mean']:.{digits}f} ± {v['std']:.{digits}f}"


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.fs import atomic_write_text
    from tryon.report import Report, band_chart, markdown_table
    from tryon_control.experiments.betavae import spread_curves

    s, claim = results["settings"], results["claim"]
    seeds = list(results["per_seed"])
    summary = markdown_table(
        ["β", "mean std over t", "erf fit RMS", "line fit RMS", "range of mean", "held-out BCE / image", "KL / image",
         "reshape W1 (after)", "monotone (per seed)"],
        [[f"{r['beta']:g}", _ms(r["mean_std"]), _ms(r["erf_rmse"], 4), _ms(r["line_rmse"], 4), _ms(r["range"]), _ms(r["bce"], 1),
          _ms(r["kl"], 2), _ms(r["reshape_w1"]), " ".join("yes" if m else "no" for m in r["monotone"])] for r in results["summary"]])
    verdicts = markdown_table(
        ["seed", "mean std over t per β", "falls at every step", "β max < β min", "Spearman ρ(β, std)"],
        [[seed, " → ".join(f"{v:.3f}" for v in r["mean_std"]), "yes" if r["strict"] else "no", "yes" if r["ends"] else "no",
          f"{r['spearman']:.2f}"] for seed, r in claim["per_seed"].items()])
    curves = spread_curves(results)
    per_t_rows = []
    for r in results["summary"]:
        beta = f"{r['beta']:g}"
        runs = [results["per_seed"][sd][beta]["protocol"] for sd in seeds]
        for i, (t, m, sd_) in enumerate(curves[f"β = {beta}"]):
            kept = sum(p["per_t"][i]["kept"] for p in runs)
            per_t_rows.append([beta, f"{t:g}", f"{m:.3f}", f"{sd_:.3f}", f"{kept}/{len(runs) * runs[0]['n']}"])
    per_t = markdown_table(["β", "t", "mean position", "std at t", "kept"], per_t_rows)
    reshape = markdown_table(
        ["β", "seed", "target", "before: mean ± std", "after: mean ± std", "W1 before", "W1 after"],
        [[b, sd, f"N({r['target']['mean']:g}, {r['target']['std']:g}²)", f"{r['before']['mean']:.3f} ± {r['before']['std']:.3f}",
          f"{r['after']['mean']:.3f} ± {r['after']['std']:.3f}", f"{r['before']['w1_to_target']:.3f}",
          f"{r['after']['w1_to_target']:.3f}"]
         for sd in seeds for b, run in results["per_seed"][sd].items() for r in [run["reshape"]]])
    fits = [run["direction"] for sd in seeds for run in results["per_seed"][sd].values()]
    text = "\n".join([
        f"# 003 Fig. 4.11 at small scale: x directions on β-VAEs ({results['budget']['name']} budget)", "",
        f"Machine: {machine_summary(results)}; {s['torch_threads']} torch thread(s); date {results['date']}; seeds "
        f"{', '.join(str(x) for x in s['seeds'])}; wall time {sum(results['timings'].values()):.0f} s.", "",
        f"Procedural sprites {s['size']}x{s['size']} ({s['data']}); β-VAE of 003 Table 4.2 (3 stride-2 convs at 32x32, "
        f"Dense 512 before the reshape), latent 10, Bernoulli BCE + β′ KL with β′ = β·({s['size']}/"
        f"{s.get('beta_reference_size', 0) or s['size']})² (the β values are the thesis's, for 64x64 images), "
        f"{s['steps']} steps of batch {s['batch_size']}, "
        f"Adam({s['lr']:g}). x direction: {s['method']} (003 Alg. 1 on the decoder: {s['trajectories']} trajectories, "
        f"{s['inversion_steps']} Adam steps per sub-target, {fits[0]['rows']} rows kept of {fits[0]['rows'] + fits[0]['rejected']} "
        f"in the first run) + monotone g (101 knots). Protocol: {s['protocol_n']} latents per t; the true positions span "
        f"[{s['position_range'][0]:.3f}, {s['position_range'][1]:.3f}]; images with under {s['min_white_fraction']:g} of "
        f"their pixels white are discarded (the 'kept' column).", "",
        "## Per β (mean ± std over seeds)", "", summary, "",
        "Erf-shaped = the erf fit's RMS well below the straight line's (003 Eq. 4.11: ½ erf(t/√2) scaled to the range).", "",
        f"## The claim: the std at fixed t falls as β grows — {claim['verdict']} (β max < β min: {claim['verdict_ends']})", "",
        verdicts, "",
        "## Mean and std of the measured position per t (averaged over seeds)", "", per_t, "",
        "## Reshaping x (003 Eq. 4.14–4.15)", "", reshape, "",
    ])
    atomic_write_text(out / "table.md", text)
    atomic_write_text(out / "spread.svg", band_chart("x barycentre: mean ± std against t (mean over seeds)", curves,
                                                     "t (coordinate along u)", (-0.5, 0.5)))
    rep = Report(out, "x directions on β-VAEs (003 Fig. 4.11 at small scale)")
    rep.add_text(text)
    rep.add_text("![mean ± std against t](spread.svg)\n\n![traversals](traversals.png)")
    rep.write()
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-betavae-directions",
              table=None)


if __name__ == "__main__":
    sys.exit(main())
