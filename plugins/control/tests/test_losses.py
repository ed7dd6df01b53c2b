"""The AVAE losses (003 §3.3.2) on hand-computed numbers: each assertion fails when its formula is wrong."""

from __future__ import annotations

import math

import pytest
import torch

from tryon_control.losses import critic_loss, kl_divergence, latent_loss, manifold_loss, reconstruction_nll, vae_loss

# μ_e(G(z)) = (0.5, −1), z = (1, 2), σ = (0.6, 0.8): √(1 − σ²) = (0.8, 0.6), exact in binary-free arithmetic below
MU = torch.tensor([[0.5, -1.0]])
Z = torch.tensor([[1.0, 2.0]])
LOG_SIGMA = torch.tensor([0.6, 0.8]).log()


def test_latent_loss_a_is_eq_3_8_on_a_hand_computed_example() -> None:
    # ½ ((0.5 − 1)/0.6)² + ½ ((−1 − 2)/0.8)² = ½ (0.694444… + 14.0625) = 7.378472…
    expected = 0.5 * ((0.5 / 0.6) ** 2 + (3 / 0.8) ** 2)
    # float32 arithmetic on numbers near 7: a few ulps (1e-6 relative) apart from the float64 value
    assert latent_loss(MU, Z, LOG_SIGMA, "a").item() == pytest.approx(expected, rel=1e-6)


def test_latent_loss_b_has_the_sqrt_one_minus_sigma_squared_factor_of_eq_3_12() -> None:
    # ½ ((0.5 − 0.8·1)/0.6)² + ½ ((−1 − 0.6·2)/0.8)² = ½ (0.25 + 7.5625) = 3.90625 (Eq. 3.8 gives 7.378: the factor
    # √(1 − σ²) is what differs)
    # float32 arithmetic on numbers near 4: a few ulps (1e-6 relative)
    assert latent_loss(MU, Z, LOG_SIGMA, "b").item() == pytest.approx(3.90625, rel=1e-6)
    assert latent_loss(MU, Z, LOG_SIGMA, "b").item() != pytest.approx(latent_loss(MU, Z, LOG_SIGMA, "a").item())


def test_latent_losses_agree_in_the_small_sigma_limit_and_b_targets_zero_for_sigma_one() -> None:
    tiny = torch.full((2,), 1e-3).log()
    a, b = latent_loss(MU, Z, tiny, "a").item(), latent_loss(MU, Z, tiny, "b").item()
    # √(1 − σ²) = 1 − σ²/2 + …: at σ = 1e-3 the two differ by a relative O(σ²·|z|/|μ − z|) ≈ 1e-6; 1e-4 leaves margin
    assert b == pytest.approx(a, rel=1e-4)
    # σ = 1 (an unused latent coordinate, μ_e ≈ 0 on real data): Eq. 3.12's target √(1 − σ²) z is 0, so the loss is ½‖μ‖²
    ones = torch.zeros(2)
    # float32 arithmetic on numbers near 0.6: a few ulps (1e-6 relative)
    assert latent_loss(MU, Z, ones, "b").item() == pytest.approx(0.5 * (0.25 + 1.0), rel=1e-6)


def test_latent_loss_sends_no_gradient_to_log_sigma_and_refuses_unknown_kinds() -> None:
    log_sigma = LOG_SIGMA.clone().requires_grad_(True)
    mu = MU.clone().requires_grad_(True)
    latent_loss(mu, Z, log_sigma, "b").backward()
    assert log_sigma.grad is None and mu.grad is not None
    with pytest.raises(Exception, match="Eq. 3.8"):
        latent_loss(MU, Z, LOG_SIGMA, "c")


def test_kl_of_the_prior_is_zero_and_matches_eq_3_3() -> None:
    assert kl_divergence(torch.zeros(4, 3), torch.zeros(3)).item() == 0.0  # exact: every term is 0
    # μ = (1, 0), σ = (1, e^-1): ½[(1 + 1 − 1 − 0) + (e^-2 + 0 − 1 + 2)] = ½(2 + e^-2) = 1.067668
    got = kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([0.0, -1.0])).item()
    # float32 arithmetic on numbers near 1: a few ulps (1e-6 relative)
    assert got == pytest.approx(0.5 * (2 + math.exp(-2)), rel=1e-6)


def test_vae_loss_is_half_squared_error_plus_beta_kl() -> None:
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.ones(2, 1, 2, 2)  # ½ · 4 pixels · 1² = 2 per image
    mu, log_sigma = torch.tensor([[1.0], [1.0]]), torch.zeros(1)  # KL = ½ per image
    assert reconstruction_nll(x_hat, x).item() == 2.0  # exact: small integers and halves
    total, logs = vae_loss(x_hat, x, mu, log_sigma, beta=4.0)
    assert total.item() == 4.0 and logs == {"nll": 2.0, "kl": 0.5}  # exact: 2 + 4 · ½


def test_critic_loss_is_eq_3_9_with_logits_of_fake_and_manifold_loss_is_eq_3_11() -> None:
    c_real, c_fake = torch.tensor([-2.0, 0.5]), torch.tensor([1.0, 3.0])
    p_real, p_fake = torch.sigmoid(c_real), torch.sigmoid(c_fake)  # C(x): probability of fake
    expected = -(torch.log(1 - p_real)).mean() - torch.log(p_fake).mean()
    # float32: log-sigmoid through softplus vs the direct logs differ by a few ulps (1e-6 relative)
    assert critic_loss(c_real, c_fake).item() == pytest.approx(expected.item(), rel=1e-6)
    # a critic sure of both (real: logit −∞ side, fake: +∞ side) pays ~0; the reverse pays a lot
    assert critic_loss(torch.tensor([-20.0]), torch.tensor([20.0])).item() < critic_loss(torch.tensor([20.0]), torch.tensor([-20.0])).item()
    assert manifold_loss(c_fake).item() == 2.0  # exact: mean of 1 and 3
