"""The pieces of 000 App. D Alg. 7 that are not samplers: latent masks, the periodic collage and the final
latent optimisation (eq. 4.2.7); also the reconstruction optimisation of 000 §4.2.3.5.

Masks follow tryon's convention, **1 = edit** (the seed's Alg. 7 writes ``m`` = keep).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tryon.geometry.masks import dilate, feather, pixel_to_token_mask

__all__ = ["latent_masks", "collage_weight", "collage_image", "optimize_latents", "perceptual_extractor"]


def latent_masks(mask: Tensor, grid: tuple[int, int], dilation: int = 1) -> tuple[Tensor, Tensor]:
    """Pixel mask ``B×1×H×W`` → ``(latent_mask_1, latent_mask_2)``, both ``B×h×w`` bool (000 App. D.1.2.1):
    the down-sampled mask (a token is edited when any of its pixels is) and the same grown by ``dilation``
    tokens (a ``2d+1`` square), which chooses the positions to resample."""
    m1 = pixel_to_token_mask(mask, grid)[:, 0]
    m2 = dilate(m1, 2 * int(dilation) + 1) if dilation > 0 else m1.clone()
    return m1 > 0.5, m2 > 0.5


def collage_weight(mask: Tensor, sigma: float) -> Tensor:
    """Weight of the *generated* image in the collage: 0 outside the edit mask (source pixels kept exactly),
    a Gaussian-feathered ramp inside it from the mask's edge (``sigma`` px), 1 deep inside."""
    if sigma <= 0:
        return mask.clone()
    keep = 1.0 - mask
    soft_keep = feather(keep, sigma)
    return 1.0 - torch.maximum(soft_keep, keep)


def collage_image(source: Tensor, generated: Tensor, weight: Tensor, inpainting: bool) -> Tensor:
    """``source`` outside the mask, ``generated`` inside, blended by ``weight``. For inpainting the source's
    pixels under the mask are unknown, so the blend inside uses the generated image only."""
    if inpainting:
        inside = (weight > 0).float()
        src = source * (1 - inside) + generated * inside
    else:
        src = source
    return src * (1 - weight) + generated * weight


def perceptual_extractor(weights: str | None = None, device: Any = "cpu") -> torch.nn.Module:
    """VGG-19 features up to ``relu3_1`` from a local torchvision state dict, else the core's documented
    fallback (random VGG features, fixed seed so results repeat)."""
    from tryon.nn import VGG19Features

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = VGG19Features(weights, layers=("relu1_1", "relu2_1", "relu3_1"))
    return net.to(device)


def perceptual_distance(extractor: torch.nn.Module, a: Tensor, b: Tensor) -> Tensor:
    fa, fb = extractor(a), extractor(b)
    return sum(F.l1_loss(x, y) for x, y in zip(fa, fb))


def optimize_latents(vqgan: Any, z0: Tensor, extractor: torch.nn.Module, *, target: Tensor,
                     mask: Tensor | None = None, steps: int = 200, lr: float = 0.1, l1_weight: float = 1.0) -> Tensor:
    """Adam on the continuous latents ``z`` (``B×D×h×w``), from ``z0``.

    Without ``mask`` (000 §4.2.3.5): ``L = L_p(D(z), target) + λ·L1``. With ``mask`` (1 = edit; 000 eq. 4.2.7):
    ``L = L_p(D(z)⊙(1−m), target⊙(1−m)) + L_p(D(z)⊙m, D(z0)⊙m)`` (+ λ·L1 of both terms): follow the source
    outside the edit and the transformer's completion inside. ``L_p`` is the VGG feature distance of
    :func:`perceptual_extractor`; the L1 term (λ = 1 by default) keeps the loss meaningful when the VGG
    features are the random fallback. Returns the optimised latents (detached).
    """
    decoder = vqgan.decoder
    was_training = decoder.training
    decoder.eval()
    req = [p.requires_grad for p in decoder.parameters()]
    for p in decoder.parameters():
        p.requires_grad_(False)
    try:
        z = z0.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.no_grad():
            ref = decoder(z0) if mask is not None else None
        for _ in range(int(steps)):
            opt.zero_grad(set_to_none=True)
            x = decoder(z)
            if mask is None:
                loss = perceptual_distance(extractor, x, target) + l1_weight * F.l1_loss(x, target)
            else:
                keep = 1.0 - mask
                loss = (perceptual_distance(extractor, x * keep, target * keep)
                        + perceptual_distance(extractor, x * mask, ref * mask)
                        + l1_weight * (F.l1_loss(x * keep, target * keep) + F.l1_loss(x * mask, ref * mask)))
            loss.backward()
            opt.step()
        return z.detach()
    finally:
        for p, r in zip(decoder.parameters(), req):
            p.requires_grad_(r)
        decoder.train(was_training)
