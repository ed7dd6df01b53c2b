"""T-WUTON training (000 §4.3.3.2, eq. 4.3.4–4.3.6, App. E.1 and E.3).

Per step, with a batch of persons ``p_a`` wearing garments ``c_a`` and garments ``c_b`` of other samples:

* inputs ``(p*_a, c_a)`` and ``(p*_a, c_b)`` → ``(p̃_a, θ_a)`` and ``(p̃_b, θ_b)`` (one generator forward on
  the concatenated batch);
* ``L_warp = ‖T_θa(c_a) − c_a,p‖₁`` (eq. 4.3.4), ``c_a,p`` = the worn garment isolated by the parse map
  (upper-garment labels; everything else set to white, the background of the flat garment);
* ``L1 = ‖p̃_a − p_a‖₁`` and ``L_perceptual = Σ_i ‖φ_i(p̃_a) − φ_i(p_a)‖₁`` (eq. 4.3.5);
* ``L_adv``: relativistic average adversarial loss with gradient penalty on the **unpaired** output ``p̃_b``
  against real persons ``p_a`` (default; ``adv="paired"`` uses ``p̃_a``, ``adv="none"`` drops it —
  the ablations of 000 Table E.1);
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
logged and recorded as ``training.perceptual_features`` in the run's ``config.json``.

The teacher is trained on the dataset's parse maps (ground truth) to build ``p*`` and ``c_a,p``; the saved
``wuton-teacher`` pipeline uses the trained parser (``--parser RUN``) at inference.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tryon._fs import atomic_write_json

log = logging.getLogger("tryon_wuton.teacher")

#: Default Adam learning rate (App. E.1 prints "10e-3"; see the module docstring for the choice of 1e-3).
TEACHER_LR = 1e-3
ADAM_BETAS = (0.5, 0.999)
GARMENT_FILL = 1.0  # white, the background of in-shop garment images (in [-1, 1])


# ------------------------------------------------------------------------------------------------
# data helpers (shared with the parser and the student)
# ------------------------------------------------------------------------------------------------
def open_split(data: Any, split: str, size: Sequence[int]) -> Any:
    """The ``split`` of a dataset folder as a torch dataset of dicts (``person``, ``garment``, ``parse`` …)."""
    from .data import TryOnDataset

    return TryOnDataset(data, split=split, size=tuple(int(s) for s in size))


def require_parse(dataset: Any, purpose: str) -> None:
    """Raise :class:`tryon.errors.DatasetError` when the dataset's items carry no parse map."""
    from tryon.errors import DatasetError

    if len(dataset) == 0 or "parse" not in dataset[0]:
        raise DatasetError(
            f"dataset {getattr(dataset, 'root', '')}".strip(), f"items with parse maps ({purpose})",
            "no parse maps in this layout/split", "use a layout with human parsing (VITON-HD image-parse-v3, VITON, DressCode)",
        )


def upper_garment_mask(parse: torch.Tensor) -> torch.Tensor:
    """``B×1×H×W`` float mask of the worn upper garment (upper-clothes, dress, coat labels)."""
    from .data.labels import UPPER_GARMENT_LABELS

    mask = torch.zeros_like(parse, dtype=torch.bool)
    for lab in UPPER_GARMENT_LABELS:
        mask |= parse == lab
    return mask.unsqueeze(1).float()


def worn_garment(person: torch.Tensor, parse: torch.Tensor, fill: float = GARMENT_FILL) -> torch.Tensor:
    """``c_a,p`` of 000 §4.3.3.2: the garment worn in ``person`` isolated by the parse map, background white."""
    m = upper_garment_mask(parse).to(person.dtype)
    return person * m + fill * (1 - m)


def make_agnostic(person: torch.Tensor, parse: torch.Tensor) -> torch.Tensor:
    """Agnostic person ``p*`` (000 §4.3.3.2) for a ``B×3×H×W`` batch and ``B×H×W`` canonical labels.

    Arms, upper-body cloth and a box around the neck are greyed out (:func:`tryon_wuton.agnostic.agnostic_person`).
    The neck box comes from the parse map only, never from keypoints: the inference pipeline has no pose
    estimator, and training must see the same ``p*`` as inference.
    """
    from .agnostic import agnostic_person

    return agnostic_person(person, parse)[0]


