"""Loss terms shared by T-WUTON and S-WUTON training (000 eq. 4.3.5, 4.3.8, §4.3.3.2, App. E.1).

* :func:`build_perceptual`: the perceptual loss ``Σ_i ‖φ_i(x) − φ_i(y)‖₁`` over VGG-19 features from local
  weights, else (documented fallbacks, nothing is downloaded) the encoder of the trained human parser,
  else a randomly initialised VGG-19;
* :func:`discriminator_loss` / :func:`discriminator_update`: the relativistic average discriminator loss
  with gradient penalty, and one discriminator step through the :class:`tryon.train.Trainer`.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

import torch
from torch import nn

log = logging.getLogger("tryon_wuton.training")


class ParserFeatures(nn.Module):
    """Frozen encoder of a trained :class:`tryon_wuton.parsing.HumanParser`: 5 maps (strides 2…32)."""

    def __init__(self, parser: nn.Module):
        super().__init__()
        self.parser = copy.deepcopy(parser).eval()
        for p in self.parser.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> ParserFeatures:  # always eval (frozen batch-norm statistics)
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.parser.features(x)


def build_perceptual(vgg_weights: str | os.PathLike | None = None,
                     parser: nn.Module | None = None) -> tuple[nn.Module, str]:
    """``(PerceptualLoss, description)``: VGG-19 from ``vgg_weights``; else the parser encoder; else a random
    VGG-19 (see :mod:`tryon_wuton.training.teacher`). The description is what gets logged and recorded."""
    from tryon.losses import PerceptualLoss
    from tryon.nn import VGG19Features

    if vgg_weights:
        extractor: nn.Module = VGG19Features(weights=str(vgg_weights))
        desc = f"vgg19 ({vgg_weights})"
    elif parser is not None:
        extractor = ParserFeatures(parser)
        desc = "parser-encoder (fallback: no --vgg-weights; encoder of the trained human parser)"
    else:
        extractor = VGG19Features(weights=None)
        desc = "vgg19-random (fallback: no --vgg-weights and no --parser; random VGG-19 features)"
    for p in extractor.parameters():
        p.requires_grad_(False)
    extractor.eval()
    if "fallback" in desc:
        log.warning("perceptual loss features: %s", desc)
    else:
        log.info("perceptual loss features: %s", desc)
    return PerceptualLoss(extractor), desc


def discriminator_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, gp_weight: float,
                       gp_kind: str = "r1") -> dict[str, torch.Tensor]:
    """Relativistic average discriminator loss + gradient penalty (000 §4.3.3.2, App. E.1): ``gp_kind`` ``"r1"``
    (zero-centred, on real images) or ``"wgan-gp"`` (one-centred, on interpolates), see
    :data:`tryon_wuton.training.teacher.GP_KIND`."""
    from tryon.losses import gradient_penalty, relativistic_d_loss

    fake = fake.detach()
    d_loss = relativistic_d_loss(disc(real), disc(fake))
    gp = gradient_penalty(disc, real, fake, kind=gp_kind) if gp_weight > 0 else real.new_zeros(())
    return {"d": d_loss, "gp": gp, "d_total": d_loss + gp_weight * gp}


def discriminator_update(trainer: Any, real: torch.Tensor, fake: torch.Tensor, gp_weight: float,
                         gp_kind: str = "r1", name: str = "discriminator", gp_every: int = 1) -> dict[str, float]:
    """One step of the discriminator module/optimiser ``name`` on ``(real, fake)``, through the trainer
    (``autocast``, ``backward``, ``optimizer_step``: AMP and gradient clipping apply). Returns ``d`` and, on
    the steps it is computed, ``gp``.

    ``gp_every = k > 1`` makes the gradient penalty *lazy* (:func:`tryon.losses.lazy_weight`, StyleGAN2
    practice): computed on every k-th step (``trainer.step % k == 0``) with weight ``k * gp_weight``, skipped
    otherwise — the penalty's double backward is the most expensive part of a CPU step."""
    from tryon.losses import lazy_weight

    disc = trainer.modules[name]
    disc.train()
    weight = lazy_weight(int(getattr(trainer, "step", 0)), gp_every, gp_weight) if gp_weight > 0 else 0.0
    trainer.optimizers[name].zero_grad(set_to_none=True)
    with trainer.autocast():
        dl = discriminator_loss(disc, real, fake, weight, gp_kind)
    trainer.backward(dl["d_total"])
    trainer.optimizer_step(name)
    logs = {"d": float(dl["d"].detach())}
    if weight > 0 or gp_weight <= 0:
        logs["gp"] = float(dl["gp"].detach())
    return logs


__all__ = ["ParserFeatures", "build_perceptual", "discriminator_loss", "discriminator_update"]


def generator_total(losses: dict[str, torch.Tensor], cfg: Any, disc: nn.Module | None, real: torch.Tensor,
                    fake: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Add the relativistic adversarial term (000 eq. 4.3.6 / 4.3.10: the critic fixed, ``real`` persons vs
    ``fake`` outputs; none when ``fake`` or ``disc`` is None) and ``total``, the sum weighted by ``cfg``'s
    ``lambda_warp``, ``lambda_l1``, ``lambda_perceptual`` and ``lambda_adv`` — the teacher's and the student's
    generator objective share this tail."""
    from tryon.losses import WeightedSum, relativistic_g_loss

    if disc is not None and fake is not None:
        with torch.no_grad():
            d_real = disc(real)
        losses["adv"] = relativistic_g_loss(d_real, disc(fake))
    weights = WeightedSum(warp=cfg.lambda_warp, l1=cfg.lambda_l1, perceptual=cfg.lambda_perceptual)
    if "adv" in losses:
        weights.weights["adv"] = cfg.lambda_adv
    losses["total"], _ = weights(**losses)
    return losses
