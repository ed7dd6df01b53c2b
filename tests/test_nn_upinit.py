"""Checkerboard-free initialisation of the decoder's 4x4 stride-2 transposed convolutions (issue 16 §2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tryon.nn import UNetDecoder
from tryon.nn.blocks import _UpLevel, nearest_conv_kernel


def test_kernel_equals_nearest_upsampling_then_conv() -> None:
    g = torch.Generator().manual_seed(0)
    w3 = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(2, 4, 6, 7, generator=g, dtype=torch.float64)
    deconv = F.conv_transpose2d(x, nearest_conv_kernel(w3), stride=2, padding=1)
    reference = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w3, padding=1)
    assert deconv.shape == reference.shape == (2, 5, 12, 14)
    # borders included; float64, the same 36 products summed in another order: measured 1.1e-14 (AVX2 and SSE4.1)
    assert torch.allclose(deconv, reference, atol=1e-12)
    with pytest.raises(ValueError):
        nearest_conv_kernel(torch.zeros(2, 2, 4, 4))


def _phase_means(y: torch.Tensor) -> torch.Tensor:
    """Means of the four 2x2 phases of the interior of ``y`` (a 1-pixel border is dropped)."""
    y = y[..., 2:-2, 2:-2]
    return torch.stack([y[..., i::2, j::2].mean() for i in (0, 1) for j in (0, 1)])


def test_up_level_has_no_checkerboard_at_init() -> None:
    torch.manual_seed(0)
    level = _UpLevel(8, 6, "none", up_init="nearest-conv")
    ones = torch.ones(1, 6, 5, 4)
    with torch.no_grad():
        y = level.up(ones)
        m = _phase_means(y)
    # the four phase means of a constant input agree up to fp32 summation order: measured 1.5e-8 (AVX2 and SSE4.1)
    assert torch.allclose(m, m[0].expand(4), atol=1e-6)
    torch.manual_seed(0)
    plain = _UpLevel(8, 6, "none", up_init="default")
    with torch.no_grad():
        mp = _phase_means(plain.up(ones))
    # the default init does have one (so the check above can fail): measured 0.34, 10^7 x the nearest-conv spread
    assert float(mp.max() - mp.min()) > 1e-3
    # the 3x3 kernel is drawn from the default 4x4 draw: no extra random numbers, same modules afterwards
    torch.manual_seed(0)
    _UpLevel(8, 6, "none", up_init="nearest-conv")
    a = torch.rand(3)
    torch.manual_seed(0)
    _UpLevel(8, 6, "none")
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="up_init"):
        _UpLevel(8, 6, "none", up_init="bilinear")


def test_decoder_output_has_no_checkerboard_at_init_and_loads_old_weights() -> None:
    torch.manual_seed(0)
    dec = UNetDecoder(skip_channels=(4, 8), norm="none", final_activation="none", up_init="nearest-conv")
    old = UNetDecoder(skip_channels=(4, 8), norm="none", final_activation="none")
    feats = [torch.ones(1, 4, 32, 32), torch.ones(1, 8, 16, 16)]
    with torch.no_grad():  # zero padding reaches ~10 output pixels in from the border through the two levels
        out = dec(feats)[..., 12:-12, 12:-12]
        m = _phase_means(out)
    # away from the zero-padded borders a constant input gives the same mean in the four output phases
    # (measured exactly 0 on AVX2 and SSE4.1; 1e-5 allows another summation order)
    assert float(m.max() - m.min()) < 1e-5 and float(out.abs().max()) > 0
    dec.load_state_dict(old.state_dict())  # same parameters: old runs load unchanged
    with torch.no_grad():
        assert torch.equal(dec(feats), old(feats))
