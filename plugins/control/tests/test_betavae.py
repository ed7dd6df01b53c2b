"""The β-VAE half of 003 ch. 4: Table 4.2's shapes, the BCE + β KL loss, the sprites and their barycentre, the
evaluation protocol and reshaping (003 Eq. 4.14–4.15) on an analytic generator, training that lowers the loss, the
saved run serving both tasks, and refusals in one line."""

from __future__ import annotations

import math

import pytest
import torch

import tryon
from tryon.errors import InputError
from tryon.latent import ErfMap, LatentDirection, normal_icdf, reshape_factor, reshape_reachable
from tryon.train import TrainConfig
from tryon_control.betavae import BetaVaeDecoder, BetaVaeEncoder, bernoulli_nll, betavae_loss, gaussian_kl
from tryon_control.betavae_pipelines import BetaVaeEditPipeline
from tryon_control.experiments.betavae import barycentre, barycentre_protocol, reconstruction_terms
from tryon_control.sprites import SHAPES, SpriteDataset, load_sprites, position_to_barycentre, render_sprite, sprite_masks
from tryon_control.training import BETAVAE_LOOP, BetaVaeTaskConfig, train_betavae


@pytest.mark.parametrize("size, convs", [(32, 3), (64, 4)])
def test_the_networks_have_the_shapes_of_table_4_2(size: int, convs: int) -> None:
    enc, dec = BetaVaeEncoder(size), BetaVaeDecoder(size)
    conv_layers = [m for m in enc.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in conv_layers] == [(32, (4, 4), (2, 2))] * convs
    assert [m.out_features for m in enc.dense if isinstance(m, torch.nn.Linear)] == [256, 256]
    assert enc.dense[0].in_features == 4 * 4 * 32
    x = torch.zeros(2, 1, size, size)
    assert enc.convs[:-1](x).shape == (2, 32, 4, 4)
    mu, log_sigma = enc(x)
    assert mu.shape == log_sigma.shape == (2, 10)
    # decoder: Dense 256 -> Dense 512 (= 4x4x32, the extract's fix) -> ConvT x convs, the last to 1 channel
    assert [m.out_features for m in dec.dense if isinstance(m, torch.nn.Linear)] == [256, 512]
    ups = [m for m in dec.ups if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in ups] == [(32, (4, 4), (2, 2))] * (convs - 1) + [(1, (4, 4), (2, 2))]
    assert dec(mu).shape == (2, 1, size, size)
    image = dec.image(mu)
    assert image.min() >= -1 and image.max() <= 1


def test_the_loss_is_bce_plus_beta_kl_on_a_hand_computed_case() -> None:
    logits = torch.zeros(1, 1, 2, 2)  # p = 1/2 on 4 pixels: BCE = 4 log 2 whatever the image
    x = torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]]])
    mu = torch.tensor([[1.0, 0.0]])
    log_sigma = torch.tensor([[0.0, math.log(2.0)]])
    # KL = ½[(1 + 1 − 1 − 0) + (4 + 0 − 1 − 2 log 2)] = 2 − log 2
    # hand-computed values: float32 rounding
    assert float(bernoulli_nll(logits, x)) == pytest.approx(4 * math.log(2), abs=1e-6)
    assert float(gaussian_kl(mu, log_sigma)) == pytest.approx(2 - math.log(2), abs=1e-6)
    total, logs = betavae_loss(logits, x, mu, log_sigma, beta=2.0)
    # hand-computed values (above): float32 rounding of the sums
    assert float(total) == pytest.approx(4 * math.log(2) + 2 * (2 - math.log(2)), abs=1e-5)
    assert logs["kl"] == pytest.approx(2 - math.log(2), abs=1e-6)
    # a confident right answer costs almost nothing
    assert float(bernoulli_nll(x * 20, x)) < 1e-6


