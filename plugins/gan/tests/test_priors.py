"""The DeliGAN prior (learnt mixture means), DMLGAN's generators with their learnt prior and the simplicial prior's
mutual-information head (000 Tables 3.1 / 3.3, App. B.2.3): they train, they move what they should, and they save and
load."""

from __future__ import annotations

import csv

import pytest
import torch

import tryon
from tryon.errors import InputError
from tryon.train import TrainConfig
from tryon_gan.data import gaussian_grid
from tryon_gan.pipelines import GanPipeline
from tryon_gan.samplers import simplicial_scores
from tryon_gan.training import GAN_LOOP, GANTaskConfig, train_gan


def _loop(out, steps, **kw):
    return TrainConfig(**{**GAN_LOOP, "out_dir": str(out), "max_steps": steps, "batch_size": 32, "progress": False,
                          "log_every": 1, "ckpt_every": steps, "seed": 0, **kw})


def test_deligan_means_train_with_the_generator_and_reload(tmp_path) -> None:
    data = gaussian_grid(2, 3.0, 0.1, n=500)
    before = GanPipeline(prior="deligan", clusters=5, cluster_seed=0).generator.mixture_means.detach().clone()
    pipe, _ = train_gan(_loop(tmp_path / "run", 20), GANTaskConfig(data=data, prior="deligan", clusters=5))
    mu = pipe.generator.mixture_means
    assert isinstance(mu, torch.nn.Parameter) and mu.shape == (5, 2)
    assert float((mu.detach() - before).abs().max()) > 0  # the generator's loss reached the means
    again = tryon.load("gan-generate", weights=tmp_path / "run", device="cpu")
    assert torch.equal(again.generator.mixture_means, mu.detach())
    r = again(n=400, seed=1, sampler="deligan")
    # each latent is a unit Gaussian around one of the means: its distance to the nearest mean is that of N(0, I_2)
    # alone, whose mean is sqrt(pi/2) = 1.25; far above the means' own spread (0.1 N(0, I) + 20 small steps)
    nearest = torch.cdist(r.latents, mu.detach()).min(1).values
    assert abs(float(nearest.mean()) - 1.25) < 0.25 and r.stats.extra["components"] == 5


def test_mi_head_trains_for_its_share_of_the_steps_then_stops(tmp_path) -> None:
    data = gaussian_grid(2, 3.0, 0.1, n=500)
    pipe, _ = train_gan(_loop(tmp_path / "run", 10), GANTaskConfig(data=data, prior="simplicial", clusters=4, mi_weight=1.0,
                                                                   mi_fraction=0.5, hidden=(20, 20)))
    assert isinstance(pipe.discriminator.mi_head, torch.nn.Linear) and pipe.discriminator.mi_head.out_features == 4
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    used = [int(r["step"]) for r in rows if r.get("mi_d")]
    assert used == [1, 2, 3, 4, 5]  # 0.5 of 10 steps, from the start (logged after each step)
    # the head's target is the latent's cell, as the simplicial sampler defines it
    z = torch.randn(64, 2)
    cells = simplicial_scores(z, pipe.generator.simplex)[1]
    assert cells.min() >= 0 and cells.max() < 4
    assert tryon.load("gan-generate", weights=tmp_path / "run", device="cpu").discriminator.mi_head.out_features == 4


@pytest.mark.parametrize(("kw", "match"), [({"prior": "deligan", "clusters": 0}, "clusters >= 1"),
                                           ({"prior": "gaussian", "mi_head": True}, "simplicial or dmlgan prior"),
                                           ({"prior": "dmlgan", "clusters": 3}, "generator-id classifier"),
                                           ({"prior": "mixture", "clusters": 3}, "one of gaussian")])
def test_bad_prior_settings_are_one_clear_error(kw, match) -> None:
    with pytest.raises(InputError, match=match):
        GanPipeline(**kw)


def test_dmlgan_routes_each_latent_to_the_generator_it_names() -> None:
    pipe = GanPipeline(prior="dmlgan", clusters=3, latent_dim=2, mi_head=True)
    G = pipe.generator
    assert pipe.latent_dim == G.latent_dim == 5 and len(G.generators) == 3
    z = torch.randn(6, 2)
    c = torch.tensor([0, 1, 2, 2, 1, 0])
    x = G(torch.cat([z, torch.nn.functional.one_hot(c, 3).float()], 1))
    for k in range(3):  # every row is its own generator's output, bit for bit
        assert torch.equal(x[c == k], G.generators[k](z[c == k]))
    with pytest.raises(InputError, match="latents"):
        G(torch.randn(4, 2))


def test_dmlgan_sampler_draws_generators_from_the_learnt_prior() -> None:
    pipe = GanPipeline(prior="dmlgan", clusters=4, latent_dim=2, mi_head=True)
    with torch.no_grad():
        pipe.generator.prior_logits.copy_(torch.tensor([0.0, 0.0, 9.0, 0.0]))  # r(2) = 0.9996
    r = pipe(n=200, seed=0, sampler="dmlgan")
    assert r.stats.extra["per_generator"][2] >= 195 and sum(r.stats.extra["per_generator"]) == 200
    assert torch.equal(r.latents[:, 2:].argmax(1), pipe.generator.choice(r.latents))
    with pytest.raises(InputError, match="dmlgan"):
        GanPipeline(latent_dim=2)(n=4, sampler="dmlgan")


def test_dmlgan_trains_its_generator_head_and_prior_then_reloads(tmp_path) -> None:
    data = gaussian_grid(2, 3.0, 0.1, n=500)
    pipe, _ = train_gan(_loop(tmp_path / "run", 20), GANTaskConfig(data=data, prior="dmlgan", clusters=3, mi_weight=1.0,
                                                                   mi_fraction=1.0))
    logits = pipe.generator.prior_logits.detach()
    assert float(logits.abs().max()) > 0  # the prior moved from uniform towards the head's posterior on real data
    with open(tmp_path / "run" / "metrics.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("prior")]
    assert len(rows) == 20 and all(float(r["mi_d"]) >= 0 for r in rows)
    again = tryon.load("gan-generate", weights=tmp_path / "run", device="cpu")
    assert torch.equal(again.generator.prior_logits, logits) and again.discriminator.mi_head.out_features == 3
    assert again(n=32, seed=1, sampler="dmlgan").samples.shape == (32, 2)
