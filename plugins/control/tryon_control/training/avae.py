"""``tryon train avae-reconstruct``: AVAE training (003 Fig. 3.4) through the core's run protocol (``tryon.train.run``).

Each step, on a batch ``x`` of real data (003 Fig. 3.4, with the authors' details, 003 §3.3.2):

1. **encoder and decoder** on ``L_VAE`` only (003 Eq. 3.5, KL weighted by β): ``z = μ_e(x) + σ ε``,
   ``½‖μ_d(z) − x‖² + β KL`` — no gradient of the generator's losses ever reaches the encoder;
2. **critic** on ``L_C`` (003 Eq. 3.9) between ``x`` and ``x_fake = G(z_f, ξ)``, ``z_f, ξ ∼ N(0, I)``;
3. **generator** on ``L_Z + L_M``: the latent loss ``L_Z^a`` (003 Eq. 3.8) or ``L_Z^b`` (003 Eq. 3.12) of
   ``μ_e(x_fake)`` against ``z_f`` — the gradient flows *through* the encoder into G, the encoder's weights are
   frozen (:func:`tryon.train.frozen`) and it runs in inference mode (batch-norm running statistics, the encoder a
   real image meets) — plus the manifold loss ``logit C(x_fake)`` (003 Eq. 3.11) through the frozen critic.

The thesis computes all forward passes first and then updates the four networks; here the critic is updated
before the generator's step uses it (the usual alternation of GAN training), and ``x_fake`` is generated once per
step for both updates. ``objective="vae"`` runs step 1 alone, ``"gan"`` steps 2–3 with ``L_M`` alone (the GAN row of
003 Table 3.1: the same generator and critic; the authors' code uses ``−d_fake``, i.e. ``logit C(fake)``);
``"vaegan"`` and ``"bigan"`` are the hybrid baselines of the same table, their steps in :mod:`.baselines`.

:func:`train_avae` takes ``(TrainConfig, AvaeTaskConfig)`` (:mod:`.config`) and runs every update through the
Trainer (``autocast`` / ``backward`` / ``optimizer_step``), so ``--precision``, ``--grad-clip``, ``--workers``,
``--cache-data`` and ``--minutes`` are honoured; the run folder is an ``avae-reconstruct`` weights folder that
``avae-generate`` loads too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tryon.errors import InputError
from tryon.train import TrainConfig, frozen, refuse_unsupported, run

from ..data import DigitsImages, data_shape, load_data
from ..losses import critic_loss, latent_loss, manifold_loss, vae_loss
from ..pipelines import AvaeReconstructPipeline
from .baselines import bigan_step, vaegan_step
from .config import AVAE_LOOP, AvaeTaskConfig

#: the networks each objective trains
TRAINED = {"avae": ("encoder", "decoder", "generator", "critic"), "vae": ("encoder", "decoder"), "gan": ("generator", "critic"),
           "vaegan": ("encoder", "decoder", "critic"), "bigan": ("encoder", "generator", "critic")}


def vae_update(trainer: Any, x: Tensor, beta: float) -> dict[str, float]:
    """Step 1: encoder and decoder on ``L_VAE`` (003 Eq. 3.5 with β), one reparameterised sample."""
    E, D = trainer.modules["encoder"], trainer.modules["decoder"]
    log_sigma = trainer.unwrap("encoder").log_sigma
    with trainer.autocast():
        mu = E(x)
        z = mu + log_sigma.exp() * torch.randn_like(mu)
        total, logs = vae_loss(D(z), x, mu, log_sigma, beta)
    for name in ("encoder", "decoder"):
        trainer.optimizers[name].zero_grad(set_to_none=True)
    trainer.backward(total)
    trainer.optimizer_step("encoder")
    trainer.optimizer_step("decoder")
    logs["sigma"] = float(log_sigma.detach().exp().mean())
    return logs


def critic_update(trainer: Any, x_real: Tensor, x_fake: Tensor) -> dict[str, float]:
    """Step 2: the critic on ``L_C`` (003 Eq. 3.9); ``x_fake`` is detached here."""
    C = trainer.modules["critic"]
    with trainer.autocast():
        c_real, c_fake = C(x_real), C(x_fake.detach())
        loss = critic_loss(c_real, c_fake)
    trainer.optimizers["critic"].zero_grad(set_to_none=True)
    trainer.backward(loss)
    trainer.optimizer_step("critic")
    return {"l_c": float(loss.detach()), "c_real": float(c_real.detach().float().mean()),
            "c_fake": float(c_fake.detach().float().mean())}


def generator_update(trainer: Any, z: Tensor, x_fake: Tensor, kind: str | None) -> dict[str, float]:
    """Step 3: the generator on ``L_Z + L_M`` (``kind`` ``"a"`` / ``"b"``; ``None``: ``L_M`` alone, the GAN).

    ``x_fake = G(z, ξ)`` must still carry its graph to the generator. The encoder and the critic are frozen (their
    weights get no gradient, so no optimiser can move them) but differentiable: ``∂L_Z/∂θ_g`` goes through μ_e.
    The encoder runs in inference mode (batch norm on its running statistics), so its statistics are not updated by
    generated images either."""
    enc, crit = trainer.unwrap("encoder") if kind else None, trainer.unwrap("critic")
    logs: dict[str, float] = {}
    was_training = enc.training if enc is not None else False
    with frozen(enc, crit):
        if enc is not None:
            enc.eval()
        try:
            with trainer.autocast():
                l_m = manifold_loss(crit(x_fake))
                total = l_m
                if enc is not None:
                    l_z = latent_loss(enc(x_fake), z, enc.log_sigma, kind)
                    total = l_z + l_m
                    logs["l_z"] = float(l_z.detach())
            trainer.optimizers["generator"].zero_grad(set_to_none=True)
            trainer.backward(total)
        finally:
            if enc is not None:
                enc.train(was_training)
    trainer.optimizer_step("generator")
    logs["l_m"] = float(l_m.detach())
    return logs


def avae_step(objective: str, kind: str, beta: float, latent_dim: int, noise_dim: int):
    """The ``step_fn`` of 003 Fig. 3.4 (module doc) for ``objective`` ``avae``, ``vae`` or ``gan``."""

    def step(trainer: Any, batch: Tensor) -> dict[str, float]:
        x = batch.to(trainer.device)
        logs: dict[str, float] = {}
        if objective in ("avae", "vae"):
            logs.update(vae_update(trainer, x, beta))
        if objective in ("avae", "gan"):
            b = x.shape[0]
            z = torch.randn(b, latent_dim, device=x.device)  # the global RNG: checkpointed, so resumable
            xi = torch.randn(b, noise_dim, device=x.device) if noise_dim else None
            with trainer.autocast():
                x_fake = trainer.modules["generator"](z, xi)
            logs.update(critic_update(trainer, x, x_fake))
            logs.update(generator_update(trainer, z, x_fake, kind if objective == "avae" else None))
        return logs

    return step


def train_avae(loop: TrainConfig, task: AvaeTaskConfig) -> tuple[AvaeReconstructPipeline, dict[str, Any]]:
    """Train an AVAE (or a baseline of 003 Table 3.1: VAE, GAN, VAE/GAN, BiGAN) on ``task.data``; the run folder ``loop.out_dir`` becomes an
    ``avae-reconstruct`` weights folder (also loadable as ``avae-generate``). Adam(0.5, 0.999), lr ``loop.lr``
    (``None``: 2e-4, :data:`AVAE_LOOP`) for every network. Returns the trained pipeline and the run summary."""
    refuse_unsupported(loop, task)
    if task.data is None:
        raise InputError("AvaeTaskConfig.data", "a data spec or a dataset", "None")
    if int(task.latent_dim) < 1:
        raise InputError("--latent-dim", ">= 1", str(task.latent_dim))
    seed = int(loop.seed)
    torch.manual_seed(seed)  # the networks below draw their initial weights from the global RNG
    ds = load_data(task.data, size=tuple(task.size), channels=task.channels, seed=seed)
    kind, shape = data_shape(ds)
    arch = task.resolved_arch()
    if (arch == "conv") != (kind == "images"):
        raise InputError(f"--arch {arch}", "image data" if arch == "conv" else "points (the toy)", f"{kind} of shape {list(shape)}")
    noise_dim = int(task.latent_dim) if task.xi else 0
    scale = [float(v) for v in getattr(ds, "scale", ())] if kind == "points" else []
    pipe = AvaeReconstructPipeline(data_shape=list(shape), arch=arch, latent_dim=int(task.latent_dim), noise_dim=noise_dim,
                                   width=int(task.width), hidden=int(task.hidden),
                                   data_scale=scale or None,
                                   beta=float(task.beta), latent_loss=task.latent_loss, objective=task.objective,
                                   letterbox_fill=-1.0 if isinstance(ds, DigitsImages) else 1.0)
    lr = float(loop.lr) if loop.lr is not None else AVAE_LOOP["lr"]
    names = TRAINED[task.objective]
    modules = {n: getattr(pipe, n) for n in names}
    optimizers = {n: torch.optim.Adam(m.parameters(), lr=lr, betas=tuple(task.betas)) for n, m in modules.items()}
    info = {"objective": {"avae": f"AVAE (003 Fig. 3.4), L_Z^{task.latent_loss} + L_M", "vae": "VAE (003 Eq. 3.5)",
                          "gan": "GAN on L_M = logit C(fake) (003 Table 3.1's GAN row)",
                          "vaegan": f"VAE/GAN (Larsen 2016), gamma {task.gamma:g}", "bigan": "BiGAN (Donahue 2017)"}[task.objective],
            "model": task.objective, "data": getattr(ds, "name", str(task.data)), "data_kind": kind, "arch": arch,
            "latent_loss": task.latent_loss, "xi": bool(task.xi), "beta": float(task.beta), "gamma": float(task.gamma), "lr": lr,
            "betas": list(task.betas)}
    if task.objective == "vaegan":
        step = vaegan_step(float(task.beta), float(task.gamma), int(task.latent_dim))
    elif task.objective == "bigan":
        step = bigan_step(int(task.latent_dim), noise_dim)
    else:
        step = avae_step(task.objective, task.latent_loss, float(task.beta), int(task.latent_dim), noise_dim)
    outcome = run(loop, modules=modules, optimizers=optimizers, dataset=ds, step_fn=step, info=info,
                  build_pipeline=lambda trainer, result: pipe.eval())
    return pipe.eval(), outcome.summary


__all__ = ["TRAINED", "avae_step", "critic_update", "generator_update", "train_avae", "vae_update"]
