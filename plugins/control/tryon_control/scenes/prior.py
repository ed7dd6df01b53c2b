"""The recurrent Normal over a cell's K proposals ``(z_box, z_pres)_k`` (003 §5.3–5.4): one LSTM shared among cells.

The same module serves twice:

* the **box encoder** (the posterior ``q(z_box, z_pres | x)``, 003 §5.3): its per-cell condition is the structure
  code ``z_cell``;
* the **learned geometric prior** (003 §5.4): its condition is the cell's position (the thesis adds the background
  latent; the background here is a uniform colour, so there is none).

Each step ``k`` takes ``[condition, z_box_{k−1}, z_pres_{k−1}]`` (zeros at ``k = 1``) and outputs the Normal
parameters ``(μ, log σ)`` of ``z_box_k`` (``box_dim``) and ``z_pres_k`` (1); the sample is fed back
(autoregressive). For the KL of 003 Eq. 5.4 the prior is run on the posterior's samples (teacher forcing), so both
distributions of step ``k`` condition on the same past. The output layer starts at ``μ = 0, log σ = init_log_sigma``
in both instances, so the KL is ≈ 0 at initialisation (003 §5.5.3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RecurrentBoxLatents(nn.Module):
    """``cond (N×cond_dim)`` → per step ``k``: ``μ, log σ`` of ``[z_box, z_pres]`` (``N×K×(box_dim+1)`` each).

    Args:
        cond_dim: size of the per-cell condition. box_dim: size of ``z_box``. hidden: LSTM width.
        init_log_sigma: the initial log σ of every output Normal.
    """

    def __init__(self, cond_dim: int, box_dim: int = 6, hidden: int = 64, init_log_sigma: float = -2.0):
        super().__init__()
        self.box_dim, self.hidden = int(box_dim), int(hidden)
        self.cell = nn.LSTMCell(int(cond_dim) + self.box_dim + 1, self.hidden)
        self.head = nn.Linear(self.hidden, 2 * (self.box_dim + 1))
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            self.head.bias[self.box_dim + 1:] = float(init_log_sigma)

    def step(self, cond: Tensor, prev: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        h, c = self.cell(torch.cat([cond, prev], -1), state)
        mu, log_sigma = self.head(h).chunk(2, -1)
        return mu, log_sigma.clamp(-7.0, 3.0), (h, c)

    def forward(self, cond: Tensor, samples: Tensor | None = None, steps: int = 1, sample: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Unroll ``steps`` steps. ``samples`` (``N×K×(box_dim+1)``) given: teacher forcing (the prior scoring the
        posterior's samples); otherwise each step samples (``sample=False``: takes the mean). Returns
        ``(mu, log_sigma, z)``, each ``N×K×(box_dim+1)``."""
        n = cond.shape[0]
        k_steps = samples.shape[1] if samples is not None else int(steps)
        prev = cond.new_zeros(n, self.box_dim + 1)
        state = None
        mus, sigmas, zs = [], [], []
        for k in range(k_steps):
            mu, log_sigma, state = self.step(cond, prev, state)
            if samples is not None:
                z = samples[:, k]
            elif sample:
                eps = torch.randn(mu.shape, generator=generator, device="cpu" if generator is not None else mu.device)
                z = mu + log_sigma.exp() * eps.to(mu.device)
            else:
                z = mu
            mus.append(mu)
            sigmas.append(log_sigma)
            zs.append(z)
            prev = z
        return torch.stack(mus, 1), torch.stack(sigmas, 1), torch.stack(zs, 1)


def cell_positions(grid: int, device: torch.device | str = "cpu") -> Tensor:
    """The ``grid²×2`` (x, y) centres of the cells in normalised image coordinates, row-major (cell ``i·grid + j``)."""
    c = (torch.arange(grid, device=device, dtype=torch.float32) + 0.5) / grid * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)


__all__ = ["RecurrentBoxLatents", "cell_positions"]
