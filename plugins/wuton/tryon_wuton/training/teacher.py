"""T-WUTON training (000 §4.3.3.2, eq. 4.3.4–4.3.6, App. E.1 and E.3).

Per step, with a batch of persons ``p_a`` wearing garments ``c_a`` and garments ``c_b`` of other samples:

* inputs ``(p*_a, c_a)`` and ``(p*_a, c_b)`` → ``(p̃_a, θ_a)`` and ``(p̃_b, θ_b)`` (one generator forward on
  the concatenated batch);
* ``L_warp = ‖T_θa(c_a) − c_a,p‖₁`` (eq. 4.3.4), ``c_a,p`` = the worn garment isolated by the parse map
  (upper-garment labels; everything else set to white, the background of the flat garment);
* ``L1 = ‖p̃_a − p_a‖₁`` and ``L_perceptual = Σ_i ‖φ_i(p̃_a) − φ_i(p_a)‖₁`` (eq. 4.3.5);
* ``L_adv``: relativistic average adversarial loss with a gradient penalty (zero-centred R1 by default,
  :data:`GP_KIND`) on the **unpaired** output ``p̃_b`` against real persons ``p_a`` (default;
  ``adv="paired"`` uses ``p̃_a``, ``adv="none"`` drops it — the ablations of 000 Table E.1);
* ``L = λ_w L_warp + λ_p L_perceptual + λ_L1 L1 + λ_adv L_adv`` with all λ = 1 (eq. 4.3.6, App. E.1),
  trained end to end: the image losses also train the geometric matcher, unless ``end_to_end=False``
  (ablation "not end-to-end": θ is detached for the image losses, the matcher learns from ``L_warp`` only).

**Optimiser.** Adam, β = (0.5, 0.999), batch 8 (App. E.1). The learning rate is printed as "10e-3" in App.
E.1, which literally is 1e-2 but is the common mis-writing of 10⁻³. **We use 1e-3** (:data:`TEACHER_LR`):
"10e-3" for 10⁻³ is a frequent idiom, and 1e-2 is an unusually high Adam rate for an adversarially trained
U-Net. Measured on our synthetic data (64×48, batch 8, 150 steps, unpaired adversarial loss, random-VGG
perceptual features, seed 0; mean of the first → last 30 steps): at **1e-3** L_warp 0.172 → 0.082, L1
0.431 → 0.341, L_perceptual 0.266 → 0.220, no divergence; at **1e-2** nothing diverges (no NaN) but
training stalls: L_warp 0.173 → 0.134, L1 0.450 → 0.477 (0.534 over steps 30–60), L_perceptual
0.276 → 0.280. ``--lr`` overrides it.

**Perceptual features.** VGG-19 (000 eq. 4.3.5) from ``vgg_weights`` (a local torchvision state dict). No
weights are downloaded, so without them we use a documented fallback: the encoder of the trained human
parser (5 maps, strides 2…32) when a parser run is given — features trained on in-domain persons, cheaper
than VGG — else a randomly initialised VGG-19 (a fixed random multi-scale feature loss). The choice is
logged and recorded as ``training.perceptual_features`` in the run's ``config.json`` (and in ``train_info.json``).

The teacher is trained on the dataset's parse maps (ground truth) to build ``p*`` and ``c_a,p``; the saved
``wuton-teacher`` pipeline uses the trained parser (``--parser RUN``) at inference.

CLI: ``tryon train wuton-teacher --data DIR --out RUN [--parser PARSER_RUN] [--amp] [--grad-clip X]``. Every
update (discriminator, then generator) goes through the :class:`tryon.train.Trainer` (``autocast``,
``backward``, ``optimizer_step``) and the run through :func:`tryon.train.run`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tryon.train import frozen

from .batches import UnpairedDataset, batch_tensors, cached_base, open_split, require_parse
from .objectives import build_perceptual, discriminator_update

log = logging.getLogger("tryon_wuton.training.teacher")

#: Default Adam learning rate (App. E.1 prints "10e-3"; see the module docstring for the choice of 1e-3).
TEACHER_LR = 1e-3
ADAM_BETAS = (0.5, 0.999)
#: Speed defaults of ``train_teacher`` / ``distill_student`` (measured by
#: ``benchmarks/wuton_train_speed.py``; none changes the objective): the lazy gradient penalty period
#: (StyleGAN2 practice, penalty weight scaled by it), the autocast precision, NHWC memory format, and
#: in-memory caching of the decoded dataset items.
GP_EVERY = 4
#: Form of the gradient penalty. 000 §4.3.3.2 says "relativistic adversarial loss with gradient penalty" and no
#: more; 000 ch. 3 credits gradient regularisation (Mescheder et al., 2018) with stabilising GAN training. We use
#: the zero-centred R1 penalty ``gp_weight · E‖∇D(x_real)‖²`` of Mescheder et al.: measured at 128×96, batch 8,
#: 150 steps, λadv = 1, the one-centred WGAN-GP penalty (``"wgan-gp"``, the default before) keeps the critic's
#: input gradients at norm 1, so the adversarial term outweighs the mean-reduced L1 by orders of magnitude per
#: pixel and wrecks the image (held-out paired L1 0.25-0.27, colour blobs and a cross-hatch texture; it also
#: undid a good reconstruction within 150 steps when switched on late), while R1 trains next to the
#: reconstruction terms (paired L1 0.148, SSIM 0.668; docs/benchmarks.md).
GP_KIND = "r1"
PRECISION = "fp32"
CHANNELS_LAST = True
CACHE_DATA = True


def check_gp_kind(kind: str) -> None:
    """Refuse a gradient-penalty form that :func:`tryon.losses.gradient_penalty` does not compute, when the
    config is built rather than at the first discriminator step."""
    from tryon.losses import GRADIENT_PENALTY_KINDS

    if kind not in GRADIENT_PENALTY_KINDS:
        raise ValueError(f"gp_kind: expected one of {GRADIENT_PENALTY_KINDS}, got {kind!r}")


def resolve_precision(precision: str | None, amp: bool) -> str | None:
    """The ``TrainConfig.precision`` of a run: the one asked for; else ``None`` (``amp`` / ``amp_dtype`` decide)
    when ``amp`` is on; else :data:`PRECISION`."""
    if precision is not None:
        return precision
    return None if amp else PRECISION


@dataclass
class TeacherConfig:
    """Hyper-parameters of the teacher objective (000 eq. 4.3.6, App. E.1, ablations App. E.3)."""

    adv: str = "unpaired"  # "unpaired" (000 §4.3.3.2) | "paired" | "none"
    end_to_end: bool = True
    lambda_warp: float = 1.0
    lambda_perceptual: float = 1.0
    lambda_l1: float = 1.0
    lambda_adv: float = 1.0
    gp_weight: float = 10.0  # not given in 000 (measured with R1: see GP_KIND)
    gp_kind: str = GP_KIND
    gp_every: int = 1  # lazy gradient penalty: every k steps with weight k * gp_weight (train_teacher: GP_EVERY)
    # the generator update sees a fixed critic (tryon.train.frozen): same gradients for the generator, no
    # wasted weight gradients for the discriminator (False: the path before, kept for the speed benchmark)
    frozen_critic: bool = True

    def __post_init__(self) -> None:
        if self.adv not in ("none", "paired", "unpaired"):
            raise ValueError(f"adv: expected 'none', 'paired' or 'unpaired', got {self.adv!r}")
        check_gp_kind(self.gp_kind)


def teacher_forward(generator: nn.Module, t: dict[str, torch.Tensor], cfg: TeacherConfig) -> dict[str, torch.Tensor]:
    """One generator forward on ``(p*_a, c_a)`` (+ ``(p*_a, c_b)`` for the unpaired adversarial loss)."""
    p_star, c_a = t["agnostic"], t["garment"]
    b = p_star.shape[0]
    if cfg.adv == "unpaired":
        person_in = torch.cat([p_star, p_star], 0)
        garment_in = torch.cat([c_a, t["garment_b"]], 0)
    else:
        person_in, garment_in = p_star, c_a
    image, theta = generator(person_in, garment_in, detach_theta=not cfg.end_to_end)
    out = {"image_a": image[:b], "theta_a": theta[:b]}
    if cfg.adv == "unpaired":
        out["image_b"], out["theta_b"] = image[b:], theta[b:]
    return out


def generator_losses(
    generator: nn.Module,
    disc: nn.Module | None,
    perceptual: nn.Module,
    t: dict[str, torch.Tensor],
    cfg: TeacherConfig,
    out: dict[str, torch.Tensor] | None = None,
    *,
    unwrapped: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """The generator-side terms of 000 eq. 4.3.6 as tensors: ``warp``, ``l1``, ``perceptual``, ``adv`` and
    ``total`` (weighted sum). ``unwrapped``: the generator without its DDP wrapper (``trainer.unwrap``),
    whose ``warp_garment`` gives ``T_θ(c)``; defaults to ``generator``."""
    from tryon.losses import WeightedSum, relativistic_g_loss

    if out is None:
        out = teacher_forward(generator, t, cfg)
    warped = (unwrapped if unwrapped is not None else generator).warp_garment(t["garment"], out["theta_a"])
    losses = {
        "warp": F.l1_loss(warped, t["worn_garment"]),
        "l1": F.l1_loss(out["image_a"], t["person"]),
        "perceptual": perceptual(out["image_a"], t["person"]),
    }
    if cfg.adv != "none" and disc is not None:
        fake = out["image_b"] if cfg.adv == "unpaired" else out["image_a"]
        with torch.no_grad():
            d_real = disc(t["person"])
        losses["adv"] = relativistic_g_loss(d_real, disc(fake))
    weights = WeightedSum(warp=cfg.lambda_warp, l1=cfg.lambda_l1, perceptual=cfg.lambda_perceptual)
    if "adv" in losses:
        weights.weights["adv"] = cfg.lambda_adv
    losses["total"], _ = weights(**losses)
    return losses


class TeacherStep:
    """``step_fn`` of :class:`tryon.train.Trainer` for T-WUTON: discriminator update, then generator update.

    Modules: ``generator`` (:class:`tryon_wuton.models.WUTON`) and, unless ``adv="none"``, ``discriminator``;
    optimisers of the same names. Forwards run in ``trainer.autocast()``, updates go through
    ``trainer.backward`` / ``trainer.optimizer_step`` (AMP, gradient clipping). Returns the float losses
    (``warp``, ``l1``, ``perceptual``, ``adv``, ``d``, ``gp``, ``total``).
    """

    def __init__(self, cfg: TeacherConfig, perceptual: nn.Module):
        self.cfg = cfg
        self.perceptual = perceptual
        self._device: Any = None

    def __call__(self, trainer: Any, batch: dict[str, Any]) -> dict[str, float]:
        device = trainer.device
        if self._device != str(device):
            self.perceptual.to(device)
            self._device = str(device)
        G = trainer.modules["generator"]
        D = trainer.modules.get("discriminator") if self.cfg.adv != "none" else None
        G.train()
        t = batch_tensors(batch, device)
        with trainer.autocast():
            out = teacher_forward(G, t, self.cfg)
        logs: dict[str, float] = {}
        if D is not None:
            fake = out["image_b"] if self.cfg.adv == "unpaired" else out["image_a"]
            logs.update(discriminator_update(trainer, t["person"], fake, self.cfg.gp_weight, self.cfg.gp_kind,
                                             gp_every=self.cfg.gp_every))
        trainer.optimizers["generator"].zero_grad(set_to_none=True)
        critic = trainer.unwrap("discriminator") if D is not None and self.cfg.frozen_critic else D
        with frozen(critic if self.cfg.frozen_critic else None):
            with trainer.autocast():
                losses = generator_losses(G, critic, self.perceptual, t, self.cfg, out,
                                          unwrapped=trainer.unwrap("generator"))
            trainer.backward(losses["total"])
        trainer.optimizer_step("generator")
        logs.update({k: float(v.detach()) for k, v in losses.items()})
        return logs


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def build_teacher_modules(size: Sequence[int], adv: str, lr: float) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    from ..models import WUTON, build_discriminator

    G = WUTON(size=tuple(size))
    modules: dict[str, nn.Module] = {"generator": G}
    optimizers: dict[str, Any] = {"generator": torch.optim.Adam(G.parameters(), lr=lr, betas=ADAM_BETAS)}
    if adv != "none":
        D = build_discriminator()
        modules["discriminator"] = D
        optimizers["discriminator"] = torch.optim.Adam(D.parameters(), lr=lr, betas=ADAM_BETAS)
    return modules, optimizers


def load_parser_run(parser_run: str | os.PathLike, size: Sequence[int]) -> Any:
    """The ``wuton-parser`` pipeline saved in a parser run (checks its resolution)."""
    from tryon.errors import WeightsError

    from ..pipelines import WutonParserPipeline

    pipe = WutonParserPipeline.from_pretrained(parser_run)
    if tuple(pipe.size) != tuple(size):
        raise WeightsError(f"parser run {parser_run}: trained at {pipe.size[0]}x{pipe.size[1]}, "
                           f"the teacher at {size[0]}x{size[1]}")
    return pipe


def train_teacher(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    parser_run: str | os.PathLike | None = None,
    steps: int = 20000,
    size: Sequence[int] = (256, 192),
    batch_size: int = 8,
    lr: float | None = None,
    vgg_weights: str | os.PathLike | None = None,
    adv: str = "unpaired",
    end_to_end: bool = True,
    gp_weight: float = 10.0,
    gp_every: int = GP_EVERY,
    gp_kind: str = GP_KIND,
    pairs_per_person: int = 4,
    seed: int = 0,
    device: Any = None,
    resume: bool = True,
    log_every: int = 10,
    ckpt_every: int = 200,
    num_workers: int = 0,
    amp: bool = False,
    amp_dtype: str = "float16",
    grad_clip: float | None = None,
    progress: bool = True,
    precision: str | None = None,
    channels_last: bool = CHANNELS_LAST,
    cache_data: bool = CACHE_DATA,
) -> dict[str, Any]:
    """Train T-WUTON on ``data`` and save the ``wuton-teacher`` pipeline into ``out``.

    ``out`` holds ``train_info.json``, the trainer's logs (``metrics.csv``, TensorBoard), checkpoints
    (generator *and* discriminator, resumable) and the final pipeline weights (``config.json``,
    ``generator.safetensors``, ``parser.safetensors``): ``tryon.load("wuton-teacher", weights=out)``.
    ``amp`` (CUDA only), ``grad_clip``, ``precision`` (``None``: :data:`PRECISION`, or ``amp`` / ``amp_dtype``
    when ``amp`` is set) and
    ``channels_last`` are the :class:`tryon.train.TrainConfig` options of the same names; ``cache_data`` keeps
    the decoded persons and garments in memory (:class:`tryon.cached_dataset.CachedDataset`, with
    ``num_workers=0``); ``gp_every`` makes the gradient penalty lazy (see :data:`GP_EVERY`).
    """
    from tryon.train import TrainConfig, run

    from ..pipelines import WutonTeacherPipeline

    out = Path(out)
    size = (int(size[0]), int(size[1]))
    lr = float(lr) if lr is not None else TEACHER_LR
    cfg = TeacherConfig(adv=adv, end_to_end=bool(end_to_end), gp_weight=float(gp_weight), gp_every=int(gp_every),
                        gp_kind=str(gp_kind))
    parser_pipe = load_parser_run(parser_run, size) if parser_run else None
    perceptual, perceptual_desc = build_perceptual(vgg_weights, parser_pipe.parser if parser_pipe else None)
    torch.manual_seed(seed)
    base = open_split(data, "train", size)
    require_parse(base, "the teacher builds p* and c_a,p from them")
    base = cached_base(base, cache_data and int(num_workers) == 0)
    dataset = UnpairedDataset(base, pairs_per_person=pairs_per_person, seed=seed)
    modules, optimizers = build_teacher_modules(size, cfg.adv, lr)
    info = {
        "objective": "T-WUTON (000 eq. 4.3.4-4.3.6)",
        "data": str(data), "steps": int(steps), "batch_size": int(batch_size), "lr": lr, "adam_betas": list(ADAM_BETAS),
        "seed": int(seed), "parse_source": "dataset ground truth",
        "parser_run": str(parser_run) if parser_run else None,
        "perceptual_features": perceptual_desc, **asdict(cfg), "pairs_per_person": int(pairs_per_person),
    }

    def build_pipeline(trainer: Any, result: Any) -> WutonTeacherPipeline:
        G = trainer.unwrap("generator")
        parser_settings = {}
        if parser_pipe is not None:
            parser_settings = {"parser_encoder": parser_pipe.config["encoder"],
                               "num_classes": parser_pipe.config["num_classes"]}
        pipe = WutonTeacherPipeline(size=list(size), depths=list(G.depths), grid_size=G.grid_size,
                                    parser_trained=parser_pipe is not None, plain_ends=G.plain_ends, **parser_settings)
        pipe.generator = G.cpu().eval()
        if parser_pipe is not None:
            pipe.parser = parser_pipe.parser.cpu().eval()
        else:
            log.warning("no --parser: the saved wuton-teacher pipeline has an untrained parser "
                        "(pass agnostic=... at inference or retrain with --parser RUN)")
        return pipe

    loop = TrainConfig(
        out_dir=str(out), max_steps=int(steps), batch_size=int(batch_size), seed=int(seed), lr=lr,
        log_every=int(log_every), ckpt_every=int(ckpt_every), device=device, num_workers=int(num_workers),
        amp=bool(amp), amp_dtype=amp_dtype, grad_clip=grad_clip, progress=bool(progress),
        precision=resolve_precision(precision, amp), channels_last=bool(channels_last),
    )
    outcome = run(loop, modules=modules, optimizers=optimizers, dataset=dataset, step_fn=TeacherStep(cfg, perceptual),
                  info=info, build_pipeline=build_pipeline, resume=resume)
    return {**outcome.summary, "perceptual_features": perceptual_desc}


__all__ = [
    "ADAM_BETAS",
    "CACHE_DATA",
    "CHANNELS_LAST",
    "GP_EVERY",
    "GP_KIND",
    "PRECISION",
    "TEACHER_LR",
    "TeacherConfig",
    "TeacherStep",
    "check_gp_kind",
    "build_teacher_modules",
    "generator_losses",
    "load_parser_run",
    "resolve_precision",
    "teacher_forward",
    "train_teacher",
]
