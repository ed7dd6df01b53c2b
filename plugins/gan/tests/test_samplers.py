"""The "gan" samplers: JBT, simplicial truncation, latentRS/GA, DRS/SIR; registration; bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tryon.errors import InputError
from tryon.sampling import get_sampler
from tryon_gan.jacobian import exact_jacobian_norms, jacobian_norms
from tryon_gan.samplers import (
    JBTSampler,
    LatentGASampler,
    LatentRSGASampler,
    LatentRSSampler,
    SimplicialSampler,
    simplicial_scores,
)


class StepGenerator(nn.Module):
    """Hand-built generator: two modes at x = ±4 joined by a steep ramp at z₀ = 0 (the "boundary region")."""

    latent_dim = 2

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(4.0))

    def forward(self, z):
        return torch.stack([self.scale * torch.tanh(5.0 * z[:, 0]), 0.1 * z[:, 1]], 1)


class HalfPlaneWeight(nn.Module):
    """w(z) = 2·1[z₀ > 0]: E_γ w = 1, max 2."""

    def forward(self, z):
        return 2.0 * (z[:, 0] > 0).float()


def test_jfn_estimate_matches_autograd_and_ranks_boundary_worst():
    G = StepGenerator()
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    est = jacobian_norms(G, z, sigma=1e-3, draws=10, seed=1)
    exact = exact_jacobian_norms(G, z[:50])
    many = jacobian_norms(G, z[:50], sigma=1e-3, draws=1600, seed=2)  # unbiased; 1600 draws: ~5 % spread
    # rtol 0.4: the largest relative error over the 50 latents, measured 0.088 (AVX2 and SSE4.1; seeds 2-7 give
    # 0.06-0.09; with 400 draws it was 0.12-0.22, too close); atol 1e-3 = a tenth of the smallest exact JFN (0.01)
    assert torch.allclose(many, exact, rtol=0.4, atol=1e-3)
    order = torch.argsort(est)
    worst, best = z[order[-200:], 0].abs(), z[order[:200], 0].abs()
    # the 10 % highest JFN all sit on the ramp between the modes: exact ranking puts them at |z₀| < 0.126 (normal
    # quantile), the 10-draw estimates at measured max 0.19; the 10 % lowest at measured min 0.68 (sech²(5z₀) < 0.02),
    # on AVX2 and SSE4.1 alike -- 0.35 sits between
    assert worst.max() < 0.35 < best.min()
    res = JBTSampler(keep=0.7).sample(G, 700, seed=0)
    assert res.samples.shape == (700, 2) and res.stats.proposed == 1000
    assert res.stats.acceptance_rate == pytest.approx(0.7)
    # nothing from the steepest part of the ramp: keeping 70 % drops |z₀| < 0.385 (normal quantile) up to estimate
    # noise; measured min |z₀| 0.333 (AVX2 and SSE4.1)
    assert (res.latents[:, 0].abs() > 0.05).all()


def test_jbt_calibrated_threshold_mode():
    G = StepGenerator()
    s = JBTSampler(keep=0.5)
    s.calibrate(G, n=20_000)
    res = s.sample(G, 8000, seed=3)
    # binomial σ = sqrt(0.25 (1/8000 + 1/20000)) = 0.0066, so 0.03 is 4.5σ; measured 0.0063 (with the former 5000 /
    # 2000 draws σ was 0.013 and seeds 3-8 gave 0.008-0.029: a 2σ bound). Seeded: the same on every CPU
    assert res.stats.acceptance_rate == pytest.approx(0.5, abs=0.03)


def test_latent_rs_acceptance_is_one_over_m_on_hand_made_w():
    G = StepGenerator()
    res = LatentRSSampler(weights=HalfPlaneWeight(), m=3.0).sample(G, 12_000, seed=0)
    # σ of n / proposals ≈ p sqrt((1 - p) / n) = 0.0025 at p = 1/3, so 0.02 is 8σ; measured -0.0034 (3000 draws gave
    # -0.0156, a 3σ draw). Exact accept decisions (u < w/m, w ∈ {0, 2}): the same on every CPU
    assert res.stats.acceptance_rate == pytest.approx(1 / 3, abs=0.02)
    assert (res.latents[:, 0] > 0).all()
    res6 = LatentRSSampler(weights=HalfPlaneWeight(), m=6.0).sample(G, 2000, seed=1)
    # p = 1/6, 2000 draws: σ = 0.0034, 0.02 is 6σ; measured 0.0011
    assert res6.stats.acceptance_rate == pytest.approx(1 / 6, abs=0.02)


def test_latent_ga_moves_up_w():
    class Bowl(nn.Module):
        def forward(self, z):
            return torch.exp(-((z - 1.0) ** 2).sum(1))

    G = StepGenerator()
    w = Bowl()
    res = LatentGASampler(weights=w, m=1.0, steps=20, step_size=0.5).sample(G, 500, seed=0)
    z0 = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    # gradient ascent on w: measured mean w 0.71 against 0.17 for the prior draws (AVX2 and SSE4.1); +0.1 = clearly up
    assert w(res.latents).mean() > w(z0).mean() + 0.1
    res2 = LatentRSGASampler(weights=HalfPlaneWeight(), m=3.0, steps=2).sample(G, 100, seed=0)
    assert res2.samples.shape == (100, 2)


@pytest.mark.parametrize("target", [0.2, 0.5, 0.8])
def test_simplicial_calibration_hits_target_acceptance(target):
    G = StepGenerator()
    s = SimplicialSampler(acceptance=target, clusters=2, calibration=200_000)
    res = s.sample(G, 40_000, seed=7)
    # binomial σ ≤ sqrt(0.25 (1/40000 + 1/200000)) = 0.0027, so 0.02 is 7σ; measured ≤ 0.006 over the 3 targets
    # (4000 / 20000 draws: σ 0.0087, measured up to 0.013 over seeds 7-11 -- a 2σ bound). Seeded: every CPU alike
    assert res.stats.acceptance_rate == pytest.approx(target, abs=0.02)
    pmax, _ = simplicial_scores(res.latents, s.seeds_for(G))
    assert (pmax > s.tau).all()


def test_simplicial_keeps_cell_centres():
    """With the two seeds on the axes of d = 2, the cell boundary is the line z₀ = z₁: truncation removes a wedge
    around it and keeps everything far from it."""
    G = StepGenerator()
    res = SimplicialSampler(acceptance=0.3, clusters=2).sample(G, 1000, seed=0)
    z = res.latents
    off_boundary = (z[:, 0] - z[:, 1]).abs() / (math.sqrt(2) * z.norm(dim=1))  # |sin| of the angle to the line
    # keeping 30 % keeps latents more than ~63° from the line (|sin| ≳ 0.89): measured min 0.890 (AVX2 and SSE4.1)
    assert (off_boundary > 0.5).all()
    z_all = torch.randn(4000, 2, generator=torch.Generator().manual_seed(1))
    # without truncation, an isotropic Gaussian puts exactly 1/3 of its mass within 30° of the line (measured 0.333;
    # 4000 draws: σ = 0.0075) -- 0.25 is 11σ below, so the check above is not trivially met
    assert ((z_all[:, 0] - z_all[:, 1]).abs() / (math.sqrt(2) * z_all.norm(dim=1)) <= 0.5).float().mean() > 0.25


def test_trained_toy_precision_rises_with_jbt_and_latent_rs(toy_gan, toy_data):
    pipe, _ = toy_gan
    G = pipe.generator
    base = toy_data.oracle_precision(pipe(n=3000, seed=1).samples)
    jbt = toy_data.oracle_precision(pipe(n=3000, seed=1, sampler="jbt", keep=0.7).samples)
    # the 2000-step toy GAN's precision moves with the CPU's kernels (a GAN run is chaotic): measured 0.85-0.97 over
    # seeds 0-3 on an AMX Xeon, 0.90-0.91 with the kernels held to AVX2, 0.94 held to SSE4.2 (conftest). The range
    # only says it is a usable generator that still leaves room to improve. JBT must remove at least a fifth of the
    # off-mode samples, a bound relative to the base that has no ceiling at precision 1 (a fixed +0.02 had one):
    # measured off-mode ratio (1 - jbt) / (1 - base) 0.02-0.44 (Xeon, seeds 0-3), 0.13-0.23 (AVX2), 0.57 (SSE4.2)
    assert 0.3 < base < 0.995
    assert 1 - jbt < 0.8 * (1 - base)

    radius = toy_data.quality_radius()

    class OracleWeight(nn.Module):
        """A known w: constant on latents whose sample is within 3σ of a mode, 0 elsewhere (E w = 1)."""

        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, z):
            _, dist = toy_data.oracle(G(z))
            return self.c * torch.as_tensor(dist <= radius, dtype=torch.float32)

    c = 1.0 / base
    rs = pipe(n=2000, seed=2, sampler=LatentRSSampler(weights=OracleWeight(c), m=c))
    # w is 0 off the modes, so every kept sample is on a mode up to fp32 ties at the radius: measured 1.0
    assert toy_data.oracle_precision(rs.samples) > 0.99
    # E[w]/m = 1/m = base; 2000 draws: σ ≈ 0.008, so 0.05 is 6σ; measured 0.004 (AVX2) / 0.011 (SSE4.1)
    assert rs.stats.acceptance_rate == pytest.approx(base, abs=0.05)


def test_drs_and_sir_run_on_the_pipeline_discriminator(toy_gan):
    pipe, _ = toy_gan
    for name, opts in (("drs", {"burn_in": 2000}), ("sir", {"candidates": 5})):
        res = pipe(n=200, seed=0, sampler=name, **opts)
        assert res.samples.shape == (200, 2)
        assert res.stats.proposed >= 200
    assert pipe(n=100, seed=0, sampler="sir", candidates=5).stats.proposed == 500


def test_registered_and_family_checked():
    from tryon.plugins import samplers

    names = {s.name for s in samplers().for_family("gan")}
    assert {"gan-plain", "jbt", "simplicial", "latent-rs", "latent-ga", "latent-rs-ga", "drs", "sir"} <= names
    s = get_sampler("jbt", family="gan", keep=0.8)
    assert isinstance(s, JBTSampler) and s.keep == 0.8


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, "x"])
def test_acceptance_outside_unit_interval_is_one_clear_error(bad):
    with pytest.raises(InputError, match=r"acceptance rate in \(0, 1\]"):
        JBTSampler(keep=bad)
    with pytest.raises(InputError, match=r"acceptance rate in \(0, 1\]"):
        SimplicialSampler(acceptance=bad, clusters=2)


def test_bad_requests():
    G = StepGenerator()
    with pytest.raises(InputError, match="sample count"):
        JBTSampler().sample(G, 0)
    with pytest.raises(InputError, match="weights"):
        LatentRSSampler()
