"""The R5 study's pieces that need no training: the loss grid, the verdicts per seed, the judge and the grid rows."""

from __future__ import annotations

import numpy as np
import torch

from tryon_control.experiments.inversion_losses import BALL, FREE, grid_rows, judge, loss_grid, verdicts

SIGMAS = (0.5, 1.0, 2.0)


def _runs(lpips_mse: float, lpips_b: float, fid_ball: float, fid_free: float) -> dict[str, dict[str, float]]:
    runs = {}
    for label, _, sigma in loss_grid(SIGMAS):
        for proj in (BALL, FREE):
            lp = lpips_mse if label == "MSE" else 0.9 if label == "DSSIM" else lpips_b + 0.01 * sigma
            runs[f"{label} | {proj}"] = {"proxy_lpips": lp, "z_norm": 1.0 if proj == BALL else 1.7,
                                         "proxy_fid": fid_ball if proj == BALL else fid_free, "ssim": 0.8 - 0.05 * sigma}
    return runs


def test_loss_grid_names_every_loss_once():
    grid = loss_grid(SIGMAS)
    assert [g[1] for g in grid] == ["mse", "dssim", "blurred-mse", "blurred-mse", "blurred-mse"]
    assert [g[2] for g in grid[2:]] == list(SIGMAS)


def test_verdicts_are_per_seed_and_can_fail():
    per_seed = {"0": _runs(0.5, 0.4, 1.0, 2.0), "1": _runs(0.3, 0.4, 3.0, 2.0)}
    got = {v["direction"]: (v["per_seed"], v["verdict"]) for v in verdicts(per_seed, SIGMAS)}
    assert got[f"proxy-LPIPS: blurred MSE σ=0.5 < MSE ({BALL})"] == ([True, False], "mixed")
    assert got[f"proxy-LPIPS: blurred MSE σ=2 < DSSIM ({FREE})"] == ([True, True], "held")
    assert got["projection lowers ‖z‖: MSE"] == ([True, True], "held")
    assert got["projection does not worsen proxy-FID: DSSIM"] == ([True, False], "mixed")
    assert got[f"σ too large loses accuracy: SSIM at σ=2 < at σ=1 ({BALL})"] == ([True, True], "held")
    flipped = {"0": _runs(0.1, 0.4, 5.0, 2.0)}
    got = {v["direction"]: v["verdict"] for v in verdicts(flipped, SIGMAS)}
    assert got[f"proxy-LPIPS: blurred MSE σ=1 < MSE ({FREE})"] == "not held"
    assert got["projection does not worsen proxy-FID: MSE"] == "not held"
    assert len(verdicts(flipped, SIGMAS)) == 2 * 2 * 3 + 2 * 5 + 2


class _Proxy(torch.nn.Module):
    """A stand-in with the ProxyFeatures interface proxy_lpips and features_of use."""

    label = "proxy"

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def feature_maps(self, x):
        return [self.conv(x)]

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def test_judge_measures_a_perfect_and_a_bad_reconstruction():
    torch.manual_seed(0)
    target = torch.rand(6, 1, 16, 16) * 2 - 1
    z = torch.full((6, 4), 2.0)  # ‖z‖ = 4 = 2·√4
    real = np.random.default_rng(0).normal(size=(50, 4))
    proxy = _Proxy()
    good = judge(target, target, z, proxy, real, None)
    bad = judge(-target, target, z, proxy, real, None)
    # identical images: exact up to float32 rounding; the negated target measured at LPIPS ~1, SSIM < 0
    assert good["proxy_lpips"] < 1e-6 and good["mse"] == 0 and abs(good["ssim"] - 1) < 1e-5
    assert bad["proxy_lpips"] > 0.1 and bad["ssim"] < 0.5
    assert abs(good["z_norm"] - 2.0) < 1e-6 and "critic" not in good


def test_grid_rows_put_targets_first():
    shown = {"targets": torch.zeros(3, 1, 8, 8), f"MSE | {BALL}": torch.ones(3, 1, 8, 8)}
    rows, titles = grid_rows(shown)
    assert titles == ["held-out targets", "MSE | |z| <= sqrt(d)"]
    assert rows[0][0].shape == (8, 8, 3) and rows[0][0].max() == 128 and rows[1][0].min() == 255
