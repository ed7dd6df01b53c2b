"""Latent geometry of a GAN on 100 Gaussians in R^100 (000 Table 3.2 row 1, Fig. 3.10 / B.3; seeds-gan §1.5, §7 S10).

Data: ``M`` equidistant modes ``scale·e_i`` in R^100 (:func:`tryon_gan.data.onehot_modes`, 000 Assumption 4).
Model: the plugin's MLP WGAN-GP (:func:`tryon_gan.training.generate.train_gan`). Per trained generator:

* **precision**: improved precision (k = 5, Euclidean in R^100, the core's :func:`tryon.metrics.prdc.prdc`);
* **LogReg Acc.**: z ↦ label of G(z) by the oracle classifier of the mixture (nearest mean), keeping only
  confident samples (within 3σ of that mean along its axis and σ(√(D−1) + 3) across it: a real sample lies at
  σ·χ_D ≈ σ√D from its mean, so the plugin's 2-D "within 3σ" would reject every real point in R^100); a multinomial
  sklearn ``LogisticRegression`` z → label is fitted on ``n_train`` and scored on ``n_test`` (000 §3.3.5.1);
* **Convex Acc.**: pairs (z0, z1) of confident test latents with the same label; the share of interpolants
  G(λ z0 + (1 − λ) z1), λ ∈ {0.25, 0.5, 0.75}, that the oracle gives the same label (seeds-gan §1.5 [code]).

:func:`latent_dim_sweep` trains one generator per (latent dim, seed) and returns the rows and the Pearson
correlation of precision with LogReg Acc. across runs (000 Table B.3 reports 0.98 / 0.94 on CIFAR).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tryon.metrics.prdc import prdc

from ..data import PointData, onehot_modes
from ..training.config import GAN_LOOP, GANTaskConfig
from ..training.generate import train_gan
from .toys import quiet_loop

#: 000 Table 3.2 row 1 (100 Gauss., MLP, latent 100), in %
TABLE32_ROW1 = {"precision": 75.5, "logreg_acc": 78.5, "convex_acc": 87.2}
#: the data: 100 modes scale·e_i in R^100 (pairwise distance scale·√2 ≈ 1.41), component std (noise norm ≈ 1.0). Measured
#: (latent 100, 2000 steps, n_critic 5): std 0.02 collapses to the centroid (0 % precision), std 0.1 reaches 2 %;
#: std 0.05 (n_critic 1, 4000 steps) also stays off every mode. At std 0.1 a real point's 5-NN radius (≈ σ√(2D) ≈
#: 1.4) exceeds a mode's distance to the centroid (1), so improved precision counts a generator collapsed to the
#: centroid as 100 %: :func:`metric_references` measures that floor next to real-vs-real.
DATA = {"num_modes": 100, "dim": 100, "scale": 1.0, "std": 0.1}
#: the GAN recipe (GANTaskConfig fields + loop lr / batch). Measured (latent 100, std 0.1): n_critic 1 reaches 9 %
#: precision after 2000 steps and 19 % after 4000 (n_critic 5: 2 %); width 256 gave 6 % after 3000 (slower)
RECIPE = {"loss": "wgan-gp", "n_critic": 1, "betas": (0.5, 0.9), "hidden": (128, 128, 128), "lr": 1e-3, "batch_size": 256}
LAMBDAS = (0.25, 0.5, 0.75)


def mixture(seed: int = 0, n: int = 50_000, **over: Any) -> PointData:
    """The 100 Gaussians in R^100 (:data:`DATA`, ``over`` replaces any of its fields)."""
    d = {**DATA, **over}
    return onehot_modes(d["num_modes"], d["dim"], scale=d["scale"], std=d["std"], n=n, seed=seed)


def confident_labels(data: PointData, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(label, confident)`` per row of ``x`` (N×D): the nearest mean μ, and confident when x is within 3σ of μ
    along μ's axis (|⟨x − μ, μ/‖μ‖⟩| ≤ 3σ) and within σ(√(D−1) + 3) of μ across it (a real sample's orthogonal
    noise has norm ≈ σ√(D−1)). A point between two modes fails the first test (for one-hot modes its coordinate
    along μ is ≈ scale/2)."""
    idx, dist = data.oracle(x)
    a = _numpy(x)
    mu = data.modes[idx]
    u = mu / np.maximum(np.linalg.norm(mu, axis=1, keepdims=True), 1e-12)
    along = ((a - mu) * u).sum(1)
    across = np.sqrt(np.maximum(dist ** 2 - along ** 2, 0.0))
    s = data.std
    return idx, (np.abs(along) <= 3 * s) & (across <= s * (math.sqrt(data.dim - 1) + 3.0))


