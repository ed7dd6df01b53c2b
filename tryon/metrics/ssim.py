"""SSIM and PSNR (paired metrics: the generated image against its ground truth).

SSIM (Wang et al. 2004) as used for paired try-on in 000 §4 / 004 and the anchors (anchors-tryon §3):
Gaussian window 11, σ 1.5, ``C1 = (0.01 L)²``, ``C2 = (0.03 L)²`` with data range L = 1 on RGB values in
[0, 1], mean of the per-channel maps. Computed with :func:`kornia.metrics.ssim` (``padding='valid'``,
``eps=0``), which equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=-1)`` and torchmetrics' SSIM (tests: < 1e-3).
Options: ``channels='grey'`` (ITU-R BT.601 luma, PIL's ``L``, HR-VITON-style grey SSIM) and the border
handling, which moves SSIM by ~0.01 on small images:

* ``padding='valid'`` (default): only windows inside the image (scikit-image, MATLAB's original);
* ``padding='same-reflect'``: reflect padding, mean of the full map — kornia ``padding='same'`` and
  torchmetrics 1.9's ``structural_similarity_index_measure`` (CatVTON / LaDI-VTON ``eval.py``; tests);
* ``padding='same-zero'``: zero padding, full map — pytorch-ssim (PF-AFN / DAFlow numbers).

PSNR uses :func:`kornia.metrics.psnr` per image (max value 1 on [0, 1]), then the mean; identical images
give ``inf``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .reduction import reduce_per_image
from ..errors import ImageSizeError, InputError

BT601 = (0.299, 0.587, 0.114)


def to_unit(x: torch.Tensor, value_range: Sequence[float] = (-1.0, 1.0), name: str = "image") -> torch.Tensor:
    """``B×C×H×W`` (or ``C×H×W``) tensor with values in ``value_range`` → float32 in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise InputError(name, "a torch tensor B×3×H×W", type(x).__name__)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InputError(name, "a tensor B×3×H×W (or B×1×H×W)", f"shape {tuple(x.shape)}")
    lo, hi = float(value_range[0]), float(value_range[1])
    if hi <= lo:
        raise InputError("value_range", "(low, high) with high > low", repr(tuple(value_range)))
    x = x.float()  # values outside the range are clamped, as saving to uint8 would
    return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)


def to_grey(x01: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → ``B×1×H×W`` luma with the ITU-R BT.601 weights (PIL ``convert('L')``)."""
    if x01.shape[1] == 1:
        return x01
    w = torch.tensor(BT601, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    return (x01 * w).sum(dim=1, keepdim=True)


def _pair(a: torch.Tensor, b: torch.Tensor, value_range: Sequence[float], channels: str) -> tuple[torch.Tensor, torch.Tensor]:
    a01, b01 = to_unit(a, value_range, "a"), to_unit(b, value_range, "b")
    if a01.shape != b01.shape:
        raise ImageSizeError("b", f"the shape of a {tuple(a01.shape)}", f"{tuple(b01.shape)}")
    if channels == "grey":
        a01, b01 = to_grey(a01), to_grey(b01)
    elif channels != "rgb":
        raise InputError("channels", "'rgb' or 'grey'", repr(channels))
    return a01, b01


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _ssim_map_conv(a: torch.Tensor, b: torch.Tensor, size: int, sigma: float, zero_pad: bool) -> torch.Tensor:
    # Hand-written because kornia pads with 'reflect' (or crops) and fixes σ = 1.5; pytorch-ssim (the
    # PF-AFN / DAFlow protocol) convolves with zero padding and averages the full map.
    c = a.shape[1]
    g = _gaussian_window(size, sigma, a.dtype, a.device)
    w = (g[:, None] * g[None, :]).expand(c, 1, size, size).contiguous()
    pad = size // 2 if zero_pad else 0

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, padding=pad, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a**2
    sbb = filt(b * b) - mu_b**2
    sab = filt(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    value_range: Sequence[float] = (-1.0, 1.0),
    channels: str = "rgb",
    padding: str = "valid",
    window_size: int = 11,
    sigma: float = 1.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """SSIM between ``a`` and ``b`` (``B×3×H×W``, values in ``value_range``, [-1, 1] by default).

    Values are mapped to [0, 1] and compared with data range 1. ``reduction='none'`` gives one value per
    image (mean over channels and pixels of the map), ``'mean'`` their mean (a 0-d tensor).
    Differentiable (usable as a loss).
    """
    import kornia

    a01, b01 = _pair(a, b, value_range, channels)
    if window_size % 2 != 1 or window_size < 3:
        raise InputError("window_size", "an odd integer ≥ 3", repr(window_size))
    h, w = a01.shape[-2:]
    if padding == "valid":
        if h < window_size or w < window_size:
            raise ImageSizeError("a", f"images of at least {window_size}×{window_size} pixels for SSIM", f"{h}×{w}")
        if abs(sigma - 1.5) < 1e-12:
            smap = kornia.metrics.ssim(a01, b01, window_size, max_val=1.0, eps=0.0, padding="valid")
        else:
            smap = _ssim_map_conv(a01, b01, window_size, sigma, zero_pad=False)
    elif padding == "same-reflect":
        if abs(sigma - 1.5) > 1e-12:
            raise InputError("sigma", "1.5 with padding='same-reflect' (kornia's fixed σ)", repr(sigma))
        smap = kornia.metrics.ssim(a01, b01, window_size, max_val=1.0, eps=0.0, padding="same")
    elif padding == "same-zero":
        smap = _ssim_map_conv(a01, b01, window_size, sigma, zero_pad=True)
    else:
        raise InputError("padding", "'valid', 'same-reflect' or 'same-zero'", repr(padding))
    per_image = smap.flatten(1).mean(dim=1)
    return reduce_per_image(per_image, reduction)


def psnr(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    value_range: Sequence[float] = (-1.0, 1.0),
    channels: str = "rgb",
    reduction: str = "mean",
) -> torch.Tensor:
    """PSNR in dB on [0, 1] (max value 1), per image with :func:`kornia.metrics.psnr`, then ``reduction``."""
    import kornia

    a01, b01 = _pair(a, b, value_range, channels)
    per_image = torch.stack([kornia.metrics.psnr(a01[i], b01[i], 1.0) for i in range(a01.shape[0])])
    return reduce_per_image(per_image, reduction)

