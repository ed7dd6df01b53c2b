"""The differentiable crop of 003 §5.3 (the glimpse extractor, a spatial transformer) and its inverse, the glimpse
projector, with rotation: both through ``F.affine_grid`` / ``F.grid_sample``.

Coordinates are normalised image coordinates in [−1, 1] (x right, y down; ``align_corners=False``), square images.
A box is ``shift`` (centre, ``N×2``), ``scale`` (half-sizes along its own two axes, ``N×2``) and ``angle``
(radians, ``N``): the glimpse point ``u ∈ [−1, 1]²`` sits at ``p = shift + R(angle) · (scale ⊙ u)`` in the image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def rotation(angle: Tensor) -> Tensor:
    """``N`` angles → ``N×2×2`` rotation matrices ``[[cos, −sin], [sin, cos]]``."""
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def crop_matrix(shift: Tensor, scale: Tensor, angle: Tensor) -> Tensor:
    """``N×2×3`` affine of the crop: glimpse coordinates ``u`` → image coordinates ``p`` (module doc)."""
    lin = rotation(angle) * scale.unsqueeze(-2)  # R · diag(scale)
    return torch.cat([lin, shift.unsqueeze(-1)], -1)


def paste_matrix(shift: Tensor, scale: Tensor, angle: Tensor, eps: float = 1e-4) -> Tensor:
    """``N×2×3`` affine of the projector, the crop's inverse: image ``p`` → glimpse ``u = diag(1/scale) Rᵀ (p − shift)``."""
    inv = rotation(angle).transpose(-1, -2) / scale.clamp_min(eps).unsqueeze(-1)
    return torch.cat([inv, -(inv @ shift.unsqueeze(-1))], -1)


def extract_glimpses(images: Tensor, index: Tensor, shift: Tensor, scale: Tensor, angle: Tensor, size: int) -> Tensor:
    """Crop ``N`` glimpses ``N×C×size×size`` from ``images`` (``B×C×H×W``); ``index`` (``N`` longs) names each box's
    image. Outside the image the glimpse reads zeros. The boxes of one image are sampled in one ``grid_sample`` call
    (their grids stacked along the height), so no image is copied per box."""
    theta = crop_matrix(shift, scale, angle)
    n, b, c = theta.shape[0], images.shape[0], images.shape[1]
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    if n == 0:
        return images.new_zeros(0, c, size, size)
    counts = torch.bincount(index, minlength=b)
    start = torch.cumsum(counts, 0) - counts
    order = torch.argsort(index, stable=True)
    rank = torch.empty_like(index)
    rank[order] = torch.arange(n, device=index.device) - start[index[order]]
    stacked = grid.new_full((b, int(counts.max()), size, size, 2), 3.0)  # 3: outside, reads zeros
    stacked = stacked.index_put((index, rank), grid)
    out = F.grid_sample(images, stacked.view(b, -1, size, 2), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(b, c, -1, size, size)[index, :, rank]


def project_glimpses(glimpses: Tensor, shift: Tensor, scale: Tensor, angle: Tensor, height: int, width: int) -> Tensor:
    """Paste ``N×C×g×g`` glimpses back into ``N×C×height×width`` image-sized layers (zeros outside each box)."""
    if glimpses.shape[0] == 0:
        return glimpses.new_zeros(0, glimpses.shape[1], height, width)
    theta = paste_matrix(shift, scale, angle)
    grid = F.affine_grid(theta, [theta.shape[0], glimpses.shape[1], height, width], align_corners=False)
    return F.grid_sample(glimpses, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def window_side(size: int, max_scale: float) -> int:
    """The side (pixels, even) of a square window that holds any box of half-size ≤ ``max_scale`` at any angle in a
    ``size``-pixel image: ``2 · ceil(√2 · max_scale · size / 2) + 2``, at most ``size``."""
    import math

    return min(int(size) + int(size) % 2, 2 * math.ceil(math.sqrt(2) * float(max_scale) * size / 2) + 2)


def project_windows(glimpses: Tensor, shift: Tensor, scale: Tensor, angle: Tensor, size: int,
                    window: int) -> tuple[Tensor, Tensor]:
    """Paste ``N×C×g×g`` glimpses into ``N×C×window×window`` windows centred on their boxes (``size``-pixel image),
    the cheap form of :func:`project_glimpses` (only the window is sampled). Returns the windows and their top-left
    pixel ``N×2`` (x, y) longs (possibly outside the image; :func:`paste_windows` places them)."""
    n = glimpses.shape[0]
    centre = (shift.detach() + 1) * size / 2
    origin = torch.round(centre).long() - window // 2
    if n == 0:
        return glimpses.new_zeros(0, glimpses.shape[1], window, window), origin
    theta = paste_matrix(shift, scale, angle)  # N×2×3: image (normalised) → glimpse
    pix = torch.arange(window, device=glimpses.device, dtype=glimpses.dtype) + 0.5
    yy, xx = torch.meshgrid(pix, pix, indexing="ij")
    p = (torch.stack([xx, yy], -1).view(1, window, window, 2) + origin.view(n, 1, 1, 2)) * (2.0 / size) - 1
    grid = torch.einsum("nij,nhwj->nhwi", theta[:, :, :2], p) + theta[:, :, 2].view(n, 1, 1, 2)
    return F.grid_sample(glimpses, grid, mode="bilinear", padding_mode="zeros", align_corners=False), origin


def paste_windows(windows: Tensor, origin: Tensor, index: Tensor, batch: int, size: int) -> Tensor:
    """Sum ``N×C×S×S`` windows (top-left ``origin``, image ``index``) into ``batch×C×size×size`` canvases; the parts
    outside the image are dropped."""
    n, c, s = windows.shape[0], windows.shape[1], windows.shape[-1]
    side = size + 2 * s
    canvas = windows.new_zeros(batch * side * side, c)
    if n:
        pix = torch.arange(s, device=windows.device)
        rows = (origin[:, 1].view(n, 1, 1) + s + pix.view(1, s, 1)).clamp(0, side - 1)
        cols = (origin[:, 0].view(n, 1, 1) + s + pix.view(1, 1, s)).clamp(0, side - 1)
        flat = (index.view(n, 1, 1) * side * side + rows * side + cols).reshape(-1)
        canvas = canvas.index_add(0, flat, windows.permute(0, 2, 3, 1).reshape(-1, c))
    canvas = canvas.view(batch, side, side, c).permute(0, 3, 1, 2)
    return canvas[:, :, s:s + size, s:s + size]


def glimpse_coordinates(size: int, device: torch.device | str = "cpu") -> Tensor:
    """The ``size×size×2`` (x, y) centres of a glimpse's pixels in glimpse coordinates (in (−1, 1))."""
    c = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], -1)


__all__ = ["crop_matrix", "extract_glimpses", "glimpse_coordinates", "paste_matrix", "paste_windows", "project_glimpses",
           "project_windows", "rotation", "window_side"]