def _numpy(x: Any) -> np.ndarray:
    return (x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)).reshape(len(x), -1).astype(np.float64)


@torch.no_grad()
def _generate(G: Any, z: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    return torch.cat([G(z[i:i + chunk]) for i in range(0, len(z), chunk)])


def logreg_accuracy(G: Any, data: PointData, latent_dim: int, *, n_train: int = 20_000, n_test: int = 5_000,
                    max_iter: int = 300, seed: int = 0) -> dict[str, Any]:
    """LogReg Acc. (000 §3.3.5.1): test accuracy (0–1) of a logistic regression z → oracle label on confident
    samples; draws ``n_train + n_test`` latents before the filter. Also returns the confident test latents/labels."""
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_train + n_test, latent_dim, generator=g)
    y, keep = confident_labels(data, _generate(G, z))
    zn = z.numpy().astype(np.float64)
    tr, te = np.zeros(len(z), bool), np.zeros(len(z), bool)
    tr[:n_train], te[n_train:] = keep[:n_train], keep[n_train:]
    out: dict[str, Any] = {"confident_share": float(keep.mean()), "classes_train": int(len(np.unique(y[tr])))}
    if tr.sum() < 2 or len(np.unique(y[tr])) < 2 or te.sum() == 0:
        return {**out, "logreg_acc": float("nan"), "z_test": zn[te], "y_test": y[te]}
    clf = LogisticRegression(max_iter=max_iter, C=1e4)  # ≈ no penalty ([code]: penalty='none'), multinomial lbfgs
    clf.fit(zn[tr], y[tr])
    out["logreg_acc"] = float(clf.score(zn[te], y[te]))
    out["logreg_train_acc"] = float(clf.score(zn[tr], y[tr]))
    return {**out, "z_test": zn[te], "y_test": y[te]}


def convex_accuracy(G: Any, data: PointData, z: np.ndarray, y: np.ndarray, *, pairs_per_class: int = 20,
                    seed: int = 0) -> float:
    """Convex Acc.: share (0–1) of interpolants λ z0 + (1 − λ) z1 (λ ∈ :data:`LAMBDAS`) of same-label latent pairs
    whose G keeps the label (oracle nearest mean, no confidence filter on the interpolants)."""
    rng = np.random.default_rng(seed)
    z0, z1, lab = [], [], []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < 2:
            continue
        for _ in range(pairs_per_class):
            a, b = rng.choice(members, 2, replace=False)
            z0.append(z[a])
            z1.append(z[b])
            lab.append(c)
    if not lab:
        return float("nan")
    a, b, lab_arr = np.stack(z0), np.stack(z1), np.asarray(lab)
    hits = []
    for lam in LAMBDAS:
        zl = torch.from_numpy((lam * a + (1 - lam) * b).astype(np.float32))
        idx, _ = data.oracle(_generate(G, zl))
        hits.append(idx == lab_arr)
    return float(np.mean(hits))


