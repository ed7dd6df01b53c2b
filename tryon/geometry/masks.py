"""Small mask operations. Masks are float tensors in {0, 1} with **1 = edit/replace** (DESIGN.md), shaped
``H x W``, ``B x H x W`` or ``B x 1 x H x W``; every helper returns the shape it was given.

Used for the agnostic person of 000 §4.3.3.2 (grow/shrink the masked upper body, soft compositing) and for
masked token editing (a token is edited as soon as one of its pixels is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from tryon.errors import MaskError

__all__ = ["dilate", "erode", "feather", "pixel_to_token_mask"]


def _apply_4d(mask: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Run ``fn`` on a ``B x C x H x W`` view of ``mask`` and give the result back in the input's layout."""
    if not isinstance(mask, Tensor) or mask.dim() not in (2, 3, 4):
        found = f"shape {tuple(mask.shape)}" if isinstance(mask, Tensor) else type(mask).__name__
        raise MaskError("mask", "a H x W, B x H x W or B x 1 x H x W tensor", found)
    ndim = mask.dim()
    x = mask.float() if not mask.is_floating_point() else mask
    if ndim == 2:
        x = x[None, None]
    elif ndim == 3:
        x = x[:, None]
    out = fn(x)
    if ndim == 2:
        return out[0, 0]
    if ndim == 3:
        return out[:, 0]
    return out


def _check_kernel(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"kernel size: expected a positive integer, got {k!r}")
    return int(k)


def dilate(mask: Tensor, k: int = 3) -> Tensor:
    """Grow the edit region with a ``k x k`` square structuring element (kornia.morphology.dilation)."""
    from kornia.morphology import dilation

    k = _check_kernel(k)
    if k == 1:
        return mask.clone()
    kernel = torch.ones(k, k, dtype=torch.float32, device=mask.device)
    return _apply_4d(mask, lambda x: dilation(x, kernel.to(x.dtype)))


def erode(mask: Tensor, k: int = 3) -> Tensor:
    """Shrink the edit region with a ``k x k`` square structuring element (kornia.morphology.erosion)."""
    from kornia.morphology import erosion

    k = _check_kernel(k)
    if k == 1:
        return mask.clone()
    kernel = torch.ones(k, k, dtype=torch.float32, device=mask.device)
    return _apply_4d(mask, lambda x: erosion(x, kernel.to(x.dtype)))


def feather(mask: Tensor, sigma: float) -> Tensor:
    """Soften mask edges with a Gaussian blur of std ``sigma`` pixels (kornia ``gaussian_blur2d``, reflect
    border, kernel ``2⌈3σ⌉ + 1``); values stay in [0, 1]. ``sigma <= 0`` returns a copy."""
    from kornia.filters import gaussian_blur2d

    if sigma <= 0:
        return mask.clone()
    radius = max(1, math.ceil(3.0 * sigma))
    size = 2 * radius + 1

    def blur(x: Tensor) -> Tensor:
        # reflect padding needs the kernel radius smaller than the image side
        if min(x.shape[-2:]) <= radius:
            pad = (radius, radius, radius, radius)
            return gaussian_blur2d(F.pad(x, pad, mode="replicate"), (size, size), (sigma, sigma))[
                ..., radius:-radius, radius:-radius
            ]
        return gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="reflect")

    return _apply_4d(mask, lambda x: blur(x).clamp(0.0, 1.0))


def pixel_to_token_mask(mask: Tensor, token_hw: Sequence[int]) -> Tensor:
    """Pixel mask → ``token_hw`` grid mask: a token is edited (1) if **any** of its pixels is.

    Adaptive max-pooling, so sizes need not divide evenly (then tokens cover overlapping pixel ranges).
    Returns the input layout with ``H x W`` replaced by ``token_hw``; ``.flatten(-2)`` gives token order.
    """
    th, tw = int(token_hw[0]), int(token_hw[1])
    if th < 1 or tw < 1:
        raise ValueError(f"token_hw: expected positive sizes, got {tuple(token_hw)}")
    return _apply_4d(mask, lambda x: (F.adaptive_max_pool2d(x, (th, tw)) > 0).to(x.dtype))
