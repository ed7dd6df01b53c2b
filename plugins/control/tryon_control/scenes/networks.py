"""The small networks of the chapter-5 model (003 §5.3, Fig. 5.1): structure encoder, box proposer, object VAE.

* :class:`StructureEncoder` — a CNN, ``B×3×H×W`` in [−1, 1] → ``B×G×d_cell`` cell codes ``z_cell`` (``G = grid²``,
  row-major), through two stride-2 convolutions and an adaptive average pool to ``grid×grid``;
* :class:`BoxProposer` — ``z_box`` → explicit ``where`` = (shift inside its cell, scale, angle) and ``z_pres`` →
  ``w_pres``. The angle is the ``atan2`` of a 2-D output vector (003 §5.3: a linear angle output "failed to
  produce sensible box angles"); the shift is ``tanh``-bounded to the cell (centre ± half a cell); the scale
  (half-size along each box axis, normalised units) is a sigmoid between ``min_scale`` and ``max_scale``;
* :class:`ObjectVAE` — the glimpse encoder / decoder: ``N×3×g×g`` glimpses → ``z_what`` (Normal) → RGB in [−1, 1]
  and alpha in [0, 1] (``N×3×g×g``, ``N×1×g×g``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class StructureEncoder(nn.Module):
    """``B×3×H×W`` → ``B×grid²×cell_dim`` (module doc)."""

    def __init__(self, grid: int = 4, cell_dim: int = 32, width: int = 16):
        super().__init__()
        self.grid = int(grid)
        w = int(width)
        self.body = nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), nn.CELU(), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.CELU(),
                                  nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.CELU(), nn.AdaptiveAvgPool2d(self.grid),
                                  nn.Conv2d(2 * w, int(cell_dim), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten(2).transpose(1, 2)


class BoxProposer(nn.Module):
    """``z_box`` (``…×box_dim``) → ``shift`` (``…×2``, image coords), ``scale`` (``…×2``), ``angle`` (``…``); ``z_pres``
    (``…×1``) → ``w_pres`` (``…``) in (0, 1). ``cell_centre`` (``…×2``) and ``cell_half`` (a float) place the shift."""

    def __init__(self, box_dim: int = 6, min_scale: float = 0.04, max_scale: float = 0.7, init_scale: float = 0.3,
                 init_presence: float = 0.5):
        super().__init__()
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.where = nn.Linear(int(box_dim), 6)
        self.pres = nn.Linear(1, 1)
        frac = (float(init_scale) - self.min_scale) / (self.max_scale - self.min_scale)
        with torch.no_grad():  # identity-like start: z_box = 0 is the centred, init_scale, upright box
            self.where.weight.zero_()
            for i in range(min(6, int(box_dim))):
                self.where.weight[i, i] = 1.0
            self.where.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
            self.where.bias[2:4] = math.log(frac / (1 - frac))
            self.pres.weight.fill_(4.0)
            self.pres.bias.fill_(math.log(init_presence / (1 - init_presence)))

    def forward(self, z_box: Tensor, z_pres: Tensor, cell_centre: Tensor, cell_half: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        raw = self.where(z_box)
        shift = cell_centre + float(cell_half) * torch.tanh(raw[..., 0:2])
        scale = self.min_scale + (self.max_scale - self.min_scale) * torch.sigmoid(raw[..., 2:4])
        angle = torch.atan2(raw[..., 5], raw[..., 4])
        w_pres = torch.sigmoid(self.pres(z_pres)).squeeze(-1)
        return shift, scale, angle, w_pres


class ObjectVAE(nn.Module):
    """Glimpse VAE: ``encode(g)`` → ``(μ, log σ)`` of ``z_what`` (``N×what_dim``); ``decode(z)`` → ``(rgb, alpha)``."""

    def __init__(self, glimpse: int = 16, what_dim: int = 8, width: int = 16):
        super().__init__()
        if int(glimpse) % 4:
            raise ValueError("glimpse size must be a multiple of 4")
        w, s = int(width), int(glimpse) // 4
        self.s, self.w = s, w
        self.enc = nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), nn.CELU(), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.CELU(), nn.Flatten(),
                                 nn.Linear(2 * w * s * s, 2 * int(what_dim)))
        self.fc = nn.Sequential(nn.Linear(int(what_dim), 2 * w * s * s), nn.CELU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.CELU(), nn.ConvTranspose2d(w, w, 4, 2, 1), nn.CELU(),
                                 nn.Conv2d(w, 4, 3, 1, 1))
        with torch.no_grad():
            self.enc[-1].bias[int(what_dim):] = -1.0  # start with σ = e⁻¹: a small KL_what

    def encode(self, glimpses: Tensor) -> tuple[Tensor, Tensor]:
        mu, log_sigma = self.enc(glimpses).chunk(2, -1)
        return mu, log_sigma.clamp(-7.0, 3.0)

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        out = self.dec(self.fc(z).view(z.shape[0], 2 * self.w, self.s, self.s))
        return torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:])


__all__ = ["BoxProposer", "ObjectVAE", "StructureEncoder"]
