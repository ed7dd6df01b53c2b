"""``tryon train edibert-vqgan``: the VQGAN tokenizer (000 §4.2.2.1, eq. 4.2.2) through the core's run protocol
(:func:`tryon.train.run`: progress bar, metrics.csv, checkpoints, resume, precision, gradient clipping, time budget).
The entry point :func:`train_vqgan` takes ``(TrainConfig, VQGANTaskConfig)`` (:mod:`.config`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tryon.data import ImageFolderDataset
from tryon.losses import get_adversarial_loss
from tryon.nn import PatchGANDiscriminator
from tryon.train import TrainConfig, refuse_unsupported, run

from ..editing import perceptual_extractor
from ..pipelines import VQGANPipeline
from .config import VQGAN_LOOP, VQGANTaskConfig

__all__ = ["adaptive_weight", "codebook_stats", "image_dataset", "perceptual_loss", "train_vqgan", "vqgan_step"]


def image_dataset(data: Any, size: Sequence[int]) -> Any:
    """An image folder (``data``: a path) at ``size``, or ``data`` itself (a dataset)."""
    if isinstance(data, (str, os.PathLike)):
        return ImageFolderDataset(data, size=size, validate=True)
    return data


def codebook_stats(idx: Tensor, n_codes: int) -> dict[str, float]:
    """Share of codes used in ``idx`` and the perplexity ``exp(H(p))`` of their histogram."""
    counts = torch.bincount(idx.flatten(), minlength=n_codes).float()
    p = counts / counts.sum().clamp_min(1)
    ent = -(p[p > 0] * p[p > 0].log()).sum()
    return {"usage": float((counts > 0).float().mean()), "perplexity": float(math.exp(float(ent)))}


def adaptive_weight(rec_loss: Tensor, g_loss: Tensor, last_layer: Tensor, max_weight: float = 1e4) -> Tensor:
    """VQGAN's adaptive adversarial weight ``λ = ‖∇_{G_L} L_rec‖ / (‖∇_{G_L} L_G‖ + 1e-4)`` (Esser et al. 2021,
    eq. 7), detached and clamped to ``[0, max_weight]``."""
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, max_weight).detach()


def vqgan_step(vq_pipe: VQGANPipeline, perceptual: torch.nn.Module | None, *, perceptual_weight: float,
               disc_start: int, disc_weight: float, adv_loss: str = "hinge"):
    """The VQGAN step: ``L1 + λ_p·L_perc + commitment(β) + [step ≥ disc_start] · λ_adapt·disc_weight·L_G``, then
    the discriminator step (PatchGAN, ``adv_loss``) once the adversarial loss is on (never with ``disc_start`` < 0)."""
    adv = get_adversarial_loss(adv_loss)

    def step(trainer: Any, batch: Any) -> dict[str, float]:
        vq = trainer.modules["vqgan"]
        raw = trainer.unwrap("vqgan")
        disc = trainer.modules["disc"]
        opt, opt_d = trainer.optimizers["vqgan"], trainer.optimizers["disc"]
        x = batch.to(trainer.device)
        adv_on = 0 <= disc_start <= trainer.step
        with trainer.autocast():
            rec, idx, commit = vq(x)
            l1 = (rec - x).abs().mean()
            perc = perceptual_loss(perceptual, rec, x) if perceptual is not None and perceptual_weight > 0 else l1.new_zeros(())
            rec_loss = l1 + perceptual_weight * perc
            loss = rec_loss + commit
            logs = {"l1": float(l1.detach()), "perceptual": float(perc.detach()), "commit": float(commit.detach())}
            if adv_on:
                g_loss = adv.g(disc(x), disc(rec))
                lam = adaptive_weight(rec_loss, g_loss, raw.last_layer()) * disc_weight
                loss = loss + lam * g_loss
                logs.update(g_adv=float(g_loss.detach()), adv_weight=float(lam))
        opt.zero_grad(set_to_none=True)
        trainer.backward(loss)
        trainer.optimizer_step("vqgan")
        if adv_on:
            with trainer.autocast():
                d_loss = adv.d(disc(x), disc(rec.detach()))
            opt_d.zero_grad(set_to_none=True)
            trainer.backward(d_loss)
            trainer.optimizer_step("disc")
            logs["d_loss"] = float(d_loss.detach())
        logs.update(codebook_stats(idx.detach(), raw.n_codes))
        logs["loss"] = float(loss.detach())
        return logs

    return step


def perceptual_loss(extractor: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    fa = extractor(a)
    with torch.no_grad():
        fb = extractor(b)
    return sum(F.l1_loss(x, y) for x, y in zip(fa, fb))


def train_vqgan(loop: TrainConfig, task: VQGANTaskConfig) -> Any:
    """Train the tokenizer on ``task.data`` (an image folder or a dataset); the run folder ``loop.out_dir``
    becomes an ``edibert-vqgan`` weights folder. ``loop.lr`` ``None``: the default of :data:`VQGAN_LOOP`.
    Returns the :class:`tryon.train.RunOutcome`."""
    refuse_unsupported(loop, task)
    torch.manual_seed(loop.seed)
    lr = float(loop.lr) if loop.lr is not None else VQGAN_LOOP["lr"]
    pipe = VQGANPipeline(n_codes=task.n_codes, embed_dim=task.embed_dim, ch=task.ch, ch_mult=task.channel_mult(),
                         beta=task.beta, ema_decay=task.ema_decay, dead_code_threshold=task.dead_code_threshold,
                         perceptual_weights=task.perceptual_weights)
    disc = PatchGANDiscriminator(3, n_down=task.disc_layers, base=32, norm="batch")
    perceptual = perceptual_extractor(task.perceptual_weights) if task.perceptual_weight > 0 else None
    if perceptual is not None:
        perceptual.to(loop.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    opt = torch.optim.Adam(pipe.vqgan.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.9))
    info = {"objective": "VQGAN: L1 + perceptual + commitment(beta, EMA codebook) + adaptive PatchGAN after warm-up "
                         "(000 eq. 4.2.2)", "data": str(task.data), "size": list(task.size), "perceptual":
            task.perceptual_weights or "random VGG19 fallback", "disc_start": task.disc_start, "adv_loss": task.adv_loss,
            "settings": {"factor": task.factor, "n_codes": task.n_codes, "ch": task.ch, "perceptual_weight": task.perceptual_weight,
                         "adversarial": task.adversarial}}
    return run(loop, modules={"vqgan": pipe.vqgan, "disc": disc}, optimizers={"vqgan": opt, "disc": opt_d},
               dataset=image_dataset(task.data, task.size), info=info,
               step_fn=vqgan_step(pipe, perceptual, perceptual_weight=task.perceptual_weight, disc_start=task.disc_start,
                                  disc_weight=task.disc_weight, adv_loss=task.adv_loss),
               build_pipeline=lambda trainer, result: pipe)
