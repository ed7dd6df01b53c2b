"""The hybrid baselines of 003 Table 3.1 on AVAE's networks (003 §2.3.3): VAE/GAN and BiGAN, one training step each.

**VAE/GAN** (Larsen et al. 2016; ``objective="vaegan"``): encoder ``E``, decoder ``Dec`` (the decoder *is* the
generator) and critic ``C`` with hidden features ``Dis_l`` (:meth:`tryon_control.models.Critic.features`). On a
batch ``x``: ``z = μ_e(x) + σ ε``, ``x̃ = Dec(z)``, ``x_p = Dec(z_p)`` with ``z_p ∼ N(0, I)``, and

* critic: ``L_C = −log(1 − C(x)) − log C(x̃) − log C(x_p)`` (:func:`~tryon_control.losses.vaegan_critic_loss`);
* encoder: ``β L_prior + L_llike`` with ``L_prior = KL(q(z|x) ‖ N(0, I))`` (003 Eq. 3.3) and
  ``L_llike = ½ ‖Dis_l(x̃) − Dis_l(x)‖²`` (:func:`~tryon_control.losses.feature_reconstruction_loss`);
* decoder: ``γ L_llike + L_GAN`` with the non-saturating ``L_GAN = −log(1 − C(x̃)) − log(1 − C(x_p))``
  (:func:`~tryon_control.losses.nonsaturating_loss`); γ = 1e-2 and β per data set in the authors' code (003 §2.4 of
  the extract).

The critic is updated first, then frozen (:func:`tryon.train.frozen`; gradients flow through it). One backward pass
gives both networks their own gradient: the decoder's loss is ``γ L_llike(Dec(z')) + L_GAN(Dec(sg z), x_p)`` where
``z' = z`` with its *gradient* scaled by 1/γ, so the encoder receives exactly ``∂(β L_prior + L_llike)/∂θ_e`` and no
gradient of ``L_GAN`` (its reconstructions for ``L_GAN`` are decoded from the detached ``z``).

**BiGAN / ALI** (Donahue et al. 2017, Dumoulin et al. 2017; ``objective="bigan"``): encoder ``E`` (deterministic:
``E(x) = μ_e(x)``, its σ unused), generator ``G`` and the joint critic ``D(x, z)``
(:class:`tryon_control.models.JointCritic`). Critic: :func:`~tryon_control.losses.critic_loss` on the pair logits of
``(x, E(x))`` (real) and ``(G(z), z)`` (fake), ``z ∼ N(0, I)``; then encoder and generator, the critic frozen, on
:func:`~tryon_control.losses.bigan_loss` (labels swapped; the encoder's term weighted by
:data:`BIGAN_ENCODER_WEIGHT` as in the authors' code — with one Adam per network a constant weight barely changes the
encoder's steps). A BiGAN reconstructs through ``G(E(x))``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from tryon.errors import InputError
from tryon.train import frozen

from ..losses import bigan_loss, critic_loss, feature_reconstruction_loss, kl_divergence, nonsaturating_loss, vaegan_critic_loss

#: λ_E, the weight of BiGAN's encoder loss against the generator's (the authors' code, 003 §2.4 of the extract)
BIGAN_ENCODER_WEIGHT = 10.0


def scale_gradient(t: Tensor, factor: float) -> Tensor:
    """``t`` unchanged in value, its gradient multiplied by ``factor`` on the way back."""
    detached = t.detach()
    return detached + (t - detached) * float(factor)


def vaegan_step(beta: float, gamma: float, latent_dim: int) -> Callable[[Any, Tensor], dict[str, float]]:
    """The ``step_fn`` of VAE/GAN (module doc) for :func:`tryon.train.run`; modules ``encoder``, ``decoder``,
    ``critic``."""
    if gamma <= 0:
        raise InputError("--gamma", "> 0 (the weight of the feature reconstruction in the decoder's loss)", str(gamma))

    def step(trainer: Any, batch: Tensor) -> dict[str, float]:
        x = batch.to(trainer.device)
        E, Dec, C = trainer.modules["encoder"], trainer.modules["decoder"], trainer.modules["critic"]
        log_sigma = trainer.unwrap("encoder").log_sigma
        with trainer.autocast():
            mu = E(x)
            z = mu + log_sigma.exp() * torch.randn_like(mu)
            z_p = torch.randn(x.shape[0], int(latent_dim), device=x.device)
            x_rec_sg, x_p = Dec(z.detach()), Dec(z_p)  # the GAN's fakes: no gradient to the encoder
            c_real, c_rec, c_prior = C(x), C(x_rec_sg.detach()), C(x_p.detach())
            l_c = vaegan_critic_loss(c_real, c_rec, c_prior)
        trainer.optimizers["critic"].zero_grad(set_to_none=True)
        trainer.backward(l_c)
        trainer.optimizer_step("critic")
        crit = trainer.unwrap("critic")
        with frozen(crit):
            with trainer.autocast():
                x_rec = Dec(scale_gradient(z, 1.0 / float(gamma)))
                l_like = feature_reconstruction_loss(crit.features(x_rec), crit.features(x).detach())
                kl = kl_divergence(mu, log_sigma)
                l_gan = nonsaturating_loss(crit(x_rec_sg)) + nonsaturating_loss(crit(x_p))
                total = float(beta) * kl + float(gamma) * l_like + l_gan
            for name in ("encoder", "decoder"):
                trainer.optimizers[name].zero_grad(set_to_none=True)
            trainer.backward(total)
        trainer.optimizer_step("encoder")
        trainer.optimizer_step("decoder")
        return {"l_c": float(l_c.detach()), "l_llike": float(l_like.detach()), "kl": float(kl.detach()),
                "l_gan": float(l_gan.detach()), "sigma": float(log_sigma.detach().exp().mean())}

    return step


def bigan_step(latent_dim: int, noise_dim: int = 0,
               encoder_weight: float = BIGAN_ENCODER_WEIGHT) -> Callable[[Any, Tensor], dict[str, float]]:
    """The ``step_fn`` of BiGAN (module doc) for :func:`tryon.train.run`; modules ``encoder``, ``generator``,
    ``critic`` (a :class:`~tryon_control.models.JointCritic`)."""

    def step(trainer: Any, batch: Tensor) -> dict[str, float]:
        x = batch.to(trainer.device)
        E, G, D = trainer.modules["encoder"], trainer.modules["generator"], trainer.modules["critic"]
        b = x.shape[0]
        z = torch.randn(b, int(latent_dim), device=x.device)
        xi = torch.randn(b, int(noise_dim), device=x.device) if noise_dim else None
        with trainer.autocast():
            z_real, x_fake = E(x), G(z, xi)
            c_real, c_fake = D(x, z_real.detach()), D(x_fake.detach(), z)
            l_d = critic_loss(c_real, c_fake)
        trainer.optimizers["critic"].zero_grad(set_to_none=True)
        trainer.backward(l_d)
        trainer.optimizer_step("critic")
        with frozen(trainer.unwrap("critic")):
            with trainer.autocast():
                l_e, l_g = bigan_loss(D(x, z_real), D(x_fake, z), encoder_weight)
            for name in ("encoder", "generator"):
                trainer.optimizers[name].zero_grad(set_to_none=True)
            trainer.backward(l_e + l_g)
        trainer.optimizer_step("encoder")
        trainer.optimizer_step("generator")
        return {"l_d": float(l_d.detach()), "l_e": float(l_e.detach()), "l_g": float(l_g.detach()),
                "c_real": float(c_real.detach().float().mean()), "c_fake": float(c_fake.detach().float().mean())}

    return step


__all__ = ["BIGAN_ENCODER_WEIGHT", "bigan_step", "scale_gradient", "vaegan_step"]
