"""``tryon train betavae-edit``: the β-VAE of 003 Table 4.2 on procedural sprites, then its factor directions (003 ch. 4).

1. **The β-VAE** through the core's run protocol (:func:`tryon.train.run`): each step, on a batch ``x`` in [−1, 1],
   ``μ, log σ = E(x)``, ``z = μ + σ ε``, loss ``BCE(D(z), (x + 1)/2) + β′ KL`` (:func:`tryon_control.betavae.betavae_loss`)
   with ``β′ = β·(size/64)²``: the thesis's β values are for 64×64 dSprites, and the BCE sums over the pixels, so at
   32×32 the same β would weigh the KL 4× more (at β = 20 the model collapsed to blank images);
   Adam(lr 5e-4) on both networks (003 §4.4: 1e5 steps of batch 128; the CPU default here: 3000 of batch 64).
2. **Directions** (:func:`learn_direction`), once training is done, for each factor of ``--directions``
   (``x`` → ``shift_x``, ``y`` → ``shift_y``, ``scale`` → ``zoom``; :mod:`tryon.latent.transforms`):

   * ``trajectories`` — 003 Alg. 1 on the generator ``G(z) = 2·sigmoid(D(z)) − 1`` (:func:`tryon.latent.build_trajectories`):
     ``z₀ ∼ N(0, I)`` projected on ‖z‖ ≤ √d, shifts ±{0.1 … 0.5}, masked blurred MSE (σ = 1 px at 32×32, the
     thesis's 3 px at 128×128 scaled down), the worst 10 % final errors rejected;
   * ``encoder`` — the encoder path the thesis allows for a VAE (seeds-control §3.5): real sprites ``I``,
     ``z₀ = μ_e(I)``, ``z_t = μ_e(T_t(I))`` for the same amounts, the worst 10 % (blurred MSE of ``G(z_t)`` against
     ``T_t(I)``, masked) rejected;

   then ``u`` and the monotone ``g`` (101 knots on [−5, 5]) by :func:`tryon.latent.fit_direction` (003 Eq. 4.13).
   The direction is stored in the pipeline (``directions[factor]``: ``u`` and ``g``, saved with the weights).

:func:`train_betavae` takes ``(TrainConfig, BetaVaeTaskConfig)``; the run folder is a weights folder for
``betavae-edit`` and ``betavae-generate``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tryon.errors import InputError
from tryon.train import TrainConfig, refuse_unsupported, run

from ..betavae import DecoderImage, betavae_loss, stride2_layers
from ..betavae_pipelines import BetaVaeEditPipeline
from ..specs import BETAVAE_FACTORS
from ..sprites import SpriteDataset, load_sprites
from .config import BETAVAE_LOOP, BetaVaeTaskConfig

METHODS = ("trajectories", "encoder")


def betavae_step(beta: float):
    """The ``step_fn``: one reparameterised sample, ``BCE + β KL`` (module doc), both networks stepped."""

    def step(trainer: Any, batch: Tensor) -> dict[str, float]:
        x = batch.to(trainer.device)
        E, D = trainer.modules["encoder"], trainer.modules["decoder"]
        with trainer.autocast():
            mu, log_sigma = E(x)
            z = mu + log_sigma.exp() * torch.randn_like(mu)
            total, logs = betavae_loss(D(z), x, mu, log_sigma, beta)
        for name in ("encoder", "decoder"):
            trainer.optimizers[name].zero_grad(set_to_none=True)
        trainer.backward(total)
        trainer.optimizer_step("encoder")
        trainer.optimizer_step("decoder")
        logs["loss"] = float(total.detach())
        return logs

    return step


def amounts_up_to(max_shift: float, step: float = 0.1) -> tuple[float, ...]:
    """``(0.1, 0.2, …, max_shift)``: the positive sub-targets of 003 Alg. 1 (the official code: up to 0.5)."""
    n = int(round(float(max_shift) / step))
    if n < 1:
        raise InputError("--max-shift", f"at least {step}", str(max_shift))
    return tuple(round(step * (k + 1), 6) for k in range(n))


@torch.no_grad()
def encoder_trajectories(pipe: Any, images: Tensor, transform: str, amounts: tuple[float, ...], sigma: float,
                         reject: float = 0.1) -> Any:
    """The encoder path: ``z₀ = μ_e(I)``, ``z_t = μ_e(T_t(I))`` for ``t ∈ ±amounts`` (module doc) as
    :class:`tryon.latent.TrajectoryData`, the worst ``reject`` fraction of reconstruction errors dropped."""
    from tryon.latent import TRANSFORMS, TrajectoryData, blurred_mse

    fn = TRANSFORMS[transform]
    z0 = pipe.encode(images)
    rows: list[tuple[Tensor, Tensor, Tensor]] = []
    for t in [a for a in amounts] + [-a for a in amounts]:
        target, undefined = fn(images, t)
        zt = pipe.encode(target)
        err = blurred_mse(pipe.decode(zt), target, 1 - undefined, sigma=sigma)
        rows.append((zt, torch.full((len(images),), float(t)), err))
    zts, dts, errs = (torch.cat([r[k] for r in rows]) for k in range(3))
    z0s = z0.repeat(len(rows), 1)
    theta = float(torch.quantile(errs, 1 - reject)) if reject > 0 else float("inf")
    keep = errs <= theta
    return TrajectoryData(z0s[keep], zts[keep], dts[keep], errs[keep], int((~keep).sum()), theta)


def learn_direction(pipe: Any, factor: str, *, method: str = "trajectories", dataset: SpriteDataset | None = None,
                    n: int = 64, steps_per_stage: int = 50, max_shift: float = 0.5, sigma: float | None = None,
                    fit_steps: int = 400, seed: int = 0) -> dict[str, float]:
    """Learn the direction of ``factor`` (``x``, ``y``, ``scale``) on the trained ``pipe`` (module doc), store it in
    ``pipe.directions[factor]`` and return what the fit recorded (rows kept, rejected, threshold, MSE).
    ``sigma`` (px): default ``size/32`` (1 px at 32×32). The encoder path needs ``dataset`` (``n`` images drawn)."""
    from tryon.latent import build_trajectories, fit_direction

    if factor not in BETAVAE_FACTORS:
        raise InputError("direction factor", f"one of {', '.join(BETAVAE_FACTORS)}", repr(factor))
    if method not in METHODS:
        raise InputError("direction method", f"one of {', '.join(METHODS)}", repr(method))
    transform = BETAVAE_FACTORS[factor]
    amounts = amounts_up_to(max_shift)
    sigma = float(pipe.config["size"]) / 32 if sigma is None else float(sigma)
    pipe.eval()
    if method == "trajectories":
        generator = DecoderImage(pipe.decoder).eval()
        data = build_trajectories(generator, transform, n=int(n), amounts=amounts, steps_per_stage=int(steps_per_stage),
                                  sigma=sigma, reject=0.1, seed=int(seed))
    else:
        if dataset is None:
            raise InputError("encoder directions", "the training dataset (real images to encode)", "None")
        pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(int(seed)))[: int(n)]
        data = encoder_trajectories(pipe, dataset.images(pick).to(pipe.device), transform, amounts, sigma)
    direction = fit_direction(data, steps=int(fit_steps), seed=int(seed), factor=factor)
    pipe.directions[factor].store(direction)
    return {"method": method, "transform": transform, "rows": len(data), "rejected": int(data.rejected),
            "threshold": float(data.threshold), "fit_mse": float(direction.fit["mse"]), "sigma_px": sigma,
            "amounts": list(amounts), "trajectories": int(n), "steps_per_stage": int(steps_per_stage)}


def _check(task: BetaVaeTaskConfig) -> tuple[str, ...]:
    stride2_layers(int(task.size))
    if int(task.latent_dim) < 1:
        raise InputError("--latent-dim", ">= 1", str(task.latent_dim))
    if not float(task.beta) >= 0:
        raise InputError("--beta", ">= 0", str(task.beta))
    if int(task.beta_reference_size) < 0:
        raise InputError("--beta-reference-size", ">= 0 (0: beta as is)", str(task.beta_reference_size))
    if task.direction_method not in METHODS:
        raise InputError("--direction-method", f"one of {', '.join(METHODS)}", repr(task.direction_method))
    factors = task.factors()
    unknown = [f for f in factors if f not in BETAVAE_FACTORS]
    if unknown:
        raise InputError("--directions", f"'none' or a comma-separated list of {', '.join(BETAVAE_FACTORS)}", repr(task.directions))
    if int(task.trajectories) < 2:
        raise InputError("--trajectories", ">= 2", str(task.trajectories))
    amounts_up_to(task.max_shift)
    return factors


def train_betavae(loop: TrainConfig, task: BetaVaeTaskConfig) -> tuple[BetaVaeEditPipeline, dict[str, Any]]:
    """Train the β-VAE on ``task.data`` and learn ``task.directions`` (module doc); the run folder ``loop.out_dir``
    becomes a ``betavae-edit`` weights folder (also loadable as ``betavae-generate``). Returns the pipeline and the
    run summary (its ``directions``: what each fit recorded)."""
    refuse_unsupported(loop, task)
    factors = _check(task)
    seed = int(loop.seed)
    torch.manual_seed(seed)
    ds = load_sprites(task.data, size=int(task.size), seed=seed)
    if ds.size != int(task.size):
        raise InputError("--size", f"the dataset's size {ds.size}", str(task.size))
    pipe = BetaVaeEditPipeline(size=int(task.size), channels=1, latent_dim=int(task.latent_dim), beta=float(task.beta),
                               directions=list(factors))
    lr = float(loop.lr) if loop.lr is not None else BETAVAE_LOOP["lr"]
    modules = {"encoder": pipe.encoder, "decoder": pipe.decoder}
    optimizers = {n: torch.optim.Adam(m.parameters(), lr=lr) for n, m in modules.items()}
    info = {"objective": "β-VAE (003 Table 4.2): Bernoulli BCE + β KL", "model": "betavae", "data": ds.name,
            "data_settings": ds.settings, "beta": float(task.beta), "kl_weight": task.kl_weight(),
            "beta_reference_size": int(task.beta_reference_size), "lr": lr, "latent_dim": int(task.latent_dim)}
    fits: dict[str, Any] = {}

    def build(trainer: Any, result: Any) -> BetaVaeEditPipeline:
        for k, factor in enumerate(factors):
            fits[factor] = learn_direction(pipe, factor, method=task.direction_method, dataset=ds, n=int(task.trajectories),
                                           steps_per_stage=int(task.inversion_steps), max_shift=float(task.max_shift),
                                           sigma=task.blur_sigma, seed=seed + k)
        pipe.provenance = {"directions": fits}
        return pipe.eval()

    outcome = run(loop, modules=modules, optimizers=optimizers, dataset=ds, step_fn=betavae_step(task.kl_weight()), info=info,
                  build_pipeline=build)
    return pipe.eval(), {**outcome.summary, "directions": fits}


__all__ = ["METHODS", "amounts_up_to", "betavae_step", "encoder_trajectories", "learn_direction", "train_betavae"]
