"""Small mask operations. Masks are float tensors in {0, 1} with **1 = edit/replace**, shaped
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

__all__ = ["dilate", "erode", "feather", "free_form_mask", "pixel_to_token_mask", "random_rectangle_mask"]


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
    """Grow the edit region with a ``k x k`` square structuring element (kornia.morphology.dilation).

    Args:
        mask: (H, W), (B, H, W) or (B, 1, H, W) mask in {0, 1} (a soft mask in [0, 1] gets a grey-level
            dilation: the max over each ``k x k`` window).
        k: side of the square structuring element, >= 1.

    Returns:
        the grown mask, same shape; float (``k = 1`` returns an unchanged copy).

    >>> m = torch.zeros(5, 5)
    >>> m[2, 2] = 1
    >>> dilate(m).sum()  # one pixel grows to its 3 x 3 neighbourhood
    tensor(9.)
    >>> torch.equal(erode(dilate(m)), m)
    True
    """
    from kornia.morphology import dilation

    k = _check_kernel(k)
    if k == 1:
        return mask.clone()
    kernel = torch.ones(k, k, dtype=torch.float32, device=mask.device)
    return _apply_4d(mask, lambda x: dilation(x, kernel.to(x.dtype)))


def erode(mask: Tensor, k: int = 3) -> Tensor:
    """Shrink the edit region with a ``k x k`` square structuring element (kornia.morphology.erosion).

    Args:
        mask: (H, W), (B, H, W) or (B, 1, H, W) mask in {0, 1} (soft: the min over each ``k x k`` window).
        k: side of the square structuring element, >= 1.

    Returns:
        the shrunk mask, same shape; float (``k = 1`` returns an unchanged copy).
    """
    from kornia.morphology import erosion

    k = _check_kernel(k)
    if k == 1:
        return mask.clone()
    kernel = torch.ones(k, k, dtype=torch.float32, device=mask.device)
    return _apply_4d(mask, lambda x: erosion(x, kernel.to(x.dtype)))


def feather(mask: Tensor, sigma: float) -> Tensor:
    """Soften mask edges with a Gaussian blur of std ``sigma`` pixels (kornia ``gaussian_blur2d``, reflect
    border, kernel ``2⌈3σ⌉ + 1``); values stay in [0, 1]. ``sigma <= 0`` returns a copy.

    Args:
        mask: (H, W), (B, H, W) or (B, 1, H, W) mask in [0, 1].
        sigma: standard deviation of the blur, in pixels.

    Returns:
        the soft mask, same shape, float in [0, 1].
    """
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

    Args:
        mask: (H, W), (B, H, W) or (B, 1, H, W) pixel mask, 1 (or any value > 0) = edit.
        token_hw: token grid size ``(h, w)``.

    Returns:
        (h, w), (B, h, w) or (B, 1, h, w) float mask in {0, 1}: the input layout with ``H x W`` replaced by
        ``token_hw``; ``.flatten(-2)`` gives token order.

    >>> m = torch.zeros(1, 1, 8, 8)
    >>> m[..., 0, 0] = 1  # one edited pixel
    >>> pixel_to_token_mask(m, (2, 2))
    tensor([[[[1., 0.],
              [0., 0.]]]])
    """
    th, tw = int(token_hw[0]), int(token_hw[1])
    if th < 1 or tw < 1:
        raise ValueError(f"token_hw: expected positive sizes, got {tuple(token_hw)}")
    return _apply_4d(mask, lambda x: (F.adaptive_max_pool2d(x, (th, tw)) > 0).to(x.dtype))


def random_rectangle_mask(size: Sequence[int], frac: Sequence[float] = (0.4, 0.6), *,
                          generator: torch.Generator | None = None) -> Tensor:
    """An ``H x W`` mask with one axis-aligned rectangle of ones: height and width drawn uniformly in
    ``[frac[0], frac[1]]`` of the image side, position uniform (000 App. D.2, rectangular masks).

    Args:
        size: ``(H, W)``.
        frac: range ``(lo, hi)`` of the rectangle's side as a fraction of the image side, ``0 < lo <= hi <= 1``.
        generator: torch generator for reproducible draws (CPU).

    Returns:
        (H, W) float32 mask in {0, 1}, 1 inside the rectangle.

    >>> m = random_rectangle_mask((8, 6), generator=torch.Generator().manual_seed(0))
    >>> m.shape, m.unique().tolist()
    (torch.Size([8, 6]), [0.0, 1.0])
    """
    h, w = int(size[0]), int(size[1])
    lo, hi = float(frac[0]), float(frac[1])
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"frac: expected 0 < lo <= hi <= 1, got {tuple(frac)}")
    u = torch.rand(4, generator=generator)
    rh = max(1, min(h, round(h * (lo + (hi - lo) * float(u[0])))))
    rw = max(1, min(w, round(w * (lo + (hi - lo) * float(u[1])))))
    top = int(float(u[2]) * (h - rh + 1)) if h > rh else 0
    left = int(float(u[3]) * (w - rw + 1)) if w > rw else 0
    mask = torch.zeros(h, w)
    mask[top : top + rh, left : left + rw] = 1.0
    return mask


def free_form_mask(size: Sequence[int], grid: int = 6, threshold: float = 0.5, *,
                   generator: torch.Generator | None = None, max_tries: int = 100) -> Tensor:
    """An ``H x W`` free-form mask (000 App. D.2, after Chai et al. 2021): a random ``grid x grid`` binary
    grid, upsampled bilinearly to the image and thresholded at ``threshold``. Draws again (up to
    ``max_tries``) while the mask is empty or covers everything, so it always has pixels on both sides.

    Args:
        size: ``(H, W)``.
        grid: side of the random low-resolution binary grid.
        threshold: level in (0, 1) at which the upsampled grid is cut.
        generator: torch generator for reproducible draws (CPU).
        max_tries: draws before giving up with ``ValueError``.

    Returns:
        (H, W) float32 mask in {0, 1}, neither empty nor full.
    """
    h, w = int(size[0]), int(size[1])
    for _ in range(max_tries):
        low = (torch.rand(1, 1, grid, grid, generator=generator) < 0.5).float()
        up = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        mask = (up > threshold).float()
        if 0.0 < float(mask.mean()) < 1.0:
            return mask
    raise ValueError(f"free_form_mask: no mask with both kept and edited pixels in {max_tries} draws of a {grid}x{grid} grid")
