"""The numerical facts behind the inversion loss and the latent ball of 003 §4.2 (seeds-control §6, R4 and R9).

* R4 (003 Eq. 4.3–4.5): the blurred MSE is a low-pass weighting of the error spectrum — exactly, with circular
  convolution and a unitary DFT; the phase-uncertainty argument E|r̂e^{iθ̂} − re^{iθ}|² = r̂² + r²; and its
  consequence: fitting the amplitude of a random-phase texture, MSE drives it to 0 (blur), the blurred MSE barely
  penalises it.
* R9 (003 Eq. 4.2): ‖z‖ for z ~ N(0, I_d) is χ_d, E‖z‖ ≈ √(d − ½), and the ball ‖z‖ ≤ √d keeps about half the mass.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tryon.latent import blurred_mse, gaussian_kernel1d, masked_mse, project


pytestmark = pytest.mark.usefixtures("one_thread")


def test_eq_4_5_equals_the_fourier_form_for_circular_convolution():
    """‖(a − b) * σ‖² = ‖F{a − b}·F{σ}‖², F{a − b} the unitary DFT, F{σ} the kernel's transfer function."""
    h = w = 32
    sigma = 2.0
    gen = torch.Generator().manual_seed(0)
    diff = torch.rand(1, 1, h, w, generator=gen, dtype=torch.float64) - torch.rand(1, 1, h, w, generator=gen,
                                                                                    dtype=torch.float64)
    k1 = gaussian_kernel1d(sigma).double()
    r = (k1.numel() - 1) // 2
    k2 = torch.outer(k1, k1)
    circular = F.conv2d(F.pad(diff, (r, r, r, r), mode="circular"), k2[None, None])
    kernel = torch.zeros(h, w, dtype=torch.float64)  # the kernel wrapped around the origin of the H×W torus
    offsets = torch.arange(-r, r + 1) % h
    kernel[offsets[:, None], offsets[None, :]] = k2
    transfer = torch.fft.fft2(kernel)
    spatial = float((circular**2).sum())
    fourier = float((torch.fft.fft2(diff[0, 0], norm="ortho") * transfer).abs().pow(2).sum())
    assert abs(spatial - fourier) <= 1e-12 * spatial, (spatial, fourier)  # float64 precision: measured 0 (2.8923 both)
    # a low-pass weighting: 1 at ω = 0 (a kernel normalised in float32), ~0 at Nyquist: measured 7.5e-4 for σ = 2 px
    # (the kernel's truncation at 3σ; the untruncated Gaussian would give exp(−π²σ²/2) = 2.7e-9)
    assert abs(float(transfer[0, 0].real) - 1) < 1e-6 and float(transfer[0, w // 2].abs()) < 1e-3
    # the core's blurred MSE ('SAME', zero padding) is the same number when the error is 0 within r of the border
    inner = diff.clone()
    inner[..., :r, :], inner[..., -r:, :], inner[..., :, :r], inner[..., :, -r:] = 0, 0, 0, 0
    circ_inner = float((F.conv2d(F.pad(inner, (r, r, r, r), mode="circular"), k2[None, None]) ** 2).sum())
    core = float(blurred_mse(inner.float(), torch.zeros(1, 1, h, w), None, sigma)) * h * w
    assert abs(core - circ_inner) <= 1e-5 * circ_inner, (core, circ_inner)  # float32: measured 1.4e-7 relative


def test_eq_4_4_uniform_phase_gives_the_sum_of_the_squared_amplitudes():
    """Monte Carlo of 003 Eq. 4.3–4.4: E_θ̂|r̂e^{iθ̂} − re^{iθ}|² = r̂² + r² − 2r̂r·E cos(θ̂ − θ) = r̂² + r²."""
    n, r_hat, r, theta = 200_000, 0.7, 1.3, 0.4
    theta_hat = torch.rand(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 * math.pi
    err = (r_hat * torch.exp(1j * theta_hat) - r * torch.exp(torch.tensor(1j * theta))).abs() ** 2
    standard_error = math.sqrt(2 * r_hat**2 * r**2 / n)  # Var(2r̂r cos U) = 2 r̂² r²: 0.0029 here
    assert abs(float(err.mean()) - (r_hat**2 + r**2)) < 4 * standard_error, float(err.mean())
    assert abs(float(err.var()) - 2 * r_hat**2 * r**2) < 0.02 * 2 * r_hat**2 * r**2


def test_mse_blurs_a_random_phase_texture_and_the_blurred_mse_does_not():
    """Fit the amplitude r̂ of a vertical-stripe texture (period 4 px, 8×32) whose phase the model cannot control
    (64 random phases) to a target of amplitude 1, by plain gradient descent (lr 1, 100 steps) from r̂ = 1.

    Measured: MSE takes r̂ to 0.035 (its optimum is the sample mean of cos(θ̂ − θ) ≈ 0: blur); the blurred MSE
    (σ = 3 px) leaves r̂ at 0.927, its amplitude penalty loss(r̂ = 1) − loss(r̂ = 0) being 3.9e-4 against 0.465
    under MSE (what remains comes from the zero-padded border, where the stripes are not averaged out)."""
    h, w = 8, 32
    gen = torch.Generator().manual_seed(0)
    phases = torch.rand(64, generator=gen) * 2 * math.pi
    x = torch.arange(w, dtype=torch.float32)

    def stripes(phase: torch.Tensor) -> torch.Tensor:
        return torch.cos(2 * math.pi * x / 4.0 + phase[:, None])[:, None, None, :].expand(-1, 1, h, w)

    basis, target = stripes(phases), stripes(torch.full((64,), 0.4))
    fitted, penalty = {}, {}
    for name, loss in (("mse", masked_mse), ("blurred", lambda a, b: blurred_mse(a, b, None, 3.0))):
        amp = torch.tensor(1.0, requires_grad=True)
        opt = torch.optim.SGD([amp], lr=1.0)
        for _ in range(100):
            opt.zero_grad()
            loss(amp * basis, target).mean().backward()
            opt.step()
        fitted[name] = float(amp.detach())
        with torch.no_grad():
            penalty[name] = float(loss(basis, target).mean() - loss(0 * basis, target).mean())
    # measured: MSE leaves r̂ = 0.035, the blurred MSE 0.927; its penalty 3.9e-4 of MSE's 0.465 (border only)
    assert fitted["mse"] < 0.1 and fitted["blurred"] > 0.8, fitted
    assert penalty["blurred"] < 0.01 * penalty["mse"], penalty


def test_eq_4_2_the_latent_norm_is_chi_distributed():
    """R9 with scipy's χ_d (seeds-control §3.2(a)) and a Monte-Carlo check of the ball's mass through ``project``."""
    chi = pytest.importorskip("scipy.stats").chi
    d = 120
    assert round(float(chi(d).mean()), 4) == 10.9317 and round(math.sqrt(d - 0.5), 4) == 10.9316
    assert round(float(chi(d).std()), 4) == 0.7064 and round(float(chi(d).cdf(math.sqrt(d))), 3) == 0.517
    assert round(float(chi(100).mean()), 3) == 9.975 and round(float(chi(10).mean()), 4) == 3.0843
    n = 20_000
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    norms = z.norm(dim=1)
    assert abs(float(norms.mean()) - float(chi(d).mean())) < 4 * float(chi(d).std()) / math.sqrt(n)
    p = float(chi(d).cdf(math.sqrt(d)))
    inside = project(z, "ball", math.sqrt(d)).eq(z).all(1)  # the projection leaves exactly the inside unchanged
    assert torch.equal(inside, norms <= math.sqrt(d))
    assert abs(float(inside.double().mean()) - p) < 4 * math.sqrt(p * (1 - p) / n), float(inside.double().mean())
