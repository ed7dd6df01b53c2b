"""The latent-geometry metrics of 000 Table 3.2 (LogReg / Convex Acc.) on hand-built generators whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import torch

from tryon_gan.experiments import latent_geometry as L


class ConeGenerator(torch.nn.Module):
    """G(z) = μ_{argmax Wz} + σ/2·noise: a perfect simplicial-cluster generator (linear, convex cells)."""

    def __init__(self, modes: np.ndarray, latent_dim: int, std: float):
        super().__init__()
        self.modes = torch.as_tensor(modes, dtype=torch.float32)
        self.W = torch.randn(len(modes), latent_dim, generator=torch.Generator().manual_seed(0))
        self.std = std

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.modes[(z @ self.W.T).argmax(1)] + 0.5 * self.std * torch.randn(len(z), self.modes.shape[1])


def test_simplicial_generator_scores_near_perfect_and_collapse_scores_nothing():
    torch.manual_seed(0)
    data = L.mixture(0, n=2000, num_modes=10, dim=20)
    m = L.evaluate_generator(ConeGenerator(data.modes, 8, data.std), data, 8, n_eval=500, n_train=3000, n_test=1000)
    assert m["on_mode"] > 99 and m["modes_hit"] == 10
    assert m["logreg_acc"] > 90  # linear cells: a logistic regression recovers them
    assert m["convex_acc"] == 100.0  # argmax of a linear map has convex cells
    assert m["precision"] > 90

    class Centroid(torch.nn.Module):
        def forward(self, z):
            return torch.full((len(z), 20), 0.05)

    c = L.evaluate_generator(Centroid(), data, 8, n_eval=500, n_train=1000, n_test=500)
    assert c["on_mode"] == 0 and math.isnan(c["logreg_acc"]) and math.isnan(c["convex_acc"])


def test_confidence_filter_rejects_midpoints_and_keeps_real_samples():
    data = L.mixture(0, n=2000, num_modes=10, dim=20)
    _, keep_real = L.confident_labels(data, data.sample(1000, seed=1))
    mid = (data.modes[0] + data.modes[1]) / 2 + data.std * np.random.default_rng(0).standard_normal((100, 20))
    _, keep_mid = L.confident_labels(data, mid)
    assert keep_real.mean() > 0.98 and keep_mid.mean() < 0.05  # a midpoint sits 5σ short along the axis
    assert L.pearson([1, 2, 3, 4], [2, 4, 6, 8.5]) > 0.99 and math.isnan(L.pearson([1, 1, 1], [1, 2, 3]))
