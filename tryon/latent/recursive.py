"""Recursive estimation of a latent trajectory (003 §4.2, Eq. 4.6 and Eq. 4.9, the inner loop of 003 Alg. 1).

A transformation ``T_T`` applied to ``G(z₀)`` is split into small amounts ``δt_1 … δt_N`` and each target
``T_{δt_n}(G(z₀))`` is inverted warm-started at the previous solution: the image manifold is curved, so the
gradient of the one-shot objective (Eq. 4.6) vanishes once the target no longer overlaps the image (003
Eq. 4.7–4.8) while every small step keeps an overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .inversion import InversionResult, invert, probe_generator


@dataclass
class Trajectory:
    """Output of :func:`recursive_estimation`: ``latents`` ``N×B×d`` (one per amount), ``losses`` ``N×B`` final
    blurred-MSE per stage, ``amounts`` the ``δt_n``, ``z0`` ``B×d``, and ``results`` the per-stage
    :class:`InversionResult`."""

    z0: Tensor
    amounts: list[float]
    latents: Tensor
    losses: Tensor
    results: list[InversionResult]


def recursive_estimation(generator: nn.Module, z0: Tensor, transform: Callable[[Tensor, float], tuple[Tensor, Tensor]],
                         amounts: Sequence[float], *, steps_per_stage: int = 50, lr: float = 0.01, sigma: float = 3.0,
                         warm_start: bool = True, latent_dim: int | None = None, method: str = "plumerault",
                         callbacks: Sequence[Callable] = (), **options: Any) -> Trajectory:
    """003 Eq. 4.9 / Algorithm 1 (inner loop): ``z_n = argmin_{‖z‖≤√d} L(G(z), T_{δt_n}(G(z₀)))`` for
    ``n = 1..N``, each solve warm-started at ``z_{n−1}`` with a fresh Adam state (official code: lr 0.01,
    50 steps per sub-target). Targets are always transforms of the *original* image ``G(z₀)``;
    ``transform(images, t) -> (target, undefined)`` marks the pixels the transformation leaves undefined
    (1 = ignored). ``warm_start=False`` starts every stage from ``z₀`` (the naive Eq. 4.6)."""
    d, _ = probe_generator(generator, latent_dim)
    with torch.no_grad():
        was = generator.training
        generator.eval()
        i0 = generator(z0)
        generator.train(was)
    z = z0.detach().clone()
    lat, losses, results = [], [], []
    for t in amounts:
        target, undefined = transform(i0, float(t))
        res = invert(generator, target, undefined, method=method, init=z if warm_start else z0, steps=steps_per_stage,
                     lr=lr, sigma=sigma, latent_dim=d, callbacks=callbacks, **options)
        z = res.latents
        lat.append(z)
        losses.append(res.final_losses)
        results.append(res)
    return Trajectory(z0.detach(), [float(a) for a in amounts], torch.stack(lat), torch.stack(losses), results)


__all__ = ["Trajectory", "recursive_estimation"]
