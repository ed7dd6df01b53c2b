"""Training of the VQGAN (000 §4.2.2.1, eq. 4.2.2) and of EdiBERT (000 eq. 4.2.6), both through the core
run protocol (:func:`tryon.train.run`: progress bar, metrics.csv, checkpoints, resume, precision, gradient
clipping, time budget). Each entry point takes ``(TrainConfig, TaskConfig)`` (:mod:`tryon_edibert.config`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tryon.data import ImageFolderDataset
from tryon.losses import get_adversarial_loss
from tryon.nn import PatchGANDiscriminator
from tryon.train import TrainConfig, refuse_unsupported, run

from .config import EDIBERT_LOOP, VQGAN_LOOP, EdiBERTTaskConfig, VQGANTaskConfig
from .editing import perceptual_extractor
from .objective import edibert_loss, perturb
from .pipelines import InpaintPipeline, VQGANPipeline
from .vqgan import adaptive_weight, codebook_stats

__all__ = ["EDIBERT_LOOP", "EdiBERTTaskConfig", "VQGAN_LOOP", "VQGANTaskConfig", "train_vqgan", "train_edibert",
           "vqgan_step", "edibert_step"]


def _dataset(data: Any, size: Sequence[int]) -> Any:
    if isinstance(data, (str, os.PathLike)):
        return ImageFolderDataset(data, size=size, validate=True)
    return data


def vqgan_step(vq_pipe: VQGANPipeline, perceptual: torch.nn.Module | None, *, perceptual_weight: float,
               disc_start: int, disc_weight: float, adv_loss: str = "hinge"):
    """The VQGAN step: ``L1 + λ_p·L_perc + commitment(β) + [step ≥ disc_start] · λ_adapt·disc_weight·L_G``, then
    the discriminator step (PatchGAN, ``adv_loss``) once the adversarial loss is on."""
    adv = get_adversarial_loss(adv_loss)

    def step(trainer: Any, batch: Any) -> dict[str, float]:
        vq = trainer.modules["vqgan"]
        raw = trainer.unwrap("vqgan")
        disc = trainer.modules["disc"]
        opt, opt_d = trainer.optimizers["vqgan"], trainer.optimizers["disc"]
        x = batch.to(trainer.device)
        adv_on = trainer.step >= disc_start
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
            task.perceptual_weights or "random VGG19 fallback", "disc_start": task.disc_start, "adv_loss": task.adv_loss}
    return run(loop, modules={"vqgan": pipe.vqgan, "disc": disc}, optimizers={"vqgan": opt, "disc": opt_d},
               dataset=_dataset(task.data, task.size), info=info,
               step_fn=vqgan_step(pipe, perceptual, perceptual_weight=task.perceptual_weight, disc_start=task.disc_start,
                                  disc_weight=task.disc_weight, adv_loss=task.adv_loss),
               build_pipeline=lambda trainer, result: pipe)


def edibert_step(n_codes: int, p_rand: float, frac: tuple[float, float], vqgan: torch.nn.Module):
    def step(trainer: Any, batch: Any) -> dict[str, float]:
        model = trainer.modules["transformer"]
        x = batch.to(trainer.device)
        vqgan.to(trainer.device)
        with torch.no_grad():
            tokens = vqgan.tokenize(x)
        g = torch.Generator().manual_seed(int(trainer.config.seed) * 1_000_003 + trainer.step)
        corrupted, rect, targets = perturb(tokens, n_codes, p_rand, frac, generator=g)
        with trainer.autocast():
            logits = model(corrupted)
            loss = edibert_loss(logits, targets)
        opt = trainer.optimizers["transformer"]
        opt.zero_grad(set_to_none=True)
        trainer.backward(loss)
        trainer.optimizer_step("transformer")
        with torch.no_grad():
            acc = (logits.argmax(-1)[rect] == tokens[rect]).float().mean()
        return {"loss": float(loss.detach()), "rect_acc": float(acc), "rect_share": float(rect.float().mean())}

    return step


def train_edibert(loop: TrainConfig, task: EdiBERTTaskConfig) -> Any:
    """Train the transformer on the tokens of a trained VQGAN (``task.vqgan_run``, frozen). The run folder
    ``loop.out_dir`` becomes an EdiBERT model folder serving every editing task. AdamW, betas (0.9, 0.95), decay
    ``task.weight_decay`` on matrices (reference); ``loop.lr`` ``None``: the default of :data:`EDIBERT_LOOP`
    (whose gradient clipping at 1.0 the CLI applies). Returns the :class:`tryon.train.RunOutcome`."""
    import tryon

    refuse_unsupported(loop, task)
    vqgan_run = task.vqgan_run
    vq_pipe = tryon.load("edibert-vqgan", weights=vqgan_run, device="cpu")
    vcfg = {k: v for k, v in vq_pipe.config.items()}
    size = task.size
    if size is None:  # the VQGAN's training size, recorded in its run folder
        size = VQGANPipeline.read_config(vqgan_run).get("training", {}).get("size", (256, 256))
    size = tuple(size)
    lr = float(loop.lr) if loop.lr is not None else EDIBERT_LOOP["lr"]
    torch.manual_seed(loop.seed)
    # saved as task edibert-inpaint; the editing tasks share its weights family, so every one of them loads it
    model = InpaintPipeline(**vcfg, width=task.width, layers=task.layers, heads=task.heads, max_grid=list(task.max_grid))
    model.vqgan.load_state_dict(vq_pipe.vqgan.state_dict())
    model.vqgan.eval()
    for p in model.vqgan.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.transformer.param_groups(task.weight_decay), lr=lr, betas=(0.9, 0.95))
    frac = tuple(task.frac)
    info = {"objective": f"EdiBERT: random 2-D rectangle (sides U[{frac[0]}, {frac[1]}] of the grid), "
                         f"p_rand={task.p_rand}, cross-entropy on the rectangle (000 eq. 4.2.6)", "data": str(task.data),
            "vqgan": str(vqgan_run), "size": list(size)}
    return run(loop, modules={"transformer": model.transformer}, optimizers={"transformer": opt},
               dataset=_dataset(task.data, size), info=info,
               step_fn=edibert_step(model.vqgan.n_codes, task.p_rand, frac, model.vqgan),
               build_pipeline=lambda trainer, result: model)
