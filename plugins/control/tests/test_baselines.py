"""The baselines of 003 Table 3.1 (VAE/GAN, BiGAN) and the ξ row: their losses on hand-computed numbers, each network
getting exactly its own loss's gradient, a few training steps that save and load, and the study's models as configured."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import tryon
from tryon.errors import InputError
from tryon.testing import StepTrainer
from tryon.train import TrainConfig
from tryon_control.losses import bigan_loss, feature_reconstruction_loss, kl_divergence, nonsaturating_loss, vaegan_critic_loss
from tryon_control.models import JointCritic, build_networks
from tryon_control.pipelines import AvaeReconstructPipeline
from tryon_control.training import AVAE_LOOP, AvaeTaskConfig, train_avae
from tryon_control.training.baselines import bigan_step, scale_gradient, vaegan_step

LOG3 = math.log(3.0)


def test_feature_reconstruction_is_half_the_squared_distance_summed_per_sample_mean_over_the_batch() -> None:
    f_rec = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    f_real = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    # sample 1: ½ (1 + 4) = 2.5; sample 2: ½ 4 = 2; mean 2.25
    assert feature_reconstruction_loss(f_rec, f_real).item() == pytest.approx(2.25)
    with pytest.raises(InputError):
        feature_reconstruction_loss(f_rec, f_real[:, :1])


def test_vaegan_critic_loss_counts_real_reconstructed_and_prior_samples() -> None:
    # logits of fake: softplus(log 3) = log 4 (real called fake with odds 3), softplus(−(−log 3)) = log 4, softplus(−log 3)
    # = log 4/3
    got = vaegan_critic_loss(torch.tensor([LOG3]), torch.tensor([-LOG3]), torch.tensor([LOG3])).item()
    assert got == pytest.approx(2 * math.log(4) + math.log(4 / 3), rel=1e-6)
    assert vaegan_critic_loss(torch.zeros(4), torch.zeros(4), torch.zeros(4)).item() == pytest.approx(3 * math.log(2), rel=1e-6)


def test_nonsaturating_and_bigan_losses_on_hand_computed_logits() -> None:
    # −log(1 − C) with C = sigmoid(c): c = 0 → log 2, c = log 3 → log 4; mean (log 2 + log 4) / 2 = 1.5 log 2
    assert nonsaturating_loss(torch.tensor([0.0, LOG3])).item() == pytest.approx(1.5 * math.log(2), rel=1e-6)
    l_e, l_g = bigan_loss(torch.tensor([LOG3]), torch.tensor([-LOG3]), encoder_weight=10.0)
    # encoder: 10 · softplus(−log 3) = 10 log 4/3; generator: softplus(−log 3) = log 4/3
    assert l_e.item() == pytest.approx(10 * math.log(4 / 3), rel=1e-6)
    assert l_g.item() == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_scale_gradient_keeps_the_value_and_scales_the_gradient() -> None:
    t = torch.tensor([1.5, -2.0], requires_grad=True)
    out = scale_gradient(t, 0.25)
    assert torch.equal(out, t.detach())
    (out * torch.tensor([4.0, 8.0])).sum().backward()
    assert torch.allclose(t.grad, torch.tensor([1.0, 2.0]))


def _nets(joint: bool = False) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {k: v.train() for k, v in build_networks([1, 16, 16], "conv", 4, 0, 4, joint_critic=joint).items()}


def _frozen_trainer(nets: dict[str, torch.nn.Module], names: tuple[str, ...]) -> StepTrainer:
    """Optimisers of learning rate 0: the step computes its gradients and moves nothing."""
    return StepTrainer({n: nets[n] for n in names}, {n: torch.optim.SGD(nets[n].parameters(), lr=0.0) for n in names})


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Equal up to float32 rounding (the 1/γ scaling and γ weighting round differently): relative to the tensor's norm."""
    return float((got - want).norm()) <= 1e-4 * float(want.norm()) + 1e-6


def _grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in module.parameters()]


def test_vaegan_encoder_gets_beta_kl_plus_feature_loss_and_decoder_gamma_feature_loss_plus_gan() -> None:
    beta, gamma = 0.5, 0.01
    nets = _nets()
    ref = copy.deepcopy(nets)
    x = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    torch.manual_seed(7)
    vaegan_step(beta, gamma, 4)(_frozen_trainer(nets, ("encoder", "decoder", "critic")), x)
    # the same draws by hand, each loss differentiated for its own network
    E, Dec, C = ref["encoder"], ref["decoder"], ref["critic"]
    torch.manual_seed(7)
    mu = E(x)
    z = mu + E.log_sigma.exp() * torch.randn_like(mu)
    z_p = torch.randn(6, 4)
    x_rec_sg, x_p = Dec(z.detach()), Dec(z_p)
    l_like = feature_reconstruction_loss(C.features(Dec(z)), C.features(x).detach())
    enc_loss = beta * kl_divergence(mu, E.log_sigma) + l_like
    dec_loss = gamma * l_like + nonsaturating_loss(C(x_rec_sg)) + nonsaturating_loss(C(x_p))
    want_e = torch.autograd.grad(enc_loss, list(E.parameters()), retain_graph=True)
    want_d = torch.autograd.grad(dec_loss, list(Dec.parameters()))
    assert all(_close(got, want) for got, want in zip(_grads(nets["encoder"]), want_e))
    assert all(_close(got, want) for got, want in zip(_grads(nets["decoder"]), want_d))
    assert any(float(g.abs().sum()) > 0 for g in want_e)
    with pytest.raises(InputError, match="gamma"):
        vaegan_step(beta, 0.0, 4)


