"""Per-image reconstruction losses of latent inversion (003 §4.2, Eq. 4.3–4.5; seeds-control §3.2(b–c)).

Every loss here returns one value **per image** (shape ``B``): the inversion optimiser minimises their
*sum*, so an image's gradient never depends on the other images of the batch (batched == one by one).
``valid`` is ``B×1×H×W`` with 1 on the pixels that count (an inversion's ``mask`` marks the pixels to
ignore: ``valid = 1 - mask``).

* :func:`masked_mse` — mean squared error over the valid pixels.
* :func:`blurred_mse` — 003 Eq. 4.5: ``‖(I₁ − I₂) * σ‖²``, the MSE of the Gaussian-blurred difference
  (a low-pass weighting in the Fourier domain, computed spatially). The difference is zeroed on ignored
  pixels *before* blurring and only valid pixels are averaged after, so the values of ignored pixels
  cannot leak into the loss (seeds-control §3.2(c) notes that the official code blurs after masking the
  target, which leaks the zero-filled strip within ~3σ of its border).
* :func:`dssim` — ``(1 − SSIM)/2`` averaged over the valid pixels (the DSSIM baseline of 003 Table 4.1).
* :func:`feature_distance` — mean L1 distance between the feature maps of an extractor (the perceptual
  term of Image2StyleGAN-style inversion), per image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from tryon.errors import InputError


def gaussian_kernel1d(sigma: float, device: torch.device | None = None) -> Tensor:
    """Normalised 1-D Gaussian of std ``sigma`` px, radius ``⌈3σ⌉`` (sum 1: the scale of the loss does not
    depend on σ, unlike the un-normalised kernel of the official code, which only rescales it)."""
    radius = max(1, math.ceil(3.0 * float(sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / float(sigma)) ** 2)
    return k / k.sum()


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Depthwise separable Gaussian blur of ``B×C×H×W`` with zero padding ('SAME' size).

    Written here rather than taken from kornia (not a dependency); zero padding is what keeps ignored
    (zeroed) pixels from contributing: a reflect/replicate border would copy values across the image edge."""
    if sigma <= 0:
        return x
    k = gaussian_kernel1d(sigma, x.device).to(x.dtype)
    c = x.shape[1]
    r = (k.numel() - 1) // 2
    kh = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    kv = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), kh, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r)), kv, groups=c)


def _valid_fraction(valid: Tensor) -> Tensor:
    return valid.flatten(1).mean(1).clamp_min(1e-8)


def masked_mse(x: Tensor, y: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-image mean of ``(x − y)²`` over the valid pixels (all channels): shape ``B``."""
    d2 = (x - y) ** 2
    if valid is None:
        return d2.flatten(1).mean(1)
    return (d2 * valid).flatten(1).mean(1) / _valid_fraction(valid)


def blurred_mse(x: Tensor, y: Tensor, valid: Tensor | None = None, sigma: float = 3.0) -> Tensor:
    """003 Eq. 4.5, per image: ``mean_valid (G_σ * ((x − y)·valid))²`` (σ in pixels; 003 uses 3 px at 128 px)."""
    d = x - y
    if valid is not None:
        d = d * valid
    b2 = gaussian_blur(d, sigma) ** 2
    if valid is None:
        return b2.flatten(1).mean(1)
    return (b2 * valid).flatten(1).mean(1) / _valid_fraction(valid)


def dssim(x: Tensor, y: Tensor, valid: Tensor | None = None, window_size: int = 11) -> Tensor:
    """Per-image structural dissimilarity ``(1 − SSIM)/2`` (the DSSIM baseline of 003 Table 4.1): shape ``B``.

    Images in ``[-1, 1]`` are compared on ``[0, 1]`` (data range 1, ``C1 = 0.01²``, ``C2 = 0.03²``) with a
    Gaussian window (``window_size``, σ 1.5) and reflect padding, so the SSIM map has one value per pixel; it is
    averaged over the valid pixels. Ignored pixels of ``y`` are replaced by ``x``'s own (detached) values first,
    so they add no dissimilarity. The map comes from :func:`kornia.metrics.ssim` (kornia is a core dependency;
    torchmetrics, which also gives the map, is only in the ``metrics`` extra)."""
    import kornia

    if window_size % 2 != 1 or window_size < 3:
        raise InputError("window_size", "an odd integer >= 3", repr(window_size))
    if valid is not None:
        y = y * valid + x.detach() * (1 - valid)
    smap = kornia.metrics.ssim((x + 1) / 2, (y + 1) / 2, int(window_size), max_val=1.0, eps=0.0, padding="same")
    d = ((1 - smap) / 2).mean(1, keepdim=True)
    if valid is None:
        return d.flatten(1).mean(1)
    return (d * valid).flatten(1).mean(1) / _valid_fraction(valid)


def feature_distance(extractor: Callable[[Tensor], Sequence[Tensor]], x: Tensor, y: Tensor,
                     valid: Tensor | None = None) -> Tensor:
    """Per-image Σ_layers mean |φ_l(x) − φ_l(y)| (a perceptual term reduced per image): shape ``B``.

    Ignored pixels are replaced by the reconstruction's own values in ``y`` before the features are taken,
    so they add no distance; ``y``'s features need no gradient."""
    if valid is not None:
        y = y * valid + x.detach() * (1 - valid)
    fx = extractor(x)
    with torch.no_grad():
        fy = extractor(y)
    if isinstance(fx, Tensor):
        fx, fy = [fx], [fy]
    total = x.new_zeros(x.shape[0])
    for a, b in zip(fx, fy):
        total = total + (a - b).abs().flatten(1).mean(1)
    return total


__all__ = ["gaussian_kernel1d", "gaussian_blur", "masked_mse", "blurred_mse", "dssim", "feature_distance"]
