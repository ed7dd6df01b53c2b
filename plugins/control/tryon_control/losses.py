"""The losses of AVAE (003 §3.3.2), as pure functions of tensors.

Conventions: every loss is a sum over the dimensions of one sample (pixels, latent coordinates) and a mean over the
batch, as in the thesis's per-image formulas and the authors' code (the decoder's NLL is "a per-image sum of
½(x − μ)²"). ``log_sigma`` is the encoder's input-independent log σ, a vector over latent dimensions (003 §3.3.2:
"σ_θe does not depend on x and is learned directly"). The critic outputs the **logit of fake**: ``C(x)`` is the
probability that ``x`` was generated (003 Eq. 3.9), so ``logit C = −d`` for a discriminator ``d`` scoring *real*
high, which is how the critic loss reuses the core's logistic loss.

* :func:`kl_divergence` — 003 Eq. 3.3: ``½ Σ_j σ_j² + μ_j² − 1 − log σ_j²``;
* :func:`reconstruction_nll` — 003 Eq. 3.4 without its constant: ``½ ‖μ_d(z) − x‖²``;
* :func:`vae_loss` — 003 Eq. 3.5, the KL weighted by β (003 §3.4 "Implementation details");
* :func:`latent_loss` — ``"a"``: 003 Eq. 3.8, ``½ ‖(μ_e(x) − z) / σ‖²``; ``"b"``: 003 Eq. 3.12,
  ``½ ‖(μ_e(x) − √(1 − σ²) z) / σ‖²``, whose optimum gives ``μ_e(G(z)) ∼ N(0, I − Σ)``, the law of ``μ_e`` on real
  data, so that it shares an optimum with the GAN objective;
* :func:`critic_loss` — 003 Eq. 3.9: ``−E_real log(1 − C) − E_fake log C``;
* :func:`manifold_loss` — 003 Eq. 3.11: ``logit C(x_fake)``, an estimator of ``log p_g / p`` at the critic's
  optimum (003 Eq. 3.10).

The generator minimises ``latent_loss + manifold_loss`` (003 §3.3.2, "L_G = L_Z^b + L_M").

The baselines of 003 Table 3.1 (003 §2.3.3; :mod:`.training.baselines` trains them):

* :func:`feature_reconstruction_loss` — VAE/GAN's ``L_llike^{Dis_l} = ½ ‖Dis_l(x̃) − Dis_l(x)‖²`` (Larsen et al. 2016,
  a Gaussian of identity covariance in the critic's hidden features);
* :func:`vaegan_critic_loss` — Larsen's ``L_GAN`` for the critic: real against **both** the reconstructions
  ``x̃ = Dec(z ∼ q(z|x))`` and the prior samples ``x_p = Dec(z_p ∼ N(0, I))``;
* :func:`nonsaturating_loss` — a generator's ``−log(1 − C(x_fake)) = softplus(logit C)``, the non-saturating GAN
  loss of the decoder in VAE/GAN;
* :func:`bigan_loss` — BiGAN / ALI: the critic ``D(x, z)`` learns real pairs ``(x, E(x))`` from fake pairs
  ``(G(z), z)`` (:func:`critic_loss` on pair logits); encoder and generator minimise the same logistic loss with the
  labels swapped, ``λ_E softplus(−c(x, E(x))) + softplus(c(G(z), z))`` (λ_E = 10 in the authors' code).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tryon.errors import InputError
from tryon.losses import get_adversarial_loss

from .specs import LATENT_LOSSES


def _per_sample_sum(t: Tensor) -> Tensor:
    return t.float().flatten(1).sum(1) if t.dim() > 1 else t.float()


def kl_divergence(mu: Tensor, log_sigma: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per sample, batch mean (003 Eq. 3.3). ``mu``: ``B×d``; ``log_sigma``: ``d``."""
    log_var = 2.0 * log_sigma.float()
    kl = 0.5 * (log_var.exp() + mu.float() ** 2 - 1.0 - log_var)
    return kl.sum(-1).mean()


def reconstruction_nll(x_hat: Tensor, x: Tensor) -> Tensor:
    """``½ ‖x̂ − x‖²`` per sample, batch mean: −log p(x|z) of 003 Eq. 3.4 for ``p(x|z) = N(μ_d(z), I)`` without
    its constant ``dim(x)/2 · log 2π``."""
    if x_hat.shape != x.shape:
        raise InputError("reconstruction", f"the shape of the input {list(x.shape)}", str(list(x_hat.shape)))
    return 0.5 * _per_sample_sum((x_hat.float() - x.float()) ** 2).mean()


