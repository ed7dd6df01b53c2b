"""Losses with known values: perceptual (000 eq. 4.3.5), relativistic average / non-saturating / hinge / WGAN,
gradient penalties (000 App. E) and SAN (004 §3.3)."""

from __future__ import annotations

import math

import pytest
import torch

from tryon import losses as L
from tryon.errors import UnknownNameError
from tryon.nn import PatchGANDiscriminator, VGG19Features

LOG2 = math.log(2.0)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


# ------------------------------------------------------------------------------------------ adversarial
def test_relativistic_equal_outputs_give_2log2():
    c = torch.full((4, 1, 2, 2), 0.7)
    # log 2 in fp32: measured 3.8e-9 off (its own rounding; AVX2 and SSE4.1); 1e-6 is 8 fp32 ulps at 1.39
    assert L.relativistic_d_loss(c, c).item() == pytest.approx(2 * LOG2, abs=1e-6)
    assert L.relativistic_g_loss(c, c).item() == pytest.approx(2 * LOG2, abs=1e-6)


def fp32_loss(expected: float):
    """``expected`` to within what an fp32 BCE can give on any CPU. The losses are taken in fp32, and torch's BCE
    computes ``log(1 + e^-|x|)`` from ``1 + e^-|x|`` rounded to fp32: an absolute error of eps/2 per term whatever
    the kernels (a relative 4e-7 on 2 softplus(-2) = 0.254, measured on AVX2 and SSE4.1 alike). Two terms plus the
    log's own rounding stay below 4 eps · max(1, |value|): measured 1e-7 / 1.6e-7 / 6e-8 below, 4.8-13x inside."""
    # 4 fp32 eps, relative to the value above 1 (derivation in the docstring)
    return pytest.approx(expected, abs=4 * torch.finfo(torch.float32).eps * max(1.0, abs(expected)))


def test_relativistic_known_values():
    real, fake = torch.full((3,), 1.0), torch.full((3,), -1.0)
    # D: BCE(1 - (-1), 1) + BCE(-1 - 1, 0) = 2 softplus(-2); G: BCE(-2, 1) + BCE(2, 0) = 2 softplus(2)
    assert L.relativistic_d_loss(real, fake).item() == fp32_loss(2 * softplus(-2.0))
    assert L.relativistic_g_loss(real, fake).item() == fp32_loss(2 * softplus(2.0))
    # only the averages of the other side matter: a batch [0, 2] vs constant 1
    real = torch.tensor([0.0, 2.0])
    fake = torch.tensor([1.0, 1.0])
    expected = (softplus(1.0) + softplus(-1.0)) / 2 + softplus(0.0)
    assert L.relativistic_d_loss(real, fake).item() == fp32_loss(expected)


def test_relativistic_gradient_direction():
    real = torch.zeros(4, requires_grad=True)
    fake = torch.zeros(4, requires_grad=True)
    L.relativistic_d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # D pushes real up, fake down


def test_nonsaturating_hinge_wgan_known_values():
    zero = torch.zeros(5)
    # as above: log 2 in fp32, measured 3.8e-9 and 1.9e-9 off
    assert L.nonsaturating_d_loss(zero, zero).item() == pytest.approx(2 * LOG2, abs=1e-6)
    assert L.nonsaturating_g_loss(zero).item() == pytest.approx(LOG2, abs=1e-6)
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.0])
    assert L.hinge_d_loss(real, fake).item() == pytest.approx(0.25 + 0.5)
    assert L.hinge_g_loss(fake).item() == pytest.approx(1.0)
    assert L.wgan_d_loss(real, fake).item() == pytest.approx(-1.0 - 1.25)
    assert L.wgan_g_loss(fake).item() == pytest.approx(1.0)


def test_registry():
    for name in ("relativistic", "nonsaturating", "hinge", "wgan"):
        loss = L.get_adversarial_loss(name)
        r, f = torch.tensor([0.3, 1.2]), torch.tensor([-0.4, 0.1])
        assert torch.isfinite(loss.d(r, f)) and torch.isfinite(loss.g(r, f))
    assert L.get_adversarial_loss("hinge").g(None, torch.tensor([2.0])).item() == -2.0
    with pytest.raises(UnknownNameError, match="relativistic"):
        L.get_adversarial_loss("lsgan")


# ------------------------------------------------------------------------------------- gradient penalty
def linear_disc(w: torch.Tensor):
    return lambda x: (x * w).flatten(1).sum(1)


