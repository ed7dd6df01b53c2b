"""Masked L1 (Chai et al. 2021, "Using latent space regression to analyze and leverage compositionality
in GANs"): fidelity to the source *outside* the edited region. 000 §4.4 and Tables 4.1, 4.2, D.1–D.3 use
it for inpainting / compositing / scribble editing ("closeness between the generated image and the
source image outside the edited areas").

Chai et al.'s ``Masked_L1_Loss``: images in [-1, 1], per image ``Σ w·|a − b| / Σ w`` with the weight map
``w`` repeated over the channels, then the mean over images. Here the mask follows the SDK convention
(``tryon.io``: 1 = edited/replaced), so the weight is ``w = 1 − mask``.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .reduction import reduce_per_image
from ..errors import ImageSizeError, InputError, MaskError


def masked_l1(
    a: torch.Tensor,
    b: torch.Tensor,
    mask: torch.Tensor,
    *,
    value_range: Sequence[float] = (-1.0, 1.0),
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean absolute difference between ``a`` and ``b`` outside ``mask`` (1 = edited region).

    ``a``, ``b``: ``B×C×H×W`` with values in ``value_range`` (rescaled to [-1, 1], the range of Chai et
    al.). ``mask``: ``B×1×H×W``, ``1×H×W``/``H×W`` (broadcast over the batch) in [0, 1]; soft masks act
    as weights. An image whose mask covers everything has no pixel to compare: error.
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or not isinstance(mask, torch.Tensor):
        raise InputError("masked_l1", "torch tensors a, b, mask", f"{type(a).__name__}, {type(b).__name__}, {type(mask).__name__}")
    if a.ndim == 3:
        a, b = a[None], b[None]
    if a.shape != b.shape or a.ndim != 4:
        raise ImageSizeError("b", f"the shape of a {tuple(a.shape)} (B×C×H×W)", f"{tuple(b.shape)}")
    m = mask.float()
    while m.ndim < 4:
        m = m[None]
    if m.shape[1] != 1 or m.shape[-2:] != a.shape[-2:] or m.shape[0] not in (1, a.shape[0]):
        raise MaskError("mask", f"B×1×{a.shape[-2]}×{a.shape[-1]} (1 = edited)", f"shape {tuple(mask.shape)}")
    if float(m.min()) < 0.0 or float(m.max()) > 1.0:
        raise MaskError("mask", "values in [0, 1]", f"range [{float(m.min()):.3g}, {float(m.max()):.3g}]")
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 2.0 / (hi - lo)  # distances in the [-1, 1] range
    w = (1.0 - m).expand(a.shape[0], a.shape[1], -1, -1)
    num = ((a.float() - b.float()).abs() * scale * w).flatten(1).sum(dim=1)
    den = w.flatten(1).sum(dim=1)
    if bool((den <= 0).any()):
        raise MaskError("mask", "some pixels outside the edited region", "a mask covering the whole image")
    return reduce_per_image(num / den, reduction)
