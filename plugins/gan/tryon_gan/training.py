"""GAN training and latent-weight training, both through the core's run protocol (``tryon.train.run``).

* :func:`train_gan`: alternating D / G updates with a loss chosen by name from the core registry
  (``tryon.losses.get_adversarial_loss``): ``nonsaturating`` (004 §1), ``hinge`` (004 §2.2), ``wgan`` (weight
  clipping, Arjovsky et al.; 004 §2), ``wgan-gp`` (GP weight 10, 000 Table A.2), ``san`` (004 §3.3). One
  trainer step = one discriminator update; the generator is updated every ``n_critic`` steps.
* :func:`train_latent_weights`: Algorithm 1 of 002 (000 §3.4.3): a critic D_α and w^φ are trained against each
  other with G frozen; w minimises ``−E[w(z)(D(G(z)) − Δ)] + λ1 (E w − 1)² + λ2 E max(0, w − m)²`` with
  Δ = min over the batch of D(G(z)) (detached). (Algorithm 1 prints "+EMD"; (3.4.6) maximises the reward, so the
  loss minimised here has −EMD — seeds-gan §10 item 7.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tryon.errors import InputError
from tryon.losses import gradient_penalty, get_adversarial_loss
from tryon.train import TrainConfig, run

from .data import data_shape, load_data
from .pipeline import LOSSES, GanPipeline, LatentWeightsPipeline, latent_dim_of


def _gan_step(loss: str, gp_weight: float, n_critic: int, clip: float, latent_dim: int, prior: Any = None):
    adv = get_adversarial_loss("wgan" if loss == "wgan-gp" else loss)

    def draw(G: Any, b: int, dev: Any) -> torch.Tensor:
        if prior is None:
            return torch.randn(b, latent_dim, device=dev)
        seed = int(torch.randint(0, 2**31 - 1, ()).item())  # from the global RNG: checkpointed, so resumable
        return prior.sample(G, b, seed=seed).latents

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
        if trainer.step % n_critic == 0:
            for p in D.parameters():
                p.requires_grad_(False)
            z = draw(trainer.unwrap("generator"), real.shape[0], trainer.device)
            with trainer.autocast():
                g_loss = adv.g(None, D(G(z)))
            opt_g.zero_grad(set_to_none=True)
            trainer.backward(g_loss)
            trainer.optimizer_step("generator")
            for p in D.parameters():
                p.requires_grad_(True)
            logs["g_loss"] = float(g_loss.detach())
        return logs

    return step


def train_gan(data: Any, out: str | Path, *, loss: str = "wgan-gp", steps: int = 2000, batch_size: int = 32,
              latent_dim: int = 2, arch: str = "mlp", hidden: tuple[int, ...] = (20, 20), disc_hidden: tuple[int, ...] = (),
              activation: str = "relu", base: int = 16, lr: float = 2e-4, lr_d: float | None = None,
              betas: tuple[float, float] = (0.5, 0.5), n_critic: int = 1, gp_weight: float | None = None,
              clip: float | None = None, seed: int = 0, device: Any = "cpu", resume: bool = True, log_every: int = 100,
              ckpt_every: int = 1000, progress: bool = True, n_data: int = 50_000, image_size: int | None = None,
              channels: int | None = None, prior: str = "gaussian", clusters: int = 0, prior_acceptance: float = 0.5,
              data_scale: float | str = "auto", config: TrainConfig | None = None) -> tuple[GanPipeline, dict[str, Any]]:
    """Train a GAN on ``data`` (a spec for :func:`tryon_gan.data.load_data` or a dataset); the run folder ``out``
    becomes a ``gan-generate`` weights folder. Defaults follow 000 Table A.2 (batch 32, lr 2e-4, Adam(.5, .5),
    GP 10). Returns the trained pipeline and the run summary."""
    if loss not in LOSSES:
        raise InputError("--loss", f"one of {', '.join(LOSSES)}", repr(loss))
    if n_critic < 1:
        raise InputError("n_critic", ">= 1", str(n_critic))
    ds = load_data(data, n=n_data, seed=seed, image_size=image_size, channels=channels) if isinstance(data, (str, Path)) else data
    kind, shape = data_shape(ds)
    if arch == "conv" and kind != "images":
        raise InputError("--arch conv", "image data", f"{kind} of shape {list(shape)}")
    if data_scale == "auto":  # points: the data's overall std (images are already in [-1, 1])
        data_scale = float(ds.points.std()) if kind == "points" and hasattr(ds, "points") else 1.0
    pipe = GanPipeline(data_shape=list(shape), latent_dim=latent_dim, arch=arch, hidden=list(hidden),
                       disc_hidden=list(disc_hidden), activation=activation, base=base, loss=loss, prior=prior,
                       clusters=clusters, prior_acceptance=prior_acceptance, data_scale=float(data_scale))
    prior_sampler = pipe.prior_sampler() if prior != "gaussian" else None
    gp_w = float(gp_weight if gp_weight is not None else (10.0 if loss == "wgan-gp" else 0.0))
    clip_v = float(clip if clip is not None else (0.01 if loss == "wgan" else 0.0))
    G, D = pipe.generator, pipe.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d or lr, betas=betas)
    cfg = config or TrainConfig(out_dir=str(out), max_steps=int(steps), batch_size=int(batch_size), seed=int(seed), lr=lr,
                                log_every=int(log_every), ckpt_every=int(ckpt_every), device=device, progress=progress,
                                tensorboard=False)
    info = {"objective": f"GAN ({loss})", "data": getattr(ds, "name", str(data)), "data_kind": kind, "loss": loss,
            "gp_weight": gp_w, "clip": clip_v, "n_critic": n_critic, "lr_g": lr, "lr_d": lr_d or lr, "betas": list(betas),
            "oracle": bool(getattr(ds, "has_oracle", lambda: False)()), "prior": prior}
    if hasattr(ds, "std") and ds.std is not None:
        info["data_std"] = ds.std

    def build(trainer: Any, result: Any) -> GanPipeline:
        return pipe

    outcome = run(cfg, modules={"generator": G, "discriminator": D}, optimizers={"generator": opt_g, "discriminator": opt_d},
                  dataset=ds, step_fn=_gan_step(loss, gp_w, n_critic, clip_v, latent_dim, prior_sampler), info=info,
                  build_pipeline=build, resume=resume)
    return pipe.eval(), outcome.summary


def _weights_step(generator: torch.nn.Module, latent_dim: int, lambda1: float, lambda2: float, m: float,
                  gp_weight: float, n_critic: int):
    def step(trainer: Any, batch: torch.Tensor) -> dict[str, float]:
        W, D = trainer.modules["weight_net"], trainer.modules["critic"]
        opt_w, opt_d = trainer.optimizers["weight_net"], trainer.optimizers["critic"]
        real = batch.to(trainer.device)
        b = real.shape[0]
        # critic: maximise E_real D − E_z w(z) D(G(z)) (000 eq. 3.4.5), with a gradient penalty
        z = torch.randn(b, latent_dim, device=trainer.device)
        with torch.no_grad():
            fake, w = generator(z), W(z)
        emd = D(real).mean() - (w * D(fake)).mean()
        gp = gradient_penalty(D, real, fake, "wgan-gp")
        opt_d.zero_grad(set_to_none=True)
        trainer.backward(-emd + gp_weight * gp)
        trainer.optimizer_step("critic")
        logs = {"critic_emd": float(emd.detach()), "gp": float(gp.detach())}
        if trainer.step % n_critic == 0:
            z = torch.randn(b, latent_dim, device=trainer.device)
            with torch.no_grad():
                score = D(generator(z))
                delta = score.min()
            w = W(z)
            reward = (w * (score - delta)).mean()
            r_norm = (w.mean() - 1.0) ** 2
            r_clip = torch.relu(w - m).pow(2).mean()
            loss = -reward + lambda1 * r_norm + lambda2 * r_clip
            opt_w.zero_grad(set_to_none=True)
            trainer.backward(loss)
            trainer.optimizer_step("weight_net")
            logs.update({"w_reward": float(reward.detach()), "w_mean": float(w.detach().mean()),
                         "w_max": float(w.detach().max()), "r_norm": float(r_norm.detach()), "r_clip": float(r_clip.detach())})
        return logs

    return step


def train_latent_weights(generator_run: Any, data: Any, out: str | Path, *, steps: int = 2000, batch_size: int = 256,
                         lambda1: float = 10.0, lambda2: float = 3.0, m: float = 3.0, hidden: int = 0, layers: int = 4,
                         lr_d: float = 4e-4, lr_w: float = 1e-4, betas: tuple[float, float] = (0.5, 0.5),
                         n_critic: int = 1, gp_weight: float = 10.0, critic_hidden: tuple[int, ...] = (128, 128),
                         seed: int = 0, device: Any = "cpu", resume: bool = True, log_every: int = 100,
                         ckpt_every: int = 1000, progress: bool = True, n_data: int = 50_000
                         ) -> tuple[LatentWeightsPipeline, dict[str, Any]]:
    """Algorithm 1 of 002 (000 §3.4.3) for the frozen generator of ``generator_run`` (a run folder or a
    :class:`GanPipeline`). Defaults: λ1 = 10, λ2 = 3, m = 3, lr D 4e-4, lr w 1e-4, Adam(.5, .5), w:D = 1:1
    (000 App. C.5, MNIST row). The critic is an MLP (points) or the GAN's conv discriminator shape (images)."""
    import tryon

    from .models import ConvDiscriminator, MLPDiscriminator

    gan = tryon.load("gan-generate", weights=generator_run, device="cpu") if not isinstance(generator_run, GanPipeline) else generator_run
    G = gan.generator.to(device).eval()
    for p in G.parameters():
        p.requires_grad_(False)
    d = latent_dim_of(G)
    ds = load_data(data, n=n_data, seed=seed) if isinstance(data, (str, Path)) else data
    kind, shape = data_shape(ds)
    if list(shape) != list(gan.config["data_shape"]):
        raise InputError("data", f"shape {gan.config['data_shape']} (the generator's output)", f"{list(shape)}")
    pipe = LatentWeightsPipeline(latent_dim=d, hidden=hidden, layers=layers, m=m)
    if kind == "points":
        critic: torch.nn.Module = MLPDiscriminator(shape, critic_hidden, "lrelu")
    else:
        critic = ConvDiscriminator(shape[1], shape[0], 2 * gan.config["base"])
    opt_w = torch.optim.Adam(pipe.weight_net.parameters(), lr=lr_w, betas=betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr_d, betas=betas)
    cfg = TrainConfig(out_dir=str(out), max_steps=int(steps), batch_size=int(batch_size), seed=int(seed), lr=lr_w,
                      log_every=int(log_every), ckpt_every=int(ckpt_every), device=device, progress=progress,
                      tensorboard=False)
    info = {"objective": "latent importance weights (002 Alg. 1)", "generator": str(generator_run) if not isinstance(
        generator_run, GanPipeline) else "in-memory", "data": getattr(ds, "name", str(data)), "lambda1": lambda1,
        "lambda2": lambda2, "m": m, "lr_d": lr_d, "lr_w": lr_w, "n_critic": n_critic, "gp_weight": gp_weight}
    outcome = run(cfg, modules={"weight_net": pipe.weight_net, "critic": critic},
                  optimizers={"weight_net": opt_w, "critic": opt_d}, dataset=ds,
                  step_fn=_weights_step(G, d, lambda1, lambda2, m, gp_weight, n_critic), info=info,
                  build_pipeline=lambda t, r: pipe, resume=resume)
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


__all__ = ["train_gan", "train_latent_weights", "finetune_discriminator", "summary_json"]
