"""Boosting a GAN's precision on digits, over seeds: truncation (JBT), DeliGAN's learnt mixture and the simplicial
prior with and without its mutual-information head — 000 Table 3.1 (MNIST) and 000 Table 3.3 at small scale.

    .venv/bin/python benchmarks/gan_boosting_digits.py --out docs/results/gan-boosting-digits [--budget tiny]

scikit-learn's 8×8 digits stand in for MNIST (no download). Every model is the plugin's MLP WGAN-GP pair (two hidden
layers of 256, leaky ReLU, latent 32, batch 64, Adam(0.5, 0.9) lr 2e-4 — the recipe of ``digits_losses``), trained
``steps`` per seed; only the prior changes:

    WGAN-GP               z ∼ N(0, I)                              sampled plainly, and with JBT 90 % / 80 %
    W-DeliGAN             z = ε + μ_k, 50 learnt means (000 Table 3.1's "W-Deligan")
    simplicial            N(0, I) truncated to 10 simplicial cells at acceptance 0.5 (001 §3.3), sampled at 0.5
    simplicial + MI       the same plus the mutual-information head of 000 App. B.2.3 (weight 1, first 20 % of steps)
    DMLGAN                10 generators of that recipe, a generator-id head on the discriminator (weight 1, every
                          step) and a prior over the generators fitted to the head's posterior on real digits

Metrics on
``n`` samples against ``n`` held digits, in the 64-d penultimate features of a digit classifier trained here
(``tryon_gan.experiments.toys.digit_features``): improved precision / recall, density / coverage (k = 5) and
proxy-FID. Verdicts compare two rows seed by seed (held = in every seed). Writes ``results.json``, ``table.md`` and
a sample grid per model of seed 0 (``samples.png``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-boosting-digits"
BUDGETS = {
    "tiny": {"steps": 2, "n": 64, "seeds": [0]},
    "default": {"steps": 4000, "n": 1000, "seeds": [0, 1]},
}
#: model name → GANTaskConfig settings beyond the shared recipe
MODELS = {
    "WGAN-GP": {},
    "W-DeliGAN (50)": {"prior": "deligan", "clusters": 50},
    "simplicial (10)": {"prior": "simplicial", "clusters": 10, "prior_acceptance": 0.5},
    "simplicial (10) + MI": {"prior": "simplicial", "clusters": 10, "prior_acceptance": 0.5, "mi_weight": 1.0, "mi_fraction": 0.2},
    "DMLGAN (10)": {"prior": "dmlgan", "clusters": 10, "mi_weight": 1.0, "mi_fraction": 1.0},
}
#: row label → (model, sampler, sampler options)
ROWS = {
    "WGAN-GP": ("WGAN-GP", None, {}),
    "WGAN-GP JBT 90%": ("WGAN-GP", "jbt", {"keep": 0.9}),
    "WGAN-GP JBT 80%": ("WGAN-GP", "jbt", {"keep": 0.8}),
    "W-DeliGAN (50)": ("W-DeliGAN (50)", "deligan", {}),
    "simplicial (10)": ("simplicial (10)", "simplicial", {"acceptance": 0.5}),
    "simplicial (10) + MI": ("simplicial (10) + MI", "simplicial", {"acceptance": 0.5}),
    "DMLGAN (10)": ("DMLGAN (10)", "dmlgan", {}),
}
METRICS = ("precision", "recall", "density", "coverage", "proxy_fid")
#: (source, the seed's numbers, metric, better, worse, higher is better)
CHECKS = (
    ("000 Table 3.1", "MNIST precision 91.2 -> 92.5", "precision", "WGAN-GP JBT 90%", "WGAN-GP", True),
    ("000 Table 3.1", "MNIST precision 91.2 -> 93.3", "precision", "WGAN-GP JBT 80%", "WGAN-GP", True),
    ("000 Table 3.1", "MNIST recall 93.7 -> 91.8 (truncation costs recall)", "recall", "WGAN-GP", "WGAN-GP JBT 80%", True),
    ("000 Table 3.1", "MNIST precision: JBT 80% 93.3 > W-Deligan 89.0", "precision", "WGAN-GP JBT 80%", "W-DeliGAN (50)", True),
    ("000 Table 3.1", "MNIST precision: WGAN 91.2 > W-Deligan 89.0", "precision", "WGAN-GP", "W-DeliGAN (50)", True),
    ("000 Table 3.3", "simp. beats the base generator on precision", "precision", "simplicial (10)", "WGAN-GP", True),
    ("000 Table 3.3", "simp. beats the base generator on density", "density", "simplicial (10)", "WGAN-GP", True),
    ("000 Table 3.3", "simp. beats DeliGAN on precision", "precision", "simplicial (10)", "W-DeliGAN (50)", True),
    ("000 Table 3.3 / App. B.2.3", "the MI head improves simp. (precision)", "precision", "simplicial (10) + MI",
     "simplicial (10)", True),
    ("000 Table 3.3 / App. B.2.3", "the MI head improves simp. (density)", "density", "simplicial (10) + MI",
     "simplicial (10)", True),
    ("000 Table 3.1", "MNIST precision: DMLGAN 93.4 > WGAN 91.2", "precision", "DMLGAN (10)", "WGAN-GP", True),
    ("000 Table 3.1", "MNIST precision: DMLGAN 93.4 > W-Deligan 89.0", "precision", "DMLGAN (10)", "W-DeliGAN (50)", True),
    ("000 Table 3.1", "MNIST precision: DMLGAN 93.4 vs JBT 80% 93.3 (on a par)", "precision", "DMLGAN (10)",
     "WGAN-GP JBT 80%", True),
)


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch
    from tryon.metrics.fid import fid
    from tryon.metrics.prdc import prdc
    from tryon.report import grid_image
    from tryon_gan.data import DigitsData
    from tryon_gan.experiments.toys import digit_features, quiet_loop
    from tryon_gan.training.config import GAN_LOOP, GANTaskConfig
    from tryon_gan.training.generate import train_gan

    s = study.settings(args)
    torch.set_num_threads(1)
    ds = DigitsData()
    rows, shown = [], {}
    for seed in s["seeds"]:
        feat = digit_features(ds, seed)
        real = feat(ds.sample(s["n"], seed=seed + 1))
        pipes = {}
        for name, over in MODELS.items():
            slug = name.split(" (")[0].lower() + ("-mi" if name.endswith("MI") else "")
            with study.section(f"seed {seed} {name}"):
                pipes[name], _ = train_gan(
                    quiet_loop(GAN_LOOP, study.out / "runs" / f"seed{seed}" / slug, s["steps"], seed, batch_size=64, lr=2e-4),
                    GANTaskConfig(data=ds, loss="wgan-gp", arch="mlp", hidden=(256, 256), activation="lrelu", latent_dim=32,
                                  betas=(0.5, 0.9), **over))
        for label, (model, sampler, opts) in ROWS.items():
            pipe = pipes[model]
            r = pipe(n=s["n"], seed=seed + 2, sampler=sampler, **opts) if sampler else pipe(n=s["n"], seed=seed + 2)
            f = feat(r.samples)
            pr = prdc(real, f, k=5)
            rows.append({"seed": seed, "row": label, **{m: round(float(pr[m]), 4) for m in METRICS[:4]},
                         "proxy_fid": round(float(fid(real, f)), 3), "acceptance": round(r.stats.acceptance_rate, 3)})
            if seed == s["seeds"][0]:
                shown[label] = r.samples[:8]
    study.results.update({"settings": {**s, "torch_threads": 1, "models": MODELS, "k": 5}, "rows": rows,
                          "verdicts": verdicts(rows, s["seeds"])})
    # one row of 8 samples per sampler, seed 0 (digits are 1-channel in [-1, 1]: grey → RGB)
    cols = [[shown[label][i].expand(3, -1, -1) for label in ROWS] for i in range(min(8, len(next(iter(shown.values())))))]
    study.save_image("samples.png", grid_image(cols, list(ROWS), scale=8))


def verdicts(rows: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Each check of :data:`CHECKS`, judged over the seeds by :func:`tryon.study.seed_verdict`."""
    from tryon.study import seed_verdict

    def value(row: str, seed: int, metric: str) -> float:
        return next(r[metric] for r in rows if r["row"] == row and r["seed"] == seed)

    out = []
    for source, seed_says, metric, better, worse, higher in CHECKS:
        diffs = [value(better, sd, metric) - value(worse, sd, metric) for sd in seeds]
        out.append({"source": source, "claim": f"{better} beats {worse} ({metric})", "seed_reports": seed_says,
                    "per_seed": [round(d, 4) for d in diffs], "difference": round(sum(diffs) / len(diffs), 4),
                    "verdict": seed_verdict(diffs, higher)})
    return out


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    s = results["settings"]
    md = [f"# Boosting precision on 8×8 digits over seeds ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}; MLP WGAN-GP, {s['steps']} steps per model and seed; {s['n']} samples vs "
          f"{s['n']} digits in a local classifier's features (k = {s['k']}).", "",
          "## Verdicts (held = in every seed)", "",
          markdown_table(["source", "claim", "seed_reports", "difference", "per_seed", "verdict"],
                         [[v["source"], v["claim"], v["seed_reports"], f"{v['difference']:+.4f}", v["per_seed"], v["verdict"]]
                          for v in results["verdicts"]]), "",
          "## Every row", "",
          markdown_table(["seed", "row", *METRICS, "acceptance"],
                         [[r["seed"], r["row"], *[r[m] for m in METRICS], r["acceptance"]] for r in results["rows"]]), "",
          ("" if "DMLGAN (10)" in s["models"] else "DMLGAN (Table 3.1) is not built. ")
          + "Samples of seed 0: `samples.png` (one column per row of the table)."]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, default_out="runs/gan-boosting-digits")


if __name__ == "__main__":
    sys.exit(main())