class UnpairedDataset(torch.utils.data.Dataset):
    """Adds an unpaired garment ``c_b`` to each item of a try-on dataset, deterministically.

    Length ``len(base) * pairs_per_person``; item ``j`` is person ``i = j % N`` with the garment of sample
    ``perm_r[i]``, ``r = j // N``, where ``perm_r`` are fixed derangements (no sample keeps its own garment)
    drawn from ``seed``. Items gain ``garment_b``, ``index`` and ``garment_index`` (the keys of the
    student's teacher cache).
    """

    def __init__(self, base: Any, pairs_per_person: int = 1, seed: int = 0):
        self.base = base
        self.n = len(base)
        self.pairs = max(1, int(pairs_per_person))
        rng = np.random.default_rng([int(seed), 7])
        self.partners = [_derangement(self.n, rng) for _ in range(self.pairs)]

    def __len__(self) -> int:
        return self.n * self.pairs

    def __getitem__(self, j: int) -> dict[str, Any]:
        i, r = j % self.n, j // self.n
        g = int(self.partners[r][i])
        item = dict(self.base[i])
        other = self.base[g]
        item["garment_b"] = other["garment"]
        item["index"] = i
        item["garment_index"] = g
        return item


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    if n < 2:
        return np.arange(n)
    perm = rng.permutation(n)
    # a random cyclic shift of a random order has no fixed point: i -> next element in the cycle
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.roll(perm, -1)
    return out


def batch_tensors(batch: dict[str, Any], device: Any) -> dict[str, torch.Tensor]:
    """Move a collated batch to ``device``; add ``agnostic`` (from the ground-truth parse, unless the dataset
    provides it) and ``worn_garment``."""
    dev = torch.device(device)
    person = batch["person"].to(dev).float()
    parse = batch["parse"].to(dev).long()
    if parse.dim() == 4:
        parse = parse[:, 0]
    out = {"person": person, "parse": parse, "garment": batch["garment"].to(dev).float()}
    if "garment_b" in batch:
        out["garment_b"] = batch["garment_b"].to(dev).float()
    if "agnostic" in batch:
        out["agnostic"] = batch["agnostic"].to(dev).float()
    else:
        out["agnostic"] = make_agnostic(person, parse)
    out["worn_garment"] = worn_garment(person, parse)
    return out


# ------------------------------------------------------------------------------------------------
# perceptual features
# ------------------------------------------------------------------------------------------------
class ParserFeatures(nn.Module):
    """Frozen encoder of a trained :class:`tryon_wuton.parser.HumanParser`: 5 maps (strides 2…32)."""

    def __init__(self, parser: nn.Module):
        super().__init__()
        import copy

        self.parser = copy.deepcopy(parser).eval()
        for p in self.parser.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "ParserFeatures":  # always eval (frozen batch-norm statistics)
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.parser.features(x)


def build_perceptual(vgg_weights: str | os.PathLike | None = None, parser: nn.Module | None = None) -> tuple[nn.Module, str]:
    """``(PerceptualLoss, description)``: VGG-19 from ``vgg_weights``; else the parser encoder; else a random
    VGG-19 (see the module docstring). The description is what gets logged and recorded."""
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


# ------------------------------------------------------------------------------------------------
# the objective
# ------------------------------------------------------------------------------------------------
@dataclass
class TeacherConfig:
    """Hyper-parameters of the teacher objective (000 eq. 4.3.6, App. E.1, ablations App. E.3)."""

    adv: str = "unpaired"  # "unpaired" (000 §4.3.3.2) | "paired" | "none"
    end_to_end: bool = True
    lambda_warp: float = 1.0
    lambda_perceptual: float = 1.0
    lambda_l1: float = 1.0
    lambda_adv: float = 1.0
    gp_weight: float = 10.0  # not given in 000; the usual WGAN-GP weight (Gulrajani et al., 2017)
    gp_kind: str = "wgan-gp"

    def __post_init__(self) -> None:
        if self.adv not in ("none", "paired", "unpaired"):
            raise ValueError(f"adv: expected 'none', 'paired' or 'unpaired', got {self.adv!r}")


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


def _core(module: nn.Module) -> nn.Module:
    return getattr(module, "module", module)


