"""The DSSIM inversion loss (003 Table 4.1's DSSIM baseline): zero on equal images, growing with noise, far less
sensitive to a constant brightness shift than MSE, masked, per image, and usable by ``invert`` as ``loss="dssim"``."""

from __future__ import annotations

import pytest
import torch

from tryon.errors import InputError
from tryon.latent import dssim, invert, masked_mse, resolve_loss
from tryon.metrics.ssim import ssim


def _images(b: int = 3, c: int = 3, size: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(b, c, size + 4, size + 4, generator=g), 5, 1)
    return smooth * 1.6 - 0.8


def test_zero_on_equal_images_and_grows_with_noise():
    x = _images()
    # float32 rounding of the SSIM map (exactly 0 in exact arithmetic)
    assert torch.allclose(dssim(x, x), torch.zeros(3), atol=1e-6)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    values = [float(dssim(x + s * noise, x).mean()) for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    # the smallest noise (σ 0.02) measured at ~1e-2: 1e-3 only says it is not zero
    assert values[0] > 1e-3


def test_equals_half_one_minus_ssim_of_the_core_metric():
    x = _images()
    y = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(-1, 1)
    ref = (1 - ssim(x, y, padding="same-reflect", reduction="none")) / 2
    # the same kornia SSIM on both sides: float32 rounding of the mean over pixels
    assert torch.allclose(dssim(x, y), ref, atol=1e-4)


def test_brightness_shift_costs_far_less_than_noise_of_equal_mse():
    x = _images()
    shift = 0.1
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    noise = noise / noise.pow(2).mean().sqrt() * shift  # same MSE as the shift
    bright, noisy = x + shift, x + noise
    assert float(masked_mse(bright, x).mean()) == pytest.approx(float(masked_mse(noisy, x).mean()), rel=1e-4)
    assert float(dssim(bright, x).mean()) < 0.1 * float(dssim(noisy, x).mean())


def test_masked_pixels_do_not_count_and_values_are_per_image():
    x = _images()
    y = x.clone()
    y[:, :, :, :8] = 1.0  # a wrong strip, then masked out
    valid = torch.ones(3, 1, 24, 24)
    valid[:, :, :, :8] = 0
    assert float(dssim(y, x).min()) > 0.05
    assert float(dssim(y, x, valid).max()) < 0.02  # only the strip's border windows remain
    one = dssim(y[1:2], x[1:2], valid[1:2])
    assert torch.allclose(dssim(y, x, valid)[1:2], one, atol=1e-6)
    with pytest.raises(InputError):
        dssim(x, x, window_size=4)


class _Linear(torch.nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 3 * 16 * 16)
        torch.nn.init.normal_(self.net.weight, std=0.3, generator=torch.Generator().manual_seed(4))

    def forward(self, z):
        return torch.tanh(self.net(z)).view(-1, 3, 16, 16)


def test_invert_accepts_dssim_and_lowers_it():
    torch.manual_seed(0)
    gen = _Linear()
    with torch.no_grad():
        target = gen(torch.randn(2, 4, generator=torch.Generator().manual_seed(5)))
    res = invert(gen, target, method="optimisation", loss="dssim", steps=60, lr=0.05, ramp=False, seed=1)
    # measured: DSSIM falls by ~10x in 60 steps; half is a wide margin
    assert float(res.losses[-1].mean()) < 0.5 * float(res.losses[0].mean())
    fn = resolve_loss("dssim", sigma=1.0, perceptual=None, perceptual_weight=0)
    # the same function on the same tensors: float32 rounding
    assert torch.allclose(fn(res.reconstructions, target, None), res.final_losses, atol=1e-6)
