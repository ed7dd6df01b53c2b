"""``tryon train gan-latent-weights``: latent importance weights through the core's run protocol.

:func:`train_latent_weights`: Algorithm 1 of 002 (000 §3.4.3): a critic D_α and w^φ are trained against each
other with G frozen; w minimises ``−E[w(z)(D(G(z)) − Δ)] + λ1 (E w − 1)² + λ2 E max(0, w − m)²`` with
Δ = min over the batch of D(G(z)) (detached). (Algorithm 1 prints "+EMD"; (3.4.6) maximises the reward, so the
loss minimised here has −EMD — seeds-gan §10 item 7.)

It takes ``(TrainConfig, LatentWeightsTaskConfig)`` (:mod:`.config`) and runs every update through the Trainer;
``--channels-last`` is refused for a generator of points (MLP weight net and critic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tryon.errors import InputError
from tryon.losses import gradient_penalty
from tryon.train import TrainConfig, refuse_unsupported, run

from ..data import data_shape, load_data
from ..pipelines import GanPipeline, LatentWeightsPipeline, latent_dim_of
from .config import WEIGHTS_LOOP, LatentWeightsTaskConfig


def _weights_step(generator: torch.nn.Module, latent_dim: int, lambda1: float, lambda2: float, m: float,
                  gp_weight: float, n_critic: int):
    def step(trainer: Any, batch: torch.Tensor) -> dict[str, float]:
        W, D = trainer.modules["weight_net"], trainer.modules["critic"]
        opt_w, opt_d = trainer.optimizers["weight_net"], trainer.optimizers["critic"]
        generator.to(trainer.device)  # frozen, not a trained module: follows the trainer's device (no-op after)
        real = batch.to(trainer.device)
        b = real.shape[0]
        # critic: maximise E_real D − E_z w(z) D(G(z)) (000 eq. 3.4.5), with a gradient penalty
        z = torch.randn(b, latent_dim, device=trainer.device)
        with trainer.autocast():
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
            with trainer.autocast():
                with torch.no_grad():
                    score = D(generator(z)).float()
                    delta = score.min()
                w = W(z).float()
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


def train_latent_weights(loop: TrainConfig, task: LatentWeightsTaskConfig) -> tuple[LatentWeightsPipeline, dict[str, Any]]:
    """Algorithm 1 of 002 (000 §3.4.3) for the frozen generator of ``task.generator_run`` (a run folder or a
    :class:`GanPipeline`) on ``task.data`` (default: the data the generator was trained on). Defaults: λ1 = 10,
    λ2 = 3, m = 3, lr D 4e-4, lr w 1e-4 (``loop.lr``; ``None``: :data:`WEIGHTS_LOOP`'s), Adam(.5, .5), w:D = 1:1
    (000 App. C.5, MNIST row). The critic is an MLP (points) or the GAN's conv discriminator shape (images)."""
    import tryon

    from ..models import ConvDiscriminator, MLPDiscriminator

    refuse_unsupported(loop, task)
    torch.manual_seed(int(loop.seed))  # the weight net and critic draw their initial weights from the global RNG
    generator_run, data = task.generator_run, task.data
    if data is None:
        data = task.generator_config().get("training", {}).get("data")
        if not data:
            raise InputError("--data", "a data spec (the generator run records none)", "nothing")
    gan = tryon.load("gan-generate", weights=generator_run, device="cpu") if not isinstance(generator_run, GanPipeline) else generator_run
    G = gan.generator.eval()
    for p in G.parameters():
        p.requires_grad_(False)
    d = latent_dim_of(G)
    seed = int(loop.seed)
    ds = load_data(data, n=task.n_data, seed=seed) if isinstance(data, (str, Path)) else data
    kind, shape = data_shape(ds)
    if list(shape) != list(gan.config["data_shape"]):
        raise InputError("data", f"shape {gan.config['data_shape']} (the generator's output)", f"{list(shape)}")
    pipe = LatentWeightsPipeline(latent_dim=d, hidden=task.hidden, layers=task.layers, m=task.m)
    if kind == "points":
        critic: torch.nn.Module = MLPDiscriminator(shape, tuple(task.critic_hidden), "lrelu")
    else:
        critic = ConvDiscriminator(shape[1], shape[0], 2 * gan.config["base"])
    lr_w = float(loop.lr) if loop.lr is not None else WEIGHTS_LOOP["lr"]
    opt_w = torch.optim.Adam(pipe.weight_net.parameters(), lr=lr_w, betas=tuple(task.betas))
    opt_d = torch.optim.Adam(critic.parameters(), lr=task.lr_d, betas=tuple(task.betas))
    info = {"objective": "latent importance weights (002 Alg. 1)", "generator": str(generator_run) if not isinstance(
        generator_run, GanPipeline) else "in-memory", "data": getattr(ds, "name", str(data)), "lambda1": task.lambda1,
        "lambda2": task.lambda2, "m": task.m, "lr_d": task.lr_d, "lr_w": lr_w, "n_critic": task.n_critic,
        "gp_weight": task.gp_weight}
    outcome = run(loop, modules={"weight_net": pipe.weight_net, "critic": critic},
                  optimizers={"weight_net": opt_w, "critic": opt_d}, dataset=ds,
                  step_fn=_weights_step(G, d, task.lambda1, task.lambda2, task.m, task.gp_weight, task.n_critic), info=info,
                  build_pipeline=lambda t, r: pipe)
    return pipe.eval(), outcome.summary


__all__ = ["train_latent_weights"]
