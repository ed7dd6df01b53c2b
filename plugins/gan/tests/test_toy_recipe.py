"""The toy recipe of the demo must train: a short WGAN-GP run on well-separated Gaussians reaches high precision.

The first recipe (two hidden layers of 64, lr 5e-4) trained through the same code left the 9-Gaussian demo at
10 % precision; on this 4-mode problem it gives 0 % on-mode samples after 1000 steps (measured) where the
current one (three hidden layers, lr 1e-3) gives ≈ 70 %.
"""

from __future__ import annotations

import torch

from tryon_gan.data import gaussian_grid
from tryon_gan.experiments.toys import GAN_LOOP, TOY_LOOP, TOY_TASK, quiet_loop
from tryon_gan.training import GANTaskConfig, train_gan


def test_toy_recipe_reaches_high_precision_on_four_gaussians(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = gaussian_grid(4, 9.0, 0.5, n=20_000, seed=0)  # the 9-Gaussian geometry (spacing 9, std 0.5), 4 modes
        pipe, summary = train_gan(quiet_loop(GAN_LOOP, tmp_path / "run", 1000, 0, **TOY_LOOP, log_every=500, ckpt_every=1000),
                                  GANTaskConfig(data=data, **TOY_TASK))
    finally:
        torch.set_num_threads(threads)
    assert summary["steps"] == 1000
    x = pipe(n=1000, seed=1).samples
    # measured 0.682 (AVX2) / 0.681 (SSE4.1 kernels), 0.68-0.71 over other initialisations, 0.69 where it was tuned;
    # the old recipe: 0.0 -- a behaviour bound on a 1000-step run (1.36x margin), not a rounding one
    assert data.oracle_precision(x) > 0.5
    assert (data.mode_histogram(x) > 0).sum() == 4
    # the generator's output stays at the data's scale (no drift away from the modes)
    assert float(x.abs().max()) < 3 * float(data.points.abs().max())
