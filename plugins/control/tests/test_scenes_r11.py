"""R11 (003 Eq. 5.6, §5.5.2): a learnable rotated crop of one sprite, trained only by the object-prior KL (stop-
gradient target) plus the rotation loss, converges to the sprite's barycentre, to a scale ∝ the mask's std (glimpse
std → σ) and to its principal axis — for several object sizes, without any size prior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tryon_control.scenes.data import shape_mask
from tryon_control.scenes.glimpse import extract_glimpses
from tryon_control.scenes.losses import (OBJECT_SIGMA, alpha_moments, object_prior_kl, object_prior_targets,
                                         orientation_histogram, rotation_alignment)

SIZE = 48


def _sprite(shape: str, half: float, aspect: float, angle: float, cx: float, cy: float) -> torch.Tensor:
    yy, xx = np.mgrid[0:2 * SIZE, 0:2 * SIZE] / 2 + 0.25
    c, s = math.cos(angle), math.sin(angle)
    u, v = (xx - cx) * c + (yy - cy) * s, -(xx - cx) * s + (yy - cy) * c
    if shape == "rectangle":
        fine = (np.abs(u) <= half) & (np.abs(v) <= half * aspect)
    else:
        fine = shape_mask(shape, u, v, half, aspect)
    return torch.from_numpy(fine.astype(np.float32).reshape(SIZE, 2, SIZE, 2).mean((1, 3)))[None, None]


def _fit(mask: torch.Tensor, steps: int = 100) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """Adam on (shift, log scale, angle vector) from a fixed, off-centre, upright start."""
    shift = torch.tensor([[0.15, -0.1]], requires_grad=True)
    log_scale = torch.full((1, 2), math.log(0.3), requires_grad=True)
    vec = torch.tensor([[1.0, 0.0]], requires_grad=True)  # the angle is atan2 of a 2-D vector (003 §5.3)
    opt = torch.optim.Adam([shift, log_scale, vec], lr=0.06)
    index = torch.zeros(1, dtype=torch.long)
    for _ in range(steps):
        scale, angle = log_scale.exp(), torch.atan2(vec[:, 1], vec[:, 0])
        alpha = extract_glimpses(mask, index, shift, scale, angle, 16)  # alpha = the cropped mask
        t_shift, t_scale = object_prior_targets(alpha, shift, scale, angle)
        loss = object_prior_kl(shift, scale, angle, t_shift, t_scale).sum()
        loss = loss + (1 - rotation_alignment(orientation_histogram(alpha, scale, angle), angle)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, std, _ = alpha_moments(alpha.detach())
    return shift.detach()[0], log_scale.detach().exp()[0], float(angle.detach()), std[0]


def _axis_error(angle: float, truth: float, period: float) -> float:
    d = (angle - truth) % period
    return min(d, period - d)


@pytest.mark.parametrize("shape,half,aspect,angle,period", [
    ("ellipse", 4.0, 0.5, 0.7, math.pi), ("ellipse", 8.0, 0.55, -1.1, math.pi), ("ellipse", 14.0, 0.6, 2.0, math.pi),
    ("rectangle", 5.0, 0.5, 0.4, math.pi / 2), ("rectangle", 12.0, 0.6, -0.9, math.pi / 2),
])
def test_box_converges_to_the_object_for_any_size(shape, half, aspect, angle, period) -> None:
    cx, cy = 21.3, 26.6
    mask = _sprite(shape, half, aspect, angle, cx, cy)
    shift, scale, got_angle, std = _fit(mask)
    centre = (shift + 1) * SIZE / 2
    assert centre.tolist() == pytest.approx([cx, cy], abs=0.25)  # pixels
    # the glimpse std converged to σ: the box half-size is std_image / σ (no size prior, any size)
    assert std.tolist() == pytest.approx([OBJECT_SIGMA, OBJECT_SIGMA], abs=0.01)
    true_std = {"ellipse": half / 2, "rectangle": half / math.sqrt(3)}[shape]  # std along the major axis (pixels)
    assert float(scale.max()) * SIZE / 2 == pytest.approx(true_std / OBJECT_SIGMA, rel=0.08)
    assert float(scale.min() / scale.max()) == pytest.approx(aspect, rel=0.12)
    # the box's first axis is the major one: its angle is the principal axis (mod π; the test reads a rectangle mod π/2)
    assert float(scale[0]) > float(scale[1])
    assert _axis_error(got_angle, angle, period) < 0.05
