"""Loss signs and gradients on a toy, training through the core loop, save/load through ``tryon.load``."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import tryon
from tryon.errors import InputError
from tryon.losses import get_adversarial_loss, gradient_penalty
from tryon_gan.data import gaussian_grid
from tryon_gan.models import MLPDiscriminator
from tryon.train import TrainConfig
from tryon_gan.training import GAN_LOOP, WEIGHTS_LOOP, GANTaskConfig, LatentWeightsTaskConfig, train_gan, train_latent_weights


def _loop(defaults, out, steps, **kw):
    return TrainConfig(**{**defaults, "out_dir": str(out), "max_steps": steps, **kw})


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge", "wgan", "wgan-gp", "san"])
def test_loss_sign_and_gradient_on_toy(loss):
    """One D step lowers the D loss and widens the real/fake score gap; the G loss gradient moves fakes toward
    higher scores (i.e. toward the real data)."""
    torch.manual_seed(0)
    head = "san" if loss == "san" else "linear"
    D = MLPDiscriminator((1,), (8,), "lrelu", head=head)
    adv = get_adversarial_loss("wgan" if loss == "wgan-gp" else loss)
    real, fake = torch.randn(256, 1) + 2.0, torch.randn(256, 1) - 2.0

    def d_loss():
        if loss == "san":
            value = adv.d(D.san_outputs(real), D.san_outputs(fake))
        else:
            value = adv.d(D(real), D(fake))
        if loss == "wgan-gp":
            value = value + 10.0 * gradient_penalty(D, real, fake)
        return value

    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    first = float(d_loss().detach())
    for _ in range(30):
        opt.zero_grad()
        d_loss().backward()
        opt.step()
        if loss == "wgan":
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-0.5, 0.5)
    assert float(d_loss().detach()) < first
    assert float(D(real).mean()) > float(D(fake).mean())
    x = fake.clone().requires_grad_(True)
    adv.g(None, D(x)).backward()
    assert float(-x.grad.mean()) > 0  # descending the G loss moves fakes to +x, toward the real mode


def test_training_all_losses_short_runs(tmp_path):
    torch.set_num_threads(1)
    data = gaussian_grid(2, 2.0, 0.1, n=2000)
    for loss in ("nonsaturating", "hinge", "wgan", "wgan-gp", "san"):
        pipe, summary = train_gan(_loop(GAN_LOOP, tmp_path / loss, 20, batch_size=32, progress=False, log_every=10,
                                        ckpt_every=10), GANTaskConfig(data=data, loss=loss, hidden=(8, 8)))
        assert summary["steps"] == 20 and all(map(lambda v: v == v, summary["last"].values()))
        assert (tmp_path / loss / "metrics.csv").is_file()
    # resume: more steps continue from the checkpoint
    _, summary = train_gan(_loop(GAN_LOOP, tmp_path / "hinge", 30, batch_size=32, progress=False, log_every=10,
                                 ckpt_every=10), GANTaskConfig(data=data, loss="hinge", hidden=(8, 8)))
    assert summary["resumed_from"] == 20 and summary["steps"] == 30


def test_save_load_through_tryon_load(toy_gan):
    pipe, run = toy_gan
    loaded = tryon.load("gan-generate", weights=run, device="cpu")
    a, b = pipe(n=16, seed=5), loaded(n=16, seed=5)
    assert torch.equal(a.samples, b.samples)
    assert torch.equal(pipe(n=16, seed=5, sampler="jbt", keep=0.5).samples,
                       loaded(n=16, seed=5, sampler="jbt", keep=0.5).samples)
    manifest = json.loads((run / "config.json").read_text())
    assert manifest["task"] == "gan-generate" and manifest["training"]["loss"] == "hinge"
    with pytest.raises(tryon.errors.WeightsError):
        tryon.load("gan-latent-weights", weights=run)


def test_latent_weights_training_and_latent_rs(toy_gan, toy_data, tmp_path):
    torch.set_num_threads(1)
    pipe, run = toy_gan
    wpipe, summary = train_latent_weights(_loop(WEIGHTS_LOOP, tmp_path / "w", 150, batch_size=128, progress=False,
                                                log_every=50, ckpt_every=150),
                                          LatentWeightsTaskConfig(generator_run=run, data=toy_data, m=3.0,
                                                                  critic_hidden=(32, 32)))
    assert 0.5 < summary["last"]["w_mean"] < 1.5  # self-normalisation keeps E w ≈ 1 (measured 1.03)
    loaded = tryon.load("gan-latent-weights", weights=tmp_path / "w", device="cpu")
    z = torch.randn(64, 2)
    assert torch.allclose(loaded(z), wpipe(z))
    res = pipe(n=500, seed=0, sampler="latent-rs", weights=str(tmp_path / "w"))
    assert res.stats.extra["m"] == 3.0
    assert 0.1 < res.stats.acceptance_rate < 0.6  # ≈ E[w]/m = 1/3 (measured 0.322)


def test_wrong_generator_input_dimension_is_one_clear_error(toy_gan, tmp_path):
    from tryon_gan.data import PointData

    pipe, _ = toy_gan
    with pytest.raises(InputError, match=r"MLPGenerator latent: expected B×2, got 4×3"):
        pipe.generator(torch.randn(4, 3))
    with pytest.raises(InputError, match=r"shape \[2\]"):
        train_latent_weights(_loop(WEIGHTS_LOOP, tmp_path / "w", 1),
                             LatentWeightsTaskConfig(generator_run=pipe, data=PointData(torch.randn(100, 3).numpy(), name="3d")))


def test_bad_data_files(tmp_path):
    from tryon_gan.data import load_data

    bad = tmp_path / "bad.csv"
    bad.write_text("1.0,2.0\nnan,3.0\n4.0,5.0\n")
    with pytest.raises(InputError, match=r"bad.csv: expected finite values, got NaN or Inf \(1 values, first in row 1\)"):
        load_data(bad)
    inf = tmp_path / "inf.npy"
    import numpy as np

    np.save(inf, np.array([[1.0, np.inf], [0.0, 0.0]]))
    with pytest.raises(InputError, match="inf.npy"):
        load_data(inf)
    with pytest.raises(InputError, match="data"):
        load_data("nosuchset")
    with pytest.raises(InputError, match="--loss"):
        train_gan(_loop(GAN_LOOP, tmp_path / "x", 1), GANTaskConfig(data=gaussian_grid(2, 1.0, 0.1, n=100), loss="lsgan"))


def test_conv_gan_on_digits_runs(tmp_path):
    from tryon_gan.data import DigitsData

    torch.set_num_threads(1)
    ds = DigitsData()
    assert ds.shape == (1, 8, 8) and float(ds.images.min()) == -1.0
    pipe, summary = train_gan(_loop(GAN_LOOP, tmp_path / "d", 4, batch_size=16, progress=False, log_every=2, ckpt_every=4),
                              GANTaskConfig(data=ds, loss="hinge", arch="conv", latent_dim=16, base=4))
    out = pipe(n=4, seed=0)
    assert out.samples.shape == (4, 1, 8, 8) and out.samples.abs().max() <= 1.0
    loaded = tryon.load("gan-generate", weights=tmp_path / "d", device="cpu")
    assert torch.equal(loaded(n=4, seed=0).samples, out.samples)
    assert isinstance(pipe.discriminator, nn.Module)
