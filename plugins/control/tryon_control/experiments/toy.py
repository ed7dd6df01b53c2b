"""003 §3.4.1 (R2): VAE vs AVAE on the 2-D toy, measured.

The toy's points ``x = (3 z1, cos(3 z1 + tanh(3 z2))) + 0.1 noise`` concentrate on two branches ``x2 = cos(x1 ± 1)``
(``tanh(3 z2)`` is near ±1 for most z2) with a thin population between them. With a 1-D latent the VAE cannot tell
the branches apart, so its decoder returns their average, *between* the branches (003 Fig. 3.7, dotted line); the
AVAE generator, trained through the VAE encoder and a critic, reconstructs on a branch (an arbitrary choice: the
"beneficial mode collapse" of 003 §3.4.1). The thesis shows this as a figure only; the numbers here are ours:

* ``branch_distance`` — mean vertical distance to the nearer branch ``min_± |x2 − cos(x1 ± 1)|`` (the data's own is
  about 0.15: its noise and the points between the branches);
* ``knn_distance`` — mean distance to the k-th nearest of ``n_ref`` fresh data points (a density-aware nearest-data
  distance; the plain nearest-point distance does not separate the models, since some data lie between the branches);
* ``log_density`` — mean log of a Gaussian KDE of the data (bandwidth 0.1) at the points;
* ``mse`` — ``‖x̂ − x‖²`` of reconstructions (the VAE should win: it is what it minimises);
* ``spearman`` — rank correlation of the VAE latent μ_e(x) with the x1 of the generator's reconstruction (the
  generator keeps the VAE's latent ordering, 003 Fig. 3.7 colours).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from tryon.train import TrainConfig

from ..data import toy_points
from ..training.avae import train_avae
from ..training.config import AVAE_LOOP, AvaeTaskConfig

#: the toy recipe: 003 §3.4.1 gives the networks (2 × 128 MLPs) and latent 1; the rest is ours (batch 256, Adam 1e-3)
TOY_LOOP: dict[str, Any] = {**AVAE_LOOP, "batch_size": 256, "lr": 1e-3, "device": "cpu", "progress": False,
                            "log_every": 100, "ckpt_every": 100_000}


def branch_distance(x: Tensor) -> Tensor:
    """Per point, the vertical distance to the nearer branch ``x2 = cos(x1 ± 1)`` of the toy."""
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.minimum((x[:, 1] - torch.cos(x[:, 0] + 1)).abs(), (x[:, 1] - torch.cos(x[:, 0] - 1)).abs())


def knn_distance(x: Tensor, ref: Tensor, k: int = 20) -> Tensor:
    """Per point, the distance to its ``k``-th nearest point of ``ref``."""
    return torch.cdist(torch.as_tensor(x, dtype=torch.float32), ref).topk(int(k), largest=False).values[:, -1]


def log_density(x: Tensor, ref: Tensor, bandwidth: float = 0.1) -> Tensor:
    """Per point, the log of a Gaussian KDE of ``ref`` (isotropic, ``bandwidth``) in 2-D."""
    sq = torch.cdist(torch.as_tensor(x, dtype=torch.float32), ref) ** 2
    return torch.logsumexp(-sq / (2 * bandwidth**2), 1) - math.log(len(ref)) - math.log(2 * math.pi * bandwidth**2)


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman's rank correlation of two vectors (no ties expected: continuous values)."""
    ra, rb = a.flatten().argsort().argsort().double(), b.flatten().argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def point_metrics(points: Tensor, ref: Tensor, target: Tensor | None = None) -> dict[str, float]:
    """The module doc's metrics of ``points`` (``target``: what they reconstruct, for ``mse``)."""
    out = {"branch_distance": float(branch_distance(points).mean()), "knn_distance": float(knn_distance(points, ref).mean()),
           "log_density": float(log_density(points, ref).mean())}
    if target is not None:
        out["mse"] = float(((points - target) ** 2).sum(1).mean())
    return out


def train_toy(out: str | Path, *, steps: int = 1000, seed: int = 0, xi: bool = False, objective: str = "avae",
              latent_loss: str = "b", quiet: bool = True) -> Any:
    """One model on the toy (latent 1, MLPs of 128) into ``out``; returns the pipeline."""
    loop = TrainConfig(**{**TOY_LOOP, "out_dir": str(out), "max_steps": int(steps), "seed": int(seed), "resume": False,
                          "progress": not quiet})
    pipe, _ = train_avae(loop, AvaeTaskConfig(data="toy", latent_dim=1, xi=xi, objective=objective, latent_loss=latent_loss))
    return pipe


def toy_study(out: str | Path, *, steps: int = 1000, seed: int = 0, n: int = 2000, n_ref: int = 10_000,
              with_xi: bool = True) -> dict[str, Any]:
    """R2: one AVAE run (its encoder and decoder are a VAE: no gradient of the generator reaches them) and, with
    ``with_xi``, one AVAE + ξ run; metrics of held-out data, VAE reconstructions, AVAE reconstructions and samples."""
    out = Path(out)
    x = toy_points(n, seed=1_000 + seed)
    ref = toy_points(n_ref, seed=2_000 + seed)
    rows: dict[str, dict[str, float]] = {"data (held out)": point_metrics(x, ref)}
    runs = {"AVAE": train_toy(out / "avae", steps=steps, seed=seed)}
    if with_xi:
        runs["AVAE + xi"] = train_toy(out / "avae-xi", steps=steps, seed=seed, xi=True)
    points: dict[str, Tensor] = {"data": x}
    for label, pipe in runs.items():
        mu = pipe.encode(x)
        if label == "AVAE":
            rec_d = pipe.decode(mu)
            rows["VAE reconstruction (decoder)"] = point_metrics(rec_d, ref, x)
            points["VAE reconstruction"] = rec_d
        rec_g = pipe.generate(mu, seed=seed)
        rows[f"{label} reconstruction (generator)"] = {**point_metrics(rec_g, ref, x),
                                                      "spearman": spearman(mu[:, 0], rec_g[:, 0])}
        samples = pipe.generate(torch.randn(n, 1, generator=torch.Generator().manual_seed(seed)), seed=seed + 1)
        rows[f"{label} samples"] = point_metrics(samples, ref)
        points[f"{label} reconstruction"], points[f"{label} samples"] = rec_g, samples
    return {"rows": rows, "points": points, "steps": int(steps), "seed": int(seed)}


__all__ = ["TOY_LOOP", "branch_distance", "knn_distance", "log_density", "point_metrics", "spearman", "toy_study", "train_toy"]
