"""WUTON training speed options: the lazy gradient penalty and the throughput benchmark's smoke mode."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from tryon_wuton.models import build_discriminator
from tryon_wuton.training.objectives import discriminator_update

ROOT = Path(__file__).resolve().parents[3]


def test_lazy_gradient_penalty_every_k_steps_scaled_by_k(make_trainer) -> None:
    torch.manual_seed(0)
    D = build_discriminator(base=8)
    opt = torch.optim.SGD(D.parameters(), lr=0.0)  # lr 0: the discriminator stays the same across calls
    tr = make_trainer({"discriminator": D}, {"discriminator": opt})
    real, fake = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    grads = {}
    for step in (0, 1, 4):
        tr.step = step
        torch.manual_seed(5)  # same interpolation weights for the penalty
        logs = discriminator_update(tr, real, fake, gp_weight=10.0, gp_every=4)
        grads[step] = [p.grad.clone() for p in D.parameters()]
        assert ("gp" in logs) == (step % 4 == 0)
    tr.step = 0
    torch.manual_seed(5)
    plain = discriminator_update(tr, real, fake, gp_weight=10.0, gp_every=1)
    g_plain = [p.grad.clone() for p in D.parameters()]
    assert "gp" in plain and plain["d"] == logs["d"]
    # step 0 of the lazy run = d-loss gradient + 4 x the plain penalty gradient
    for lazy, skip, full in zip(grads[0], grads[1], g_plain):
        # the same penalty gradient reached by two fp32 sums: the worst element uses 3.3 % (AVX2) / 2.6 % (SSE4.1) of
        # atol + rtol·|b|, a 30x margin
        assert torch.allclose(lazy - skip, 4 * (full - skip), rtol=1e-4, atol=1e-6)


def test_benchmark_smoke(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("wuton_train_speed", ROOT / "benchmarks" / "wuton_train_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--budget", "tiny", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0] and result["torch_threads"] >= 1
    for kind in ("teacher", "student"):
        speed = result[f"{kind}_speed"]
        assert set(speed) == {"old", "new", "new-bf16"} or set(speed) == {"old", "new", "new-fp32"}
        assert speed["old"]["ratio"] == 1.0 and all(v["samples_per_s"] > 0 for v in speed.values())
        assert set(result[f"{kind}_losses"]["within_noise"]) == set(speed) - {"old"}
        assert len(result[f"{kind}_losses"]["curves"]["old"]) == 2
    assert set(result["checkerboard"]) == {"nearest-conv", "default"}
    assert 0.0 <= result["checkerboard"]["nearest-conv"]["nyquist_energy_step0"] <= 1.0
    # exact values: a 2-px checkerboard has all its power at Nyquist (1); a linear ramp along H has (Σ(-1)ⁿ n)² /
    # (8 Σ(n - 3.5)²) = 16/336 = 1/21 of it. fp32 FFT rounding: measured 0 and 8e-9, so 1e-6 has 100x
    board = torch.tensor([[1.0, -1.0] * 4, [-1.0, 1.0] * 4] * 4).view(1, 1, 8, 8)
    assert bench.nyquist_energy(board) == pytest.approx(1.0, abs=1e-6)
    ramp = torch.ones(1, 1, 8, 8) + torch.linspace(0, 1, 8).view(1, 1, 8, 1)
    assert bench.nyquist_energy(ramp) == pytest.approx(1 / 21, abs=1e-6)  # measured 8e-9 off


def test_frozen_critic_gives_the_generator_the_same_update(batch, tiny_features, make_trainer) -> None:
    """A fixed critic in the generator update (``frozen_critic``) changes no generator weight and no logged
    loss, restores the discriminator's requires_grad flags, and adds nothing to the discriminator's gradients
    (without it, the generator update's backward accumulates critic weight gradients that are then discarded)."""
    from tryon.losses import PerceptualLoss
    from tryon_wuton.models import WUTON
    from tryon_wuton.training.teacher import ADAM_BETAS, TeacherConfig, TeacherStep

    runs = {}
    for frozen_critic in (False, True):
        torch.manual_seed(0)
        G, D = WUTON(size=(64, 48)), build_discriminator(base=8)
        opts = {"generator": torch.optim.Adam(G.parameters(), lr=1e-3, betas=ADAM_BETAS),
                "discriminator": torch.optim.Adam(D.parameters(), lr=1e-3, betas=ADAM_BETAS)}
        tr = make_trainer({"generator": G, "discriminator": D}, opts)
        step = TeacherStep(TeacherConfig(gp_every=1, frozen_critic=frozen_critic), PerceptualLoss(tiny_features))
        torch.manual_seed(1)
        logs = step(tr, batch)
        assert all(p.requires_grad for p in D.parameters())
        runs[frozen_critic] = {"logs": logs, "g": [p.detach().clone() for p in G.parameters()],
                               "d": [p.detach().clone() for p in D.parameters()],
                               "d_grad": [p.grad.clone() for p in D.parameters()]}
    old, new = runs[False], runs[True]
    assert old["logs"] == new["logs"]
    assert all(torch.equal(a, b) for a, b in zip(old["g"], new["g"]))
    assert all(torch.equal(a, b) for a, b in zip(old["d"], new["d"]))
    # the frozen run's critic gradients are those of its own update only; the old path added the G-step ones
    assert any(not torch.allclose(a, b) for a, b in zip(old["d_grad"], new["d_grad"]))


def test_theta_regressor_stays_fp32_under_bf16_autocast() -> None:
    """θ is regressed in fp32 under CPU bf16 autocast (the rest of the matcher is not): the weight gradients of
    the kernel taps that only see padding (1x1 output of the second stride-2 conv) stay exactly 0, not NaN."""
    from tryon_wuton.models import ThetaRegressor

    torch.manual_seed(0)
    reg = ThetaRegressor(in_channels=12, in_size=(3, 3))
    nn_init = torch.nn.init
    nn_init.normal_(reg.fc.weight, std=0.1)  # non-zero FC so gradients reach the convs
    corr = torch.randn(4, 12, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theta = reg(corr)
        assert theta.dtype == torch.float32
    theta.sum().backward()
    grad = reg.convs[3].weight.grad
    assert torch.isfinite(grad).all()
    assert torch.equal(grad[:, :, 0, :], torch.zeros_like(grad[:, :, 0, :]))  # top row of taps: padding only