def test_the_bigan_critic_sees_pairs_and_the_generator_gets_only_its_own_loss() -> None:
    nets = _nets(joint=True)
    D = nets["critic"]
    assert isinstance(D, JointCritic)
    x = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        D.eval()
        same, swapped = D(x, z), D(x, z.flip(0))
        D.train()
    assert not torch.allclose(same, swapped, atol=1e-6)  # the latent is an input: pairing matters
    with pytest.raises(InputError):
        D(x, z[:3])
    ref = copy.deepcopy(nets)
    torch.manual_seed(5)
    logs = bigan_step(4)(_frozen_trainer(nets, ("encoder", "generator", "critic")), x)
    assert set(logs) == {"l_d", "l_e", "l_g", "c_real", "c_fake"}
    torch.manual_seed(5)
    zz = torch.randn(6, 4)
    E, G, Dr = ref["encoder"], ref["generator"], ref["critic"]
    z_real, x_fake = E(x), G(zz)
    Dr(x, z_real.detach()), Dr(x_fake.detach(), zz)  # the critic's own pass (batch-norm statistics, as in the step)
    l_e, l_g = bigan_loss(Dr(x, z_real), Dr(x_fake, zz))
    for net, loss, mine in ((nets["generator"], l_g, G), (nets["encoder"], l_e, E)):
        want = torch.autograd.grad(loss, list(mine.parameters()), retain_graph=True, allow_unused=True)
        for got, w in zip(_grads(net), want):
            assert _close(got, torch.zeros_like(got) if w is None else w)
    assert nets["encoder"].log_sigma.grad is None  # a BiGAN encoder is deterministic: σ gets no gradient


def _loop(tmp_path, name: str) -> TrainConfig:
    return TrainConfig(**{**AVAE_LOOP, "out_dir": str(tmp_path / name), "max_steps": 2, "batch_size": 8, "progress": False,
                          "device": "cpu", "ckpt_every": 100})


@pytest.mark.parametrize("objective", ["vaegan", "bigan"])
def test_a_few_steps_train_save_and_load(tmp_path, objective: str) -> None:
    pipe, summary = train_avae(_loop(tmp_path, objective), AvaeTaskConfig(data="digits", size=(16, 16), latent_dim=4, width=4,
                                                                          objective=objective, xi=False))
    assert summary["steps"] == 2 and pipe.provenance["model"] == objective
    keys = {"vaegan": {"l_c", "l_llike", "kl", "l_gan", "sigma"}, "bigan": {"l_d", "l_e", "l_g", "c_real", "c_fake"}}[objective]
    assert keys == set(summary["last"]) and all(math.isfinite(v) for v in summary["last"].values())
    loaded = tryon.load("avae-reconstruct", weights=tmp_path / objective, device="cpu")
    assert isinstance(loaded.critic, JointCritic) == (objective == "bigan")
    for name in ("encoder", "decoder", "generator", "critic"):
        a, b = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = loaded(x)
    # VAE/GAN reconstructs with its decoder (its generator); BiGAN through G(E(x)) and has no decoder
    assert torch.equal(out.image, out.decoded)
    z = out.latents
    want = loaded.decode(z) if objective == "vaegan" else loaded.generate(z)
    # the same network on the same input: float32 rounding after the uint8-free round trip
    assert torch.allclose(torch.as_tensor(out.image).float(), want.clamp(-1, 1).repeat(1, 3, 1, 1), atol=1e-6)


def test_the_study_builds_the_xi_row_as_configured(tmp_path) -> None:
    from tryon_control.experiments.table31 import MODELS, VAEGAN_BETA_FACTOR

    assert MODELS["AVAE (L_Z^b) + ξ"] == {"objective": "avae", "latent_loss": "b", "xi": True}
    assert MODELS["AVAE (L_Z^b)"]["xi"] is False and MODELS["VAE/GAN"]["beta_factor"] == VAEGAN_BETA_FACTOR
    pipe, _ = train_avae(_loop(tmp_path, "xi"), AvaeTaskConfig(data="digits", size=(16, 16), latent_dim=4, width=4,
                                                                **MODELS["AVAE (L_Z^b) + ξ"]))
    assert pipe.noise_dim == 4 and pipe.config["latent_loss"] == "b"
    assert pipe.generator.body[0].in_features == 8  # G sees concat(z, ξ)
    z = torch.zeros(2, 4)
    assert not torch.allclose(pipe.generate(z, seed=0), pipe.generate(z, seed=1))  # ξ changes the image
    assert isinstance(AvaeReconstructPipeline(data_shape=[1, 16, 16], width=4, latent_dim=4).critic, torch.nn.Module)
