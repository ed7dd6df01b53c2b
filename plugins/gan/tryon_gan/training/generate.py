"""``tryon train gan-generate``: GAN training through the core's run protocol (``tryon.train.run``).

* :func:`train_gan`: alternating D / G updates with a loss chosen by name from the core registry
  (``tryon.losses.get_adversarial_loss``): ``nonsaturating`` (004 §1), ``hinge`` (004 §2.2), ``wgan`` (weight
  clipping, Arjovsky et al.; 004 §2), ``wgan-gp`` (GP weight 10, 000 Table A.2), ``san`` (004 §3.3). One
  trainer step = one discriminator update; the generator is updated every ``n_critic`` steps.
* :func:`finetune_discriminator`: a BCE copy of a trained discriminator for the DRS / SIR samplers.

:func:`train_gan` takes ``(TrainConfig, GANTaskConfig)`` (:mod:`.config`) and runs every update through the Trainer
(``autocast`` / ``backward`` / ``optimizer_step``), so ``--precision``, ``--grad-clip``, ``--workers``,
``--cache-data`` and ``--minutes`` are honoured; ``--channels-last`` is refused where nothing is convolutional.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tryon.errors import InputError
from tryon.losses import gradient_penalty, get_adversarial_loss
from tryon.train import TrainConfig, refuse_unsupported, run

from ..data import data_shape, load_data
from ..models import MultiGenerator
from ..pipelines import LOSSES, GanPipeline, latent_dim_of
from .config import GAN_LOOP, GANTaskConfig


def _gan_step(loss: str, gp_weight: float, n_critic: int, clip: float, latent_dim: int, prior: Any = None,
              mi_weight: float = 0.0, mi_steps: int = 0):
    """One GAN step; with ``mi_weight > 0`` both players also minimise ``mi_weight · L_c``,
    ``L_c = −E[ln q(i(z) | G(z))]`` with ``q`` the discriminator's ``mi_head`` and ``i(z)`` the latent's simplicial
    cell (000 App. B.2.3) or, for a DMLGAN generator, the generator that drew it, during the first ``mi_steps``
    steps. A DMLGAN generator's prior ``r = softmax(prior_logits)`` is fitted with the generator's optimiser to the
    head's mean posterior on the real batch, ``−Σ_c E_x[q(c | x)] ln r(c)`` (Khayatkhoei et al. 2018)."""
    adv = get_adversarial_loss("wgan" if loss == "wgan-gp" else loss)

    def draw(G: Any, b: int, dev: Any) -> torch.Tensor:
        if prior is None:
            return torch.randn(b, latent_dim, device=dev)
        seed = int(torch.randint(0, 2**31 - 1, ()).item())  # from the global RNG: checkpointed, so resumable
        if hasattr(prior, "latents"):  # DeliGAN: the latents keep their graph to the learnt means
            return prior.latents(G, b, seed=seed)
        return prior.sample(G, b, seed=seed).latents

    def mi_loss(G: Any, D: Any, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        from ..samplers import simplicial_scores

        labels = G.choice(z.detach()) if isinstance(G, MultiGenerator) else simplicial_scores(z.detach(), G.simplex)[1]
        return torch.nn.functional.cross_entropy(D.mi_head(D.features(x)).float(), labels)

    def prior_loss(G: Any, D: Any, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = torch.softmax(D.mi_head(D.features(real)).float(), 1).mean(0)
        return -(target * torch.log_softmax(G.prior_logits.float(), 0)).sum()

    def step(trainer: Any, batch: torch.Tensor) -> dict[str, float]:
        G, D = trainer.modules["generator"], trainer.modules["discriminator"]
        opt_g, opt_d = trainer.optimizers["generator"], trainer.optimizers["discriminator"]
        real = batch.to(trainer.device)
        z = draw(trainer.unwrap("generator"), real.shape[0], trainer.device)
        with trainer.autocast():
            with torch.no_grad():
                fake = G(z)
            if loss == "san":
                d_loss = adv.d(D.san_outputs(real), D.san_outputs(fake))
            else:
                d_loss = adv.d(D(real), D(fake))
            gp = gradient_penalty(D, real, fake, "wgan-gp") if gp_weight > 0 else None
            total = d_loss + gp_weight * gp if gp is not None else d_loss
            use_mi = mi_weight > 0 and trainer.step < mi_steps
            if use_mi:
                mi_d = mi_loss(trainer.unwrap("generator"), trainer.unwrap("discriminator"), z, fake)
                total = total + mi_weight * mi_d
        opt_d.zero_grad(set_to_none=True)
        trainer.backward(total)
        trainer.optimizer_step("discriminator")
        if clip > 0:  # WGAN weight clipping (Arjovsky et al. 2017)
            with torch.no_grad():
                for p in trainer.unwrap("discriminator").parameters():
                    p.clamp_(-clip, clip)
        logs = {"d_loss": float(d_loss.detach())}
        if gp is not None:
            logs["gp"] = float(gp.detach())
        if use_mi:
            logs["mi_d"] = float(mi_d.detach())
        if trainer.step % n_critic == 0:
            for p in D.parameters():
                p.requires_grad_(False)
            z = draw(trainer.unwrap("generator"), real.shape[0], trainer.device)
            with trainer.autocast():
                x = G(z)
                g_loss = adv.g(None, D(x))
                if use_mi:
                    mi_g = mi_loss(trainer.unwrap("generator"), trainer.unwrap("discriminator"), z, x)
                    g_loss = g_loss + mi_weight * mi_g
                    logs["mi_g"] = float(mi_g.detach())
                    if isinstance(trainer.unwrap("generator"), MultiGenerator):
                        pr = prior_loss(trainer.unwrap("generator"), trainer.unwrap("discriminator"), real)
                        g_loss = g_loss + pr
                        logs["prior"] = float(pr.detach())
            opt_g.zero_grad(set_to_none=True)
            trainer.backward(g_loss)
            trainer.optimizer_step("generator")
            for p in D.parameters():
                p.requires_grad_(True)
            logs["g_loss"] = float(g_loss.detach())
        return logs

    return step


def train_gan(loop: TrainConfig, task: GANTaskConfig) -> tuple[GanPipeline, dict[str, Any]]:
    """Train a GAN on ``task.data`` (a spec for :func:`tryon_gan.data.load_data` or a dataset); the run folder
    ``loop.out_dir`` becomes a ``gan-generate`` weights folder. Defaults follow 000 Table A.2 (batch 32, lr
    2e-4, Adam(.5, .5), GP 10; ``loop.lr`` ``None``: :data:`GAN_LOOP`'s). Returns the trained pipeline and the
    run summary."""
    refuse_unsupported(loop, task)
    loss, n_critic, data = task.loss, int(task.n_critic), task.data
    if loss not in LOSSES:
        raise InputError("--loss", f"one of {', '.join(LOSSES)}", repr(loss))
    if n_critic < 1:
        raise InputError("n_critic", ">= 1", str(n_critic))
    if data is None:
        raise InputError("GANTaskConfig.data", "a data spec or a dataset", "None")
    seed = int(loop.seed)
    torch.manual_seed(seed)  # the networks below draw their initial weights from the global RNG: a seed means one run
    ds = (load_data(data, n=task.n_data, seed=seed, image_size=task.image_size, channels=task.channels)
          if isinstance(data, (str, Path)) else data)
    kind, shape = data_shape(ds)
    if task.arch == "conv" and kind != "images":
        raise InputError("--arch conv", "image data", f"{kind} of shape {list(shape)}")
    data_scale = task.data_scale
    if data_scale == "auto":  # points: the data's overall std (images are already in [-1, 1])
        data_scale = float(ds.points.std()) if kind == "points" and hasattr(ds, "points") else 1.0
    pipe = GanPipeline(data_shape=list(shape), latent_dim=task.latent_dim, arch=task.arch, hidden=list(task.hidden),
                       disc_hidden=list(task.disc_hidden), activation=task.activation, base=task.base, loss=loss,
                       prior=task.prior, clusters=task.clusters, prior_acceptance=task.prior_acceptance,
                       data_scale=float(data_scale), g_norm=task.g_norm, mi_head=task.mi_weight > 0)
    prior_sampler = pipe.prior_sampler() if task.prior != "gaussian" else None
    mi_steps = int(round(task.mi_fraction * loop.max_steps)) if task.mi_weight > 0 else 0
    gp_w = float(task.gp_weight if task.gp_weight is not None else (10.0 if loss == "wgan-gp" else 0.0))
    clip_v = float(task.clip if task.clip is not None else (0.01 if loss == "wgan" else 0.0))
    lr = float(loop.lr) if loop.lr is not None else GAN_LOOP["lr"]
    lr_d = float(task.lr_d) if task.lr_d else lr
    G, D = pipe.generator, pipe.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=tuple(task.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=tuple(task.betas))
    info = {"objective": f"GAN ({loss})", "data": getattr(ds, "name", str(data)), "data_kind": kind, "loss": loss,
            "gp_weight": gp_w, "clip": clip_v, "n_critic": n_critic, "lr_g": lr, "lr_d": lr_d, "betas": list(task.betas),
            "oracle": bool(getattr(ds, "has_oracle", lambda: False)()), "prior": task.prior,
            "mi_weight": task.mi_weight, "mi_steps": mi_steps}
    if hasattr(ds, "std") and ds.std is not None:
        info["data_std"] = ds.std

    def build(trainer: Any, result: Any) -> GanPipeline:
        return pipe

    outcome = run(loop, modules={"generator": G, "discriminator": D}, optimizers={"generator": opt_g, "discriminator": opt_d},
                  dataset=ds, step_fn=_gan_step(loss, gp_w, n_critic, clip_v, task.latent_dim, prior_sampler,
                                    task.mi_weight, mi_steps), info=info,
                  build_pipeline=build)
    return pipe.eval(), outcome.summary


def finetune_discriminator(gan: GanPipeline, data: Any, *, steps: int = 500, batch_size: int = 256, lr: float = 1e-4,
                           gp_weight: float = 1.0, seed: int = 0) -> torch.nn.Module:
    """A BCE-trained copy of ``gan``'s discriminator for the density-ratio baselines (DRS, SIR; 000 App. C.5:
    fine-tune the end-of-training discriminator with BCE, keeping a gradient penalty). Returns the copy."""
    import copy

    from tryon.losses import nonsaturating_d_loss

    torch.manual_seed(seed)
    D = copy.deepcopy(gan.discriminator).train()
    G = gan.generator.eval()
    ds = load_data(data, seed=seed) if isinstance(data, (str, Path)) else data
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    g = torch.Generator().manual_seed(seed)
    d = latent_dim_of(G)
    for _ in range(int(steps)):
        idx = torch.randint(len(ds), (batch_size,), generator=g)
        real = ds.points[idx] if hasattr(ds, "points") else torch.stack([ds[int(i)] for i in idx])
        with torch.no_grad():
            fake = G(torch.randn(batch_size, d, generator=g))
        loss = nonsaturating_d_loss(D(real), D(fake))
        if gp_weight > 0:
            loss = loss + gp_weight * gradient_penalty(D, real, fake, "wgan-gp")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return D.eval()


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=str)


__all__ = ["finetune_discriminator", "summary_json", "train_gan"]