def vae_loss(x_hat: Tensor, x: Tensor, mu: Tensor, log_sigma: Tensor, beta: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """003 Eq. 3.5 with the KL weighted by ``beta``: ``(total, {"nll", "kl"})``."""
    nll = reconstruction_nll(x_hat, x)
    kl = kl_divergence(mu, log_sigma)
    return nll + float(beta) * kl, {"nll": float(nll.detach()), "kl": float(kl.detach())}


def latent_loss(mu_fake: Tensor, z: Tensor, log_sigma: Tensor, kind: str = "b") -> Tensor:
    """The generator's latent reconstruction loss, per sample, batch mean.

    ``mu_fake`` = μ_e(G(z, ξ)) (``B×d``), ``z`` the latent that made it, ``log_sigma`` the encoder's (``d``; its
    gradient is not used: the encoder is not trained by this loss). ``kind="a"``: 003 Eq. 3.8; ``kind="b"``: 003
    Eq. 3.12, where ``√(1 − σ²)`` is taken as 0 for σ ≥ 1 (a coordinate the encoder does not use: ``μ_e ≈ 0`` on
    real data, so the target is 0 too).
    """
    if kind not in LATENT_LOSSES:
        raise InputError("latent loss", "'a' (003 Eq. 3.8) or 'b' (003 Eq. 3.12)", repr(kind))
    log_sigma = log_sigma.detach().float()
    sigma = log_sigma.exp()
    target = z.float() if kind == "a" else torch.sqrt((1.0 - sigma**2).clamp_min(0.0)) * z.float()
    return 0.5 * (((mu_fake.float() - target) / sigma) ** 2).sum(-1).mean()


def critic_loss(c_real: Tensor, c_fake: Tensor) -> Tensor:
    """003 Eq. 3.9 from logits of *fake* ``c = logit C``: ``softplus(c_real) + softplus(−c_fake)``, batch means.

    The same number as the core's logistic discriminator loss on ``d = −c`` (``tryon.losses``, "nonsaturating"),
    which computes it here."""
    return get_adversarial_loss("nonsaturating").d(-c_real.float(), -c_fake.float())


def manifold_loss(c_fake: Tensor) -> Tensor:
    """003 Eq. 3.11: ``L_M = logit C(x_fake)``, batch mean (the authors' code: ``−d_fake`` with ``d`` = logit of real)."""
    return c_fake.float().mean()


def feature_reconstruction_loss(f_rec: Tensor, f_real: Tensor) -> Tensor:
    """VAE/GAN's ``½ ‖Dis_l(x̃) − Dis_l(x)‖²`` per sample (features flattened), batch mean (Larsen et al. 2016, Eq. 5)."""
    if f_rec.shape != f_real.shape:
        raise InputError("critic features", f"the shape of the real features {list(f_real.shape)}", str(list(f_rec.shape)))
    return 0.5 * _per_sample_sum((f_rec.float() - f_real.float()) ** 2).mean()


def vaegan_critic_loss(c_real: Tensor, c_rec: Tensor, c_prior: Tensor) -> Tensor:
    """Larsen's critic loss from logits of fake: ``softplus(c_real) + softplus(−c_rec) + softplus(−c_prior)``, batch
    means (``−log(1 − C(x)) − log C(x̃) − log C(x_p)``; the authors' code: real, reconstructed and prior samples)."""
    fake = torch.nn.functional.softplus
    return fake(c_real.float()).mean() + fake(-c_rec.float()).mean() + fake(-c_prior.float()).mean()


def nonsaturating_loss(c_fake: Tensor) -> Tensor:
    """A generator's non-saturating loss ``−log(1 − C(x_fake)) = softplus(logit C(x_fake))``, batch mean."""
    return torch.nn.functional.softplus(c_fake.float()).mean()


def bigan_loss(c_real_pair: Tensor, c_fake_pair: Tensor, encoder_weight: float = 10.0) -> tuple[Tensor, Tensor]:
    """BiGAN's encoder and generator losses from the joint critic's logits of fake (module doc): ``(λ_E ·
    softplus(−c(x, E(x))), softplus(c(G(z), z)))``, batch means — the encoder makes real pairs look fake, the
    generator makes fake pairs look real."""
    soft = torch.nn.functional.softplus
    return float(encoder_weight) * soft(-c_real_pair.float()).mean(), soft(c_fake_pair.float()).mean()


__all__ = ["LATENT_LOSSES", "bigan_loss", "critic_loss", "feature_reconstruction_loss", "kl_divergence", "latent_loss",
           "manifold_loss", "nonsaturating_loss", "reconstruction_nll", "vae_loss", "vaegan_critic_loss"]