def test_gradient_penalty_linear_discriminator_exact():
    torch.manual_seed(0)
    w = torch.randn(3, 4, 5)
    norm = w.norm().item()
    real, fake = torch.randn(6, 3, 4, 5), torch.randn(6, 3, 4, 5)
    gp = L.gradient_penalty(linear_disc(w), real, fake, kind="wgan-gp")
    # fp32 gradient norms of 60-element tensors: measured <= 1.8e-7 relative (AVX2 and SSE4.1); 50x margin
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-5)
    r1 = L.gradient_penalty(linear_disc(w), real, kind="r1")
    assert r1.item() == pytest.approx(norm**2, rel=1e-5)
    total = L.wgan_gp_d_loss(linear_disc(w), real, fake, gp_weight=10.0)
    expected = (fake * w).flatten(1).sum(1).mean() - (real * w).flatten(1).sum(1).mean() + 10 * (norm - 1) ** 2
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)  # measured 1.7e-7
    with pytest.raises(ValueError):
        L.gradient_penalty(linear_disc(w), real, kind="wgan-gp")


def test_gradient_penalty_is_differentiable_through_a_patch_discriminator():
    torch.manual_seed(1)
    disc = PatchGANDiscriminator(3, n_down=3, base=4, norm="none")
    real, fake = torch.randn(2, 3, 32, 24), torch.randn(2, 3, 32, 24)
    gp = L.gradient_penalty(disc, real, fake)
    gp.backward()
    grads = [p.grad for p in disc.parameters() if p.grad is not None]
    assert gp.item() > 0 and grads and sum(g.abs().sum() for g in grads) > 0


# ------------------------------------------------------------------------------------------------- SAN
def test_san_losses_known_values():
    real = L.SANOutput(fun=torch.tensor([2.0, 0.0]), dir=torch.tensor([0.5, 0.5]))
    fake = L.SANOutput(fun=torch.tensor([-2.0, 0.0]), dir=torch.tensor([0.25, 0.25]))
    # hinge: (0 + 1)/2 + (0 + 1)/2 = 1; direction: 0.25 - 0.5 = -0.25
    assert L.san_d_loss(real, fake).item() == pytest.approx(1.0 - 0.25)
    assert L.san_d_loss(real, fake, direction_weight=2.0).item() == pytest.approx(1.0 - 0.5)
    assert L.san_g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_san_training_steps_separate_real_from_fake():
    """A few SAN discriminator steps on two Gaussians: the loss drops and real scores above fake."""
    torch.manual_seed(2)
    disc = PatchGANDiscriminator(3, n_down=2, base=4, norm="none", head="san")
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    real, fake = torch.randn(8, 3, 8, 8) + 1.0, torch.randn(8, 3, 8, 8) - 1.0
    first = None
    for _ in range(15):
        loss = L.san_d_loss(disc.san_outputs(real), disc.san_outputs(fake))
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first
    assert disc(real).mean() > disc(fake).mean()


# ------------------------------------------------------------------------------------------- perceptual
class TwoScale(torch.nn.Module):
    def forward(self, x):
        return [x, 2 * x]


def test_perceptual_known_value_and_weights():
    x, y = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    assert L.PerceptualLoss(TwoScale())(x, y).item() == pytest.approx(0.5 + 1.0)
    assert L.PerceptualLoss(TwoScale(), layer_weights=(1.0, 0.0))(x, y).item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        L.PerceptualLoss(TwoScale(), layer_weights=(1.0,))(x, y)


def test_perceptual_vgg_zero_for_identical_positive_otherwise():
    torch.manual_seed(3)
    loss = L.PerceptualLoss(VGG19Features())
    x = (torch.rand(1, 3, 64, 48) * 2 - 1).requires_grad_(True)
    assert loss(x, x.detach().clone()).item() == 0.0
    y = (x.detach() + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    value = loss(x, y)
    assert value.item() > 0
    value.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_weighted_sum():
    total, logs = L.WeightedSum(l1=1.0, perceptual=0.5, adv=0.0)(
        l1=torch.tensor(2.0), perceptual=torch.tensor(4.0), adv=torch.tensor(9.0)
    )
    assert total.item() == pytest.approx(4.0)
    assert logs == {"l1": 2.0, "perceptual": 4.0, "adv": 9.0, "total": 4.0}
    with pytest.raises(KeyError):
        L.WeightedSum(l1=1.0)(l2=torch.tensor(1.0))
    with pytest.raises(KeyError):
        L.WeightedSum(l1=1.0, warp=1.0)(l1=torch.tensor(1.0))


def test_registry_has_san_with_split_outputs():
    """``get_adversarial_loss("san")`` (004 §3.3): d takes SANOutput pairs, g the plain scores; same values
    as the direct functions."""
    san = L.get_adversarial_loss("san")
    real = L.SANOutput(fun=torch.tensor([2.0, 0.0]), dir=torch.tensor([0.5, 0.5]))
    fake = L.SANOutput(fun=torch.tensor([-2.0, 0.0]), dir=torch.tensor([0.25, 0.25]))
    assert san.d(real, fake).item() == pytest.approx(L.san_d_loss(real, fake).item())
    assert san.g(None, torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)
    assert not san.needs_real_for_g
