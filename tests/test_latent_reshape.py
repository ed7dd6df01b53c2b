"""Reshaping a factor's distribution (003 Eq. 4.14–4.15, R8): z ← z − ⟨z, u⟩u + g⁻¹(F_φ⁻¹(Φ(⟨z, u⟩)))u.

With the analytic g(s) = ½ erf(s/√2) of 003 Eq. 4.11 (a factor uniform on [−½, ½] under z ~ N(0, I)), the factor of
the reshaped latents follows the target φ: its sample mean and std match φ's within 4 standard errors."""

from __future__ import annotations

import math

import pytest
import torch

from tryon.errors import InputError
from tryon.latent import (ErfMap, LatentDirection, MonotoneMap, normal_icdf, reshape_factor, reshape_reachable,
                          uniform_icdf)

N, D = 20_000, 8


@pytest.fixture(scope="module")
def latents():
    return torch.randn(N, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.fixture(scope="module")
def direction():
    u = torch.randn(D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return LatentDirection(u / u.norm(), ErfMap(), factor="x")


def test_the_factor_starts_uniform(latents, direction):
    t = direction.value(latents)
    # U(−½, ½): mean 0 (SE 1/√(12N) = 0.002), std 1/√12 = 0.2887 (SE of a uniform sample's std: std·√(0.8/(4N)));
    # measured −0.0044 and 0.2871
    assert abs(float(t.mean())) < 4 / math.sqrt(12 * N)
    assert abs(float(t.std()) - 1 / math.sqrt(12)) < 4 / math.sqrt(12) * math.sqrt(0.8 / (4 * N))


def test_reshaping_to_a_normal_target(latents, direction):
    mean, std = 0.2, 0.05
    z = reshape_factor(latents, direction, normal_icdf(mean, std))
    t = direction.value(z)
    # standard errors of a sample mean and std of N normal values: s/√N = 3.5e-4 and s/√(2N) = 2.5e-4;
    # measured 0.19935 and 0.04966 (1.9 and 1.4 standard errors)
    assert abs(float(t.mean()) - mean) < 4 * std / math.sqrt(N), float(t.mean())
    assert abs(float(t.std()) - std) < 4 * std / math.sqrt(2 * N), float(t.std())
    # the factor is monotone in the old one (inverse-CDF sampling keeps the order) ...
    order = direction.coordinate(latents).argsort()
    assert bool((t[order].diff() >= 0).all())
    # ... and the rest of z is untouched: z − ⟨z, u⟩u is the same before and after
    u = direction.u
    rest = lambda x: x - (x @ u)[:, None] * u  # noqa: E731
    assert torch.allclose(rest(z), rest(latents), atol=1e-12)
    assert bool(reshape_reachable(latents, direction, normal_icdf(mean, std)).all())


def test_reshaping_to_a_uniform_target(latents, direction):
    low, high = -0.3, 0.1
    t = direction.value(reshape_factor(latents, direction, uniform_icdf(low, high)))
    spread = (high - low) / math.sqrt(12)
    # float64 rounding of g(g⁻¹(t)) at the ends of the target's support
    assert float(t.min()) >= low - 1e-9 and float(t.max()) <= high + 1e-9
    assert abs(float(t.mean()) - (low + high) / 2) < 4 * spread / math.sqrt(N)
    # measured mean −0.1018, std 0.11486 vs 0.11547 (SE of a uniform sample's std: std·√(0.8/(4N)))
    assert abs(float(t.std()) - spread) < 4 * spread * math.sqrt(0.8 / (4 * N))


def test_a_fitted_map_saturates_outside_its_range_and_says_so(latents):
    """A MonotoneMap at init is g(s) = s on its knot span [−5.05, 5.05]: a target at 0 ± 1 is reachable; at 7 it is not."""
    direction = LatentDirection(torch.eye(D, dtype=torch.float32)[0], MonotoneMap())
    z = latents[:2000].float()
    t = direction.value(reshape_factor(z, direction, normal_icdf(0.0, 1.0)))
    # measured mean −0.025, std 0.978 over 2000 latents (4 standard errors: 0.089 and 0.063)
    assert abs(float(t.mean())) < 4 / math.sqrt(2000) and abs(float(t.std()) - 1) < 4 / math.sqrt(4000)
    assert bool(reshape_reachable(z, direction, normal_icdf(0.0, 1.0)).all())
    assert not bool(reshape_reachable(z, direction, normal_icdf(7.0, 0.1)).any())


def test_bad_input(latents, direction):
    with pytest.raises(InputError, match="std"):
        normal_icdf(0.0, 0.0)
    with pytest.raises(InputError, match="low < high"):
        uniform_icdf(1.0, 1.0)
    with pytest.raises(InputError, match="latent size"):
        reshape_factor(latents[:, :3], direction, normal_icdf(0.0, 1.0))
    with pytest.raises(InputError, match="inverse"):
        reshape_factor(latents, LatentDirection(direction.u, torch.nn.Identity()), normal_icdf(0.0, 1.0))


def test_erf_map_saturates_out_of_range_targets_instead_of_nan(latents, direction) -> None:
    # a target beyond g's range (0.5) used to give s' = ±inf and z + inf·0 = NaN in every coordinate of the latent
    target = normal_icdf(0.45, 0.2)  # about 40 % of the targets lie beyond 0.5
    out = reshape_factor(latents, direction, target)
    assert torch.isfinite(out).all()
    unreached = float((~reshape_reachable(latents, direction, target)).float().mean())
    # P(N(0.45, 0.2) > 0.5) = P(Z > 0.25) = 0.401: ±0.1 is about 30 standard errors at N = 20 000
    assert 0.3 < unreached < 0.5
    assert torch.isfinite(ErfMap().inverse(torch.tensor([0.5, -0.7], dtype=torch.float64))).all()
