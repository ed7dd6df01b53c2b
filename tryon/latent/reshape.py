"""Reshaping the distribution of a factor of variation (003 §4.3, Eq. 4.14–4.15; seeds-control §3.4 [D]).

With the factor model ``t = g(⟨u, z⟩)`` of a :class:`~tryon.latent.directions.LatentDirection` (``‖u‖ = 1``,
``g`` increasing) and ``z ~ N(0, I)``, the coordinate ``s = ⟨z, u⟩`` is ``N(0, 1)``, so ``Φ(s)`` is uniform on
(0, 1) and ``t' = F_φ⁻¹(Φ(s))`` follows any target distribution φ (inverse-CDF sampling). Eq. 4.14–4.15 in
closed form: ``z ← z − ⟨z, u⟩u + s′u`` with ``s′ = g⁻¹(F_φ⁻¹(Φ(⟨z, u⟩)))``; the rest of ``z`` is untouched.

**Units.** ``g`` is known only up to an additive constant (003 Eq. 4.13 fixes ``g(0) = 0``: a fitted
direction sees only differences δt), so targets are given **in the units of g**: ``t = 0`` is the factor's
value at ``⟨z, u⟩ = 0``. If the factor's absolute value there is ``t₀``, pass the target distribution shifted by
``−t₀``. Targets beyond the range of ``g`` saturate (a fitted :class:`MonotoneMap` is constant outside its
knot span): check with :func:`reshape_reachable`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from tryon.errors import InputError

#: ``F_φ⁻¹``: probabilities in (0, 1) (a tensor) -> target values of the factor (a tensor or an array)
InverseCDF = Callable[[Tensor], Any]
#: probabilities are kept inside [EPS, 1 − EPS] so that unbounded targets stay finite
EPS = 1e-9


def normal_icdf(mean: float, std: float) -> InverseCDF:
    """``F⁻¹`` of ``N(mean, std²)``: ``p ↦ mean + std·Φ⁻¹(p)``."""
    if not std > 0:
        raise InputError("std", "> 0", str(std))
    return lambda p: mean + std * torch.special.ndtri(p)


def uniform_icdf(low: float, high: float) -> InverseCDF:
    """``F⁻¹`` of ``U(low, high)``: ``p ↦ low + (high − low)·p``."""
    if not high > low:
        raise InputError("uniform bounds", "low < high", f"low={low}, high={high}")
    return lambda p: low + (high - low) * p


class ErfMap(nn.Module):
    """The analytic factor map of 003 Eq. 4.11, ``g(s) = scale · ½ erf(s/√2)`` (a factor uniform on
    ``[−scale/2, scale/2]`` under ``s ~ N(0, 1)``), with its exact inverse; usable as the ``g`` of a direction."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = float(scale)

    def forward(self, s: Tensor) -> Tensor:
        return self.scale * 0.5 * torch.erf(s / math.sqrt(2.0))

    def inverse(self, t: Tensor) -> Tensor:
        """``g⁻¹(t)``; targets at or beyond the ends of the open range ``(−scale/2, scale/2)`` saturate at a finite
        ``|s|`` (≈ 5.3 in float64, ≈ 3.8 in float32) like a fitted :class:`MonotoneMap`, instead of ±inf, which
        would turn the whole reshaped latent into NaN (``inf · 0``)."""
        edge = 1.0 - (1e-12 if t.dtype == torch.float64 else 1e-6)
        return math.sqrt(2.0) * torch.erfinv((2.0 * t / self.scale).clamp(-edge, edge))


def target_values(s: Tensor, icdf: InverseCDF) -> Tensor:
    """``F_φ⁻¹(Φ(s))`` for coordinates ``s`` (any shape), computed in float64: the targets of each ``s``."""
    p = torch.special.ndtr(s.double()).clamp(EPS, 1 - EPS)
    return torch.as_tensor(icdf(p), dtype=torch.float64, device=s.device)


def reshaped_coordinate(s: Tensor, g: nn.Module, icdf: InverseCDF) -> Tensor:
    """``s′ = g⁻¹(F_φ⁻¹(Φ(s)))`` (003 Eq. 4.15 in closed form); ``g`` needs an ``inverse`` method."""
    if not callable(getattr(g, "inverse", None)):
        raise InputError("g", "a monotone map with an inverse() method (MonotoneMap, ErfMap)", type(g).__name__)
    t = target_values(s, icdf)
    ref = next(iter([*g.parameters(), *g.buffers()]), None)  # a fitted map computes in its own dtype
    with torch.no_grad():
        inv = g.inverse(t.to(ref.dtype if ref is not None else torch.float64))
    return inv.to(s.dtype)


def reshape_factor(z: Tensor, direction: Any, icdf: InverseCDF) -> Tensor:
    """003 Eq. 4.14: ``z − ⟨z, u⟩u + s′u`` for ``B×d`` latents drawn from ``N(0, I)``, so that the factor
    ``g(⟨z, u⟩)`` of the result follows the target φ given by its inverse CDF ``icdf`` (in the units of ``g``,
    see the module doc). ``direction`` is a :class:`~tryon.latent.directions.LatentDirection` (``u``, ``g``)."""
    if not isinstance(z, Tensor) or z.ndim != 2:
        raise InputError("z", "a B×d tensor of latents", f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
    u = direction.u.to(device=z.device, dtype=z.dtype)
    if u.ndim != 1 or u.shape[0] != z.shape[1]:
        raise InputError("direction.u", f"a vector of length {z.shape[1]} (the latent size)", f"shape {tuple(u.shape)}")
    u = u / u.norm().clamp_min(1e-12)
    s = z @ u
    s_new = reshaped_coordinate(s, direction.g.to(z.device), icdf)
    return z + (s_new - s)[:, None] * u


def reshape_reachable(z: Tensor, direction: Any, icdf: InverseCDF, atol: float = 1e-4) -> Tensor:
    """Per latent: whether ``g`` reaches its target ``F_φ⁻¹(Φ(⟨z, u⟩))`` (else the reshaped factor saturates)."""
    u = direction.u.to(device=z.device, dtype=z.dtype)
    s = z @ (u / u.norm().clamp_min(1e-12))
    t = target_values(s, icdf)
    g = direction.g.to(z.device)
    with torch.no_grad():
        got = g(reshaped_coordinate(s, g, icdf)).double()
    return (got - t).abs() <= atol


__all__ = ["InverseCDF", "normal_icdf", "uniform_icdf", "ErfMap", "target_values", "reshaped_coordinate", "reshape_factor",
           "reshape_reachable"]
