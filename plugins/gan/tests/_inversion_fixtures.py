"""Shared helpers of the inversion tests: a fixed random tiny conv generator (16×16, 3 channels)."""

from __future__ import annotations

import torch
from torch import nn


class TinyGenerator(nn.Module):
    """z (B×d) → B×3×16×16 in [-1, 1]: linear → 8×4×4, two nearest ×2 + 3×3 convs, tanh. Fixed by ``seed``."""

    def __init__(self, latent_dim: int = 6, seed: int = 0, channels: int = 3):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.fc = nn.Linear(latent_dim, 8 * 4 * 4)
        self.net = nn.Sequential(nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2), nn.Conv2d(8, 8, 3, padding=1),
                                 nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2), nn.Conv2d(8, channels, 3, padding=1),
                                 nn.Tanh())
        self.requires_grad_(False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 8, 4, 4))


def known_latents(n: int, d: int, seed: int = 1, radius: float = 0.8) -> torch.Tensor:
    """``n`` latents inside the ball ‖z‖ ≤ radius·√d (so every method, projected or not, can reach them)."""
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    cap = radius * d ** 0.5
    return z * torch.clamp(cap / z.norm(dim=1, keepdim=True), max=1.0)