def evaluate_generator(G: Any, data: PointData, latent_dim: int, *, n_eval: int = 2000, n_train: int = 20_000,
                       n_test: int = 5_000, seed: int = 0) -> dict[str, Any]:
    """Precision / recall (k = 5), on-mode share, modes hit, LogReg Acc. and Convex Acc. of one generator, in %."""
    g = torch.Generator().manual_seed(seed + 1)
    x = _generate(G, torch.randn(n_eval, latent_dim, generator=g))
    pr = prdc(data.sample(n_eval, seed=seed + 2).double().numpy(), x.double().numpy(), k=5)
    _, conf = confident_labels(data, x)
    lr = logreg_accuracy(G, data, latent_dim, n_train=n_train, n_test=n_test, seed=seed + 3)
    cvx = convex_accuracy(G, data, lr["z_test"], lr["y_test"], seed=seed + 4)
    hist = np.bincount(confident_labels(data, x)[0][conf], minlength=len(data.modes))
    return {"precision": 100 * pr["precision"], "recall": 100 * pr["recall"], "density": 100 * pr["density"],
            "coverage": 100 * pr["coverage"], "on_mode": 100 * float(conf.mean()), "modes_hit": int((hist > 0).sum()),
            "logreg_acc": 100 * lr["logreg_acc"], "logreg_train_acc": 100 * lr.get("logreg_train_acc", float("nan")),
            "convex_acc": 100 * cvx, "logreg_classes": lr["classes_train"]}


def metric_references(data: PointData, n_eval: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """Improved precision / recall and on-mode share (%) of real samples and of a collapsed generator (every sample
    at the modes' centroid + N(0, (σ/10)²)) against fresh real samples: what the numbers mean in R^D."""
    real = data.sample(n_eval, seed=seed + 2).double().numpy()
    rng = np.random.default_rng(seed)
    cands = {"real samples": data.sample(n_eval, seed=seed + 7).double().numpy(),
             "collapsed at centroid": data.modes.mean(0) + 0.1 * data.std * rng.standard_normal(real.shape)}
    rows = []
    for name, x in cands.items():
        pr = prdc(real, x, k=5)
        rows.append({"reference": name, "precision": round(100 * pr["precision"], 1), "recall": round(100 * pr["recall"], 1),
                     "on_mode": round(100 * float(confident_labels(data, x)[1].mean()), 1)})
    return rows


def train_one(out: Path, data: PointData, latent_dim: int, steps: int, seed: int, **over: Any) -> Any:
    """The :data:`RECIPE` WGAN-GP on ``data`` with latent ``latent_dim``; returns the generator (eval mode)."""
    r = {**RECIPE, **over}
    loop = quiet_loop(GAN_LOOP, out, steps, seed, lr=r["lr"], batch_size=r["batch_size"])
    task = GANTaskConfig(data=data, loss=r["loss"], n_critic=r["n_critic"], betas=tuple(r["betas"]), hidden=tuple(r["hidden"]),
                         latent_dim=latent_dim)
    pipe, _ = train_gan(loop, task)
    return pipe.generator.eval()


def latent_dim_sweep(out: Path, latent_dims: tuple[int, ...] = (2, 8, 32, 100), seeds: tuple[int, ...] = (0, 1), *,
                     steps: int = 2000, n_eval: int = 2000, n_train: int = 20_000, n_test: int = 5_000,
                     **recipe: Any) -> dict[str, Any]:
    """One run per (latent dim, seed) into ``out/d<dim>-s<seed>``; rows of :func:`evaluate_generator` (rounded to
    0.1) and the Pearson correlation of precision with LogReg Acc. over all runs."""
    rows = []
    for seed in seeds:
        data = mixture(seed)
        for d in latent_dims:
            torch.manual_seed(seed)
            G = train_one(out / f"d{d}-s{seed}", data, d, steps, seed, **recipe)
            m = evaluate_generator(G, data, d, n_eval=n_eval, n_train=n_train, n_test=n_test, seed=seed)
            rows.append({"seed": seed, "latent_dim": d, **{k: round(v, 1) if isinstance(v, float) else v for k, v in m.items()}})
    refs = metric_references(mixture(seeds[0]), n_eval, seeds[0])
    return {"rows": rows, "references": refs,
            "pearson_precision_logreg": pearson([r["precision"] for r in rows], [r["logreg_acc"] for r in rows])}


def pearson(a: list[float], b: list[float]) -> float:
    """Pearson correlation of two equal-length lists (NaN when either is constant or too short)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return float("nan")
    return round(float(np.corrcoef(x[ok], y[ok])[0, 1]), 3)


__all__ = ["TABLE32_ROW1", "DATA", "RECIPE", "LAMBDAS", "mixture", "confident_labels", "logreg_accuracy", "convex_accuracy",
           "evaluate_generator", "metric_references", "train_one", "latent_dim_sweep", "pearson"]
