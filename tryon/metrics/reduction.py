"""The ``reduction`` argument shared by the per-image metrics (SSIM, PSNR, LPIPS, masked L1)."""

from __future__ import annotations

import torch

from ..errors import InputError

REDUCTIONS = ("mean", "none")


def reduce_per_image(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    """``'mean'``: the mean over images (a 0-d tensor); ``'none'``: the ``(B,)`` per-image values unchanged."""
    if reduction == "mean":
        return per_image.mean()
    if reduction == "none":
        return per_image
    raise InputError("reduction", "'mean' or 'none'", repr(reduction))