@pytest.mark.parametrize("shape", SHAPES)
def test_the_barycentre_of_a_rendered_sprite_is_its_position_to_a_pixel(shape: str) -> None:
    size = 32
    for pos in (0.0, 0.3, 0.77, 1.0):
        for scale in (0.5, 1.0):
            image = render_sprite(shape, pos, 0.5, scale, 0.0, size)[None]
            bx, by, white = barycentre(image)
            assert abs(float(bx) - float(position_to_barycentre(pos, size))) <= 1 / size
            assert float(white) * size * size >= 8  # the smallest sprite still has pixels
            if shape != "heart":  # the heart is symmetric left-right only
                assert abs(float(by)) <= 1 / size
    # binary, white on black, and fully inside the image at any angle
    masks = sprite_masks(torch.tensor([0, 1, 2]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([1.0, 0.0, 0.0]),
                         torch.ones(3), torch.full((3,), 0.7), size)
    assert masks.any() and not masks[:, 0].any() and not masks[:, -1].any() and not masks[:, :, 0].any()
    ds = SpriteDataset(64, size, seed=3)
    assert ds[0].shape == (1, size, size) and set(ds[0].unique().tolist()) <= {-1.0, 1.0}
    bx, _, _ = barycentre(ds.images())
    assert torch.allclose(bx[ds.factors["angle"] == 0], position_to_barycentre(ds.factors["x"], size)[ds.factors["angle"] == 0],
                          # the renderer places an unrotated sprite's centre to the pixel: one pixel of slack
                          atol=1 / size)


class AnalyticSprites:
    """An ideal generator of 64×64 ellipses: position x = Φ(z₀), y = Φ(z₁) (uniform under N(0, I)); the x direction is
    e₀ with g(s) = range · ½ erf(s/√2) (003 Eq. 4.11)."""

    latent_dim, size = 2, 64

    def __init__(self) -> None:
        self.range = float(position_to_barycentre(1.0, self.size) - position_to_barycentre(0.0, self.size))
        self.x = LatentDirection(torch.tensor([1.0, 0.0]), ErfMap(self.range), "x")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        p = torch.special.ndtr(z)
        n = z.shape[0]
        masks = sprite_masks(torch.ones(n, dtype=torch.long), p[:, 0], p[:, 1], torch.full((n,), 0.8), torch.zeros(n), self.size)
        return masks.float().mul(2).sub(1)[:, None]

    def direction(self, factor: str) -> LatentDirection:
        return self.x

    def along(self, z: torch.Tensor, factor: str, t: float) -> torch.Tensor:
        return torch.cat([torch.full_like(z[:, :1], float(t)), z[:, 1:]], 1)


def test_the_protocol_finds_an_erf_shaped_curve_with_no_spread_on_an_ideal_generator() -> None:
    gen = AnalyticSprites()
    res = barycentre_protocol(gen, "x", n=64, seed=0)
    assert res["monotone"] and not res["flipped"] and res["discarded"] == 0
    fit = res["erf_fit"]
    # measured on the analytic generator: erf RMS < 1e-3, a line's ~0.05; b = 1 and a = range/2 by construction
    assert fit["rmse"] < 0.003 < 0.02 < fit["line_rmse"]
    assert fit["b"] == pytest.approx(1.0, abs=0.05) and fit["a"] == pytest.approx(gen.range / 2, abs=0.01)
    assert max(r["std"] for r in res["per_t"]) < 0.5 / gen.size  # x does not depend on y: no spread at fixed t


def test_reshaping_moves_the_histogram_to_the_target() -> None:
    gen = AnalyticSprites()
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    before, _, _ = barycentre(gen.decode(z))
    reshaped = reshape_factor(z, gen.x, normal_icdf(0.2, 0.05))
    # targets beyond the range of g (0.2 + 2.6 std > range/2 ≈ 0.33, ~0.5 %) have no preimage: they saturate at the
    # edge of the range (finite, no NaN) and are dropped from the comparison with the target here
    assert reshaped.isfinite().all()
    reached = reshape_reachable(z, gen.x, normal_icdf(0.2, 0.05))
    assert 0 < int((~reached).sum()) < 0.01 * len(z)
    after, _, _ = barycentre(gen.decode(reshaped[reached]))
    assert float(before.mean()) == pytest.approx(0.0, abs=0.02) and float(before.std()) > 0.15  # uniform over the range
    assert float(after.mean()) == pytest.approx(0.2, abs=0.005)
    assert float(after.std()) == pytest.approx(0.05, abs=0.005)
    assert torch.equal(reshaped[:, 1], z[:, 1])  # the rest of z is untouched


def _loop(tmp_path, name: str, **kw) -> TrainConfig:
    return TrainConfig(**{**BETAVAE_LOOP, "out_dir": str(tmp_path / name), "max_steps": 60, "batch_size": 16, "progress": False,
                          "device": "cpu", "ckpt_every": 1000, "log_every": 50, **kw})


def test_training_lowers_the_loss_and_the_run_serves_both_tasks(tmp_path) -> None:
    data = SpriteDataset(512, 32, shapes=("ellipse",), angles=1, seed=0)
    held_out = SpriteDataset(128, 32, shapes=("ellipse",), angles=1, seed=9).images()
    torch.manual_seed(0)
    fresh = reconstruction_terms(BetaVaeEditPipeline(size=32), held_out)
    task = BetaVaeTaskConfig(data=data, beta=4.0, directions="x", trajectories=8, inversion_steps=5)
    pipe, summary = train_betavae(_loop(tmp_path, "run"), task)
    trained = reconstruction_terms(pipe, held_out)
    assert fresh["bce"] > 600  # ≈ 1024 log 2 at initialisation
    assert trained["bce"] + 4.0 * trained["kl"] < 0.5 * (fresh["bce"] + 4.0 * fresh["kl"])
    assert summary["steps"] == 60 and {"bce", "kl", "loss"} <= set(summary["last"])
    fit = summary["directions"]["x"]
    assert fit["rows"] + fit["rejected"] == 8 * 10 and fit["rejected"] >= 1  # 2 signs x 5 amounts; worst 10 % dropped

    edit = tryon.load("betavae-edit", weights=tmp_path / "run", device="cpu")
    gen = tryon.load("betavae-generate", weights=tmp_path / "run", device="cpu")
    # u is stored unit-norm: float32 rounding
    assert torch.equal(edit.direction("x").u, pipe.direction("x").u) and abs(float(edit.direction("x").u.norm()) - 1) < 1e-5
    x = held_out[:3]
    out = edit(x, direction="x", amount=0.0)
    assert out.image.shape == (3, 3, 32, 32) and out.latents.shape == (3, 10)  # grey in, RGB out (tryon.io)
    assert torch.allclose(out.image, out.reconstruction, atol=0.05)  # amount 0: g⁻¹(g(s)) = s
    moved = edit(x, direction="x", latent_amount=2.0)
    assert torch.allclose(moved.latents - pipe.encode(x), 2.0 * pipe.direction("x").u, atol=1e-5)
    samples = gen(n=4, seed=1, direction="x", coordinate=1.5).latents @ pipe.direction("x").u
    # float32 rounding of z ± coordinate·u (‖u‖ = 1)
    assert torch.allclose(samples, torch.full((4,), 1.5), atol=1e-5)


def test_wrong_settings_are_refused_in_one_line(tmp_path) -> None:
    cases = [
        (dict(size=48), "4·2\\^k"),
        (dict(directions="x,z"), "--directions"),
        (dict(direction_method="labels"), "--direction-method"),
        (dict(beta=-1.0), "--beta"),
    ]
    for kw, match in cases:
        with pytest.raises(InputError, match=match) as err:
            train_betavae(_loop(tmp_path, "bad", max_steps=1), BetaVaeTaskConfig(data="sprites:n=16", **kw))
        assert "\n" not in str(err.value)
    for bad in (lambda: render_sprite("star", 0.5, 0.5), lambda: load_sprites("sprites:colour=red"),
                lambda: render_sprite("square", 0.5, 0.5, scale=1.5), lambda: BetaVaeEditPipeline(size=32).direction("x")):
        with pytest.raises(InputError) as err:
            bad()
        assert "\n" not in str(err.value)