def generator_losses(
    generator: nn.Module,
    disc: nn.Module | None,
    perceptual: nn.Module,
    t: dict[str, torch.Tensor],
    cfg: TeacherConfig,
    out: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """The generator-side terms of 000 eq. 4.3.6 as tensors: ``warp``, ``l1``, ``perceptual``, ``adv`` and
    ``total`` (weighted sum)."""
    from tryon.losses import relativistic_g_loss

    if out is None:
        out = teacher_forward(generator, t, cfg)
    warped = _core(generator).warp_garment(t["garment"], out["theta_a"])
    losses = {
        "warp": F.l1_loss(warped, t["worn_garment"]),
        "l1": F.l1_loss(out["image_a"], t["person"]),
        "perceptual": perceptual(out["image_a"], t["person"]),
    }
    total = cfg.lambda_warp * losses["warp"] + cfg.lambda_l1 * losses["l1"] + cfg.lambda_perceptual * losses["perceptual"]
    if cfg.adv != "none" and disc is not None:
        fake = out["image_b"] if cfg.adv == "unpaired" else out["image_a"]
        with torch.no_grad():
            d_real = disc(t["person"])
        losses["adv"] = relativistic_g_loss(d_real, disc(fake))
        total = total + cfg.lambda_adv * losses["adv"]
    losses["total"] = total
    return losses


def discriminator_loss(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, gp_weight: float, gp_kind: str = "wgan-gp") -> dict[str, torch.Tensor]:
    """Relativistic average discriminator loss + gradient penalty (000 §4.3.3.2, App. E.1)."""
    from tryon.losses import gradient_penalty, relativistic_d_loss

    fake = fake.detach()
    d_loss = relativistic_d_loss(disc(real), disc(fake))
    gp = gradient_penalty(disc, real, fake, kind=gp_kind) if gp_weight > 0 else real.new_zeros(())
    return {"d": d_loss, "gp": gp, "d_total": d_loss + gp_weight * gp}


class TeacherStep:
    """``step_fn`` of :class:`tryon.train.Trainer` for T-WUTON: discriminator update, then generator update.

    Modules: ``generator`` (:class:`WUTON`) and, unless ``adv="none"``, ``discriminator``; optimisers of the
    same names. Returns the float losses (``warp``, ``l1``, ``perceptual``, ``adv``, ``d``, ``gp``, ``total``).
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
        out = teacher_forward(G, t, self.cfg)
        logs: dict[str, float] = {}
        if D is not None:
            D.train()
            fake = out["image_b"] if self.cfg.adv == "unpaired" else out["image_a"]
            opt_d = trainer.optimizers["discriminator"]
            opt_d.zero_grad(set_to_none=True)
            dl = discriminator_loss(D, t["person"], fake, self.cfg.gp_weight, self.cfg.gp_kind)
            dl["d_total"].backward()
            opt_d.step()
            logs.update({"d": float(dl["d"].detach()), "gp": float(dl["gp"].detach())})
        opt_g = trainer.optimizers["generator"]
        opt_g.zero_grad(set_to_none=True)
        losses = generator_losses(G, D, self.perceptual, t, self.cfg, out)
        losses["total"].backward()
        opt_g.step()
        logs.update({k: float(v.detach()) for k, v in losses.items()})
        return logs


# ------------------------------------------------------------------------------------------------
# the loop
# ------------------------------------------------------------------------------------------------
def build_teacher_modules(size: Sequence[int], adv: str, lr: float) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    from .models import WUTON, build_discriminator

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

    from .pipelines import WutonParserPipeline

    pipe = WutonParserPipeline.from_pretrained(parser_run)
    if tuple(pipe.size) != tuple(size):
        raise WeightsError(f"parser run {parser_run}: trained at {pipe.size[0]}x{pipe.size[1]}, the teacher at {size[0]}x{size[1]}")
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
    pairs_per_person: int = 4,
    seed: int = 0,
    device: Any = None,
    resume: bool = True,
    log_every: int = 10,
    ckpt_every: int = 200,
    num_workers: int = 0,
) -> dict[str, Any]:
    """Train T-WUTON on ``data`` and save the ``wuton-teacher`` pipeline into ``out``.

    ``out`` holds the trainer's logs (``metrics.csv``, TensorBoard), checkpoints (generator *and*
    discriminator, resumable) and the final pipeline weights (``config.json``, ``generator.safetensors``,
    ``parser.safetensors``): ``tryon.load("wuton-teacher", weights=out)``.
    """
    from .pipelines import WutonTeacherPipeline, save_pipeline_into

    out = Path(out)
    size = (int(size[0]), int(size[1]))
    lr = float(lr) if lr is not None else TEACHER_LR
    cfg = TeacherConfig(adv=adv, end_to_end=bool(end_to_end), gp_weight=float(gp_weight))
    parser_pipe = load_parser_run(parser_run, size) if parser_run else None
    perceptual, perceptual_desc = build_perceptual(vgg_weights, parser_pipe.parser if parser_pipe else None)
    torch.manual_seed(seed)
    base = open_split(data, "train", size)
    require_parse(base, "the teacher builds p* and c_a,p from them")
    dataset = UnpairedDataset(base, pairs_per_person=pairs_per_person, seed=seed)
    modules, optimizers = build_teacher_modules(size, cfg.adv, lr)
    training = {
        "objective": "T-WUTON (000 eq. 4.3.4-4.3.6)",
        "data": str(data), "steps": int(steps), "batch_size": int(batch_size), "lr": lr, "adam_betas": list(ADAM_BETAS),
        "seed": int(seed), "parse_source": "dataset ground truth", "parser_run": str(parser_run) if parser_run else None,
        "perceptual_features": perceptual_desc, **{k: v for k, v in asdict(cfg).items()},
        "pairs_per_person": int(pairs_per_person),
    }
    trainer, result = fit_run(
        out, training, modules, optimizers, dataset, TeacherStep(cfg, perceptual), steps=steps, batch_size=batch_size,
        seed=seed, lr=lr, log_every=log_every, ckpt_every=ckpt_every, device=device, num_workers=num_workers, resume=resume,
    )
    G = _core(trainer.modules["generator"])
    pipe = WutonTeacherPipeline(
        size=list(size),
        parser_encoder=parser_pipe.config["encoder"] if parser_pipe else "resnet18",
        num_classes=parser_pipe.config["num_classes"] if parser_pipe else None,
        depths=list(G.depths), grid_size=G.grid_size, parser_trained=parser_pipe is not None,
        training={**training, "steps_done": int(result.steps)},
    )
    pipe.generator = G.cpu().eval()
    if parser_pipe is not None:
        pipe.parser = parser_pipe.parser.cpu().eval()
    else:
        log.warning("no --parser: the saved wuton-teacher pipeline has an untrained parser "
                    "(pass agnostic=... at inference or retrain with --parser RUN)")
    if trainer.is_main:  # under torchrun only rank 0 writes the pipeline
        save_pipeline_into(pipe, out)
    last = dict(result.last) or (result.history[-1] if result.history else {})
    return {"steps": int(result.steps), "out_dir": str(out), "perceptual_features": perceptual_desc, "last": last}


def fit_run(
    out: Path, training: dict[str, Any] | None, modules: dict[str, nn.Module], optimizers: dict[str, Any], dataset: Any,
    step_fn: Any, *, steps: int, batch_size: int, seed: int, lr: float, log_every: int, ckpt_every: int,
    device: Any, num_workers: int, resume: bool,
) -> tuple[Any, Any]:
    """The run-folder protocol shared by the parser, teacher and student: write ``train_info.json`` (what
    was trained, on what, with which settings; skipped when ``training`` is None), then fit with
    :class:`tryon.train.Trainer` (logs, resumable checkpoints in ``out``). Returns ``(trainer, result)``."""
    from tryon.train import TrainConfig, Trainer

    out.mkdir(parents=True, exist_ok=True)
    if training is not None:
        atomic_write_json(out / "train_info.json", training, default=str)
    tcfg = TrainConfig(
        out_dir=str(out), max_steps=int(steps), batch_size=int(batch_size), seed=int(seed), lr=lr,
        log_every=int(log_every), ckpt_every=int(ckpt_every), device=device, num_workers=int(num_workers),
    )
    trainer = Trainer(tcfg, modules=modules, optimizers=optimizers, dataset=dataset, step_fn=step_fn)
    return trainer, trainer.fit(resume=resume)


__all__ = [
    "TEACHER_LR",
    "ADAM_BETAS",
    "TeacherConfig",
    "TeacherStep",
    "UnpairedDataset",
    "ParserFeatures",
    "build_perceptual",
    "batch_tensors",
    "discriminator_loss",
    "generator_losses",
    "make_agnostic",
    "open_split",
    "require_parse",
    "teacher_forward",
    "train_teacher",
    "upper_garment_mask",
    "worn_garment",
]
