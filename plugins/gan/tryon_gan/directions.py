"""Latent directions on the plugin's sprites generator, whose factors are known (003 ch. 4).

The generic method lives in the core and is re-exported here: the transformations (:mod:`tryon.latent.transforms`),
003 Alg. 1 trajectories and the monotone model ``t = g(⟨u, z⟩)`` of 003 Eq. 4.12–4.13 (:mod:`tryon.latent.directions`).
This module adds what needs :mod:`tryon_gan.sprites`: the factor each transformation changes (:data:`SPRITE_FACTOR`)
and the evaluation of a direction against the generator's exact factors (:func:`evaluate_sprite_direction`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tryon.latent.directions import (Directions, LatentDirection, MonotoneMap, TrajectoryData, build_trajectories,
                                     find_direction, fit_direction)
from tryon.latent.inversion import project
from tryon.latent.transforms import TRANSFORMS, Transform, brightness, shift_x, shift_y, zoom

#: the factor of :mod:`tryon_gan.sprites` each transformation changes, and how (delta or ratio − 1)
SPRITE_FACTOR = {"shift_x": ("x", "delta"), "shift_y": ("y", "delta"), "zoom": ("scale", "ratio"),
                 "brightness": ("brightness", "ratio")}


# ------------------------------------------------------------------------------------------------ evaluation
def sprite_factor_change(generator: nn.Module, z: Tensor, z_edit: Tensor, transform: str) -> Tensor:
    """The change of the sprite factor ``transform`` acts on, in the transformation's units (δx in fractions
    of the side for shifts, ratio − 1 for zoom and brightness), read from the generator's exact factors."""
    name, kind = SPRITE_FACTOR[transform]
    a, b = generator.factors(z)[name], generator.factors(z_edit)[name]
    return b - a if kind == "delta" else b / a - 1


def evaluate_sprite_direction(generator: nn.Module, direction: LatentDirection, transform: str,
                              amounts: Sequence[float] = (-0.2, -0.1, 0.1, 0.2), n: int = 64, seed: int = 1) -> dict:
    """Requested vs produced factor change on ``n`` fresh latents: per-amount mean produced change, mean
    absolute error, and the rank correlation between requested and produced (monotonicity)."""
    d = generator.latent_dim
    g = torch.Generator().manual_seed(int(seed))
    z = project(torch.randn(n, d, generator=g), "ball", math.sqrt(d)).to(next(generator.parameters()).device)
    rows, req, got = [], [], []
    with torch.no_grad():
        for a in amounts:
            ze = direction.edit(z, float(a))
            prod = sprite_factor_change(generator, z, ze, transform)
            rows.append({"requested": float(a), "produced_mean": float(prod.mean()), "produced_std": float(prod.std()),
                         "abs_error": float((prod - a).abs().mean()), "reachable": float(direction.reachable(z, a).float().mean())})
            req.append(torch.full_like(prod, float(a)))
            got.append(prod)
    r, p = torch.cat(req), torch.cat(got)
    return {"transform": transform, "rows": rows, "mean_abs_error": float((p - r).abs().mean()),
            "spearman": _spearman(r, p)}


def _spearman(a: Tensor, b: Tensor) -> float:
    def rank(x: Tensor) -> Tensor:
        order = x.argsort()
        r = torch.empty_like(x)
        r[order] = torch.arange(len(x), dtype=x.dtype)
        # average ties
        for v in x.unique():
            sel = x == v
            r[sel] = r[sel].mean()
        return r

    ra, rb = rank(a.double()), rank(b.double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))



__all__ = ["shift_x", "shift_y", "zoom", "brightness", "TRANSFORMS", "Transform", "SPRITE_FACTOR", "TrajectoryData",
           "build_trajectories", "MonotoneMap", "LatentDirection", "Directions", "fit_direction", "find_direction",
           "sprite_factor_change", "evaluate_sprite_direction"]
