"""Inversion losses of the GAN plugin: the generic per-image losses live in the core (:mod:`tryon.latent.losses`:
masked MSE, the blurred MSE of 003 Eq. 4.5, the perceptual ``feature_distance``) and are re-exported here; this
module adds :class:`RandomFeatures`, a stand-in perceptual extractor for the plugin's tiny images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.latent.losses import blurred_mse, feature_distance, gaussian_blur, gaussian_kernel1d, masked_mse


class RandomFeatures(nn.Module):
    """A fixed random conv feature pyramid (3 stages) usable as a stand-in perceptual extractor when no
    pretrained VGG weights are at hand (tests, tiny images); random conv features are a known weak but
    non-trivial perceptual proxy. Deterministic given ``seed``."""

    def __init__(self, channels: int, width: int = 16, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        self.convs = nn.ModuleList()
        c = int(channels)
        for i in range(3):
            conv = nn.Conv2d(c, width * (i + 1), 3, stride=1 if i == 0 else 2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / math.sqrt(c * 9))
                conv.bias.zero_()
            self.convs.append(conv)
            c = width * (i + 1)
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            out.append(x)
        return out



__all__ = ["gaussian_kernel1d", "gaussian_blur", "masked_mse", "blurred_mse", "feature_distance", "RandomFeatures"]
