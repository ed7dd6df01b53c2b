"""Image transformations ``T_t(images) -> (target, undefined)`` for latent trajectories (seeds-control §3.2(c)).

``images`` are ``B×C×H×W`` in ``[-1, 1]``; ``undefined`` is ``B×1×H×W`` with 1 on the pixels the transformation
leaves undefined (an inversion ignores them: its ``mask``). ``t`` is the amount:

* ``shift_x`` / ``shift_y`` — t = fraction of the side, rounded to integer pixels, the uncovered strip undefined
  (filled with −1);
* ``zoom`` — scale ``1 + t`` about the centre (bilinear), pixels sampled from outside undefined;
* ``brightness`` — a gain ``1 + t`` on the foreground, ``(x + 1)(1 + t) − 1``, so a black background stays black
  (the official code adds ``t``, which a generator with a fixed background cannot reproduce).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from tryon.errors import InputError

Transform = Callable[[Tensor, float], tuple[Tensor, Tensor]]


def _shift(images: Tensor, t: float, axis: int) -> tuple[Tensor, Tensor]:
    size = images.shape[axis]
    k = int(round(t * size))
    out = torch.roll(images, k, dims=axis)
    undefined = torch.zeros_like(images[:, :1])
    if k:
        idx = torch.arange(size, device=images.device)
        strip = idx < k if k > 0 else idx >= size + k
        shape = [1, 1, 1, 1]
        shape[axis] = size
        strip = strip.view(shape).expand_as(undefined)
        undefined = strip.float()
        out = torch.where(strip.expand_as(out), torch.full_like(out, -1.0), out)
    return out, undefined


def shift_x(images: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Shift right by ``round(t·W)`` pixels (left for t < 0); the uncovered strip is undefined (1)."""
    return _shift(images, t, 3)


def shift_y(images: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Shift down by ``round(t·H)`` pixels (up for t < 0); the uncovered strip is undefined."""
    return _shift(images, t, 2)


def zoom(images: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """Scale by ``1 + t`` about the centre (bilinear); pixels sampled from outside the image are undefined."""
    s = 1.0 + float(t)
    if s <= 0:
        raise InputError("zoom amount", "> -1", str(t))
    b = images.shape[0]
    theta = torch.tensor([[1 / s, 0, 0], [0, 1 / s, 0]], dtype=images.dtype, device=images.device).expand(b, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images + 1, grid, align_corners=False, padding_mode="zeros") - 1
    inside = F.grid_sample(torch.ones_like(images[:, :1]), grid, align_corners=False, padding_mode="zeros")
    return out, (inside < 0.999).float()


def brightness(images: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """A gain ``1 + t`` on the foreground: ``clip((x + 1)(1 + t) − 1, −1, 1)``; nothing undefined."""
    return ((images + 1) * (1 + float(t)) - 1).clamp(-1, 1), torch.zeros_like(images[:, :1])


TRANSFORMS: dict[str, Transform] = {"shift_x": shift_x, "shift_y": shift_y, "zoom": zoom, "brightness": brightness}

__all__ = ["Transform", "shift_x", "shift_y", "zoom", "brightness", "TRANSFORMS"]
