"""S-WUTON distillation (000 §4.3.3.3, eq. 4.3.7–4.3.10, App. E.1).

The frozen teacher pipeline ``{h, T-WUTON}`` builds synthetic triplets ``{(p_a, c_b), p̃_b}``:
``(p̃_b, θ) = T-WUTON(h(p_a), c_b)``. The student — the *same* :class:`tryon_wuton.models.WUTON`
architecture — takes the **unmasked** person ``p_a`` and the garment ``c_b`` of another sample:
``(p̂_b, φ) = S-WUTON(p_a, c_b)`` and minimises

* ``L_warp = ‖T_φ(c_b) − T_θ(c_b)‖₁`` (eq. 4.3.7),
* ``L_perceptual = Σ_i ‖φ_i(p̂_b) − φ_i(p̃_b)‖₁`` (eq. 4.3.8), ``L1 = ‖p̂_b − p̃_b‖₁`` (eq. 4.3.9),
* ``L_adv``: its own relativistic average adversarial loss with gradient penalty (R1 by default, as the
  teacher's), independent of the teacher:
  real = dataset persons ``p_a``, fake = student outputs ``p̂_b``;

``L = λ_w L_warp + λ_p L_perceptual + λ_L1 L1 + λ_adv L_adv`` (eq. 4.3.10), λ = 1; ``lambda_adv=0`` is the
ablation of 000 Table 4.5 (plain teacher-student, no discriminator). Adam β = (0.5, 0.999), batch 8, lr 1e-3
(same reading of App. E.1 as :mod:`tryon_wuton.training.teacher`).

**Initialisation.** 000 does not say how S-WUTON is initialised ("exact same architecture than T-WUTON but
different inputs and ground-truth"). Starting from the teacher's generator weights is *our* choice, for
speed (the student starts from a network that already warps and composes garments); it is the default and
``init_from_teacher=False`` (``--no-init-from-teacher``) starts from random weights.

**Teacher targets** are computed on the fly with the frozen teacher, or cached in ``cache_teacher`` (one
safetensors file per ``(person index, garment index)``: the target image in float16 and θ, written atomically,
so an interrupted run resumes with the entries it has; a ``cache_meta.json`` ties the cache to the teacher
weights and resolution). The teacher's ``p*`` comes from its own trained parser (000: ``T-WUTON(h(p_a), c_b)``);
a teacher pipeline whose parser was never trained falls back to the dataset's parse maps (logged, recorded).

CLI: ``tryon train wuton-student --teacher TEACHER_RUN --data DIR --out RUN [--amp] [--grad-clip X]``. Every
update (discriminator, then student) goes through the :class:`tryon.train.Trainer` (``autocast``,
``backward``, ``optimizer_step``) and the run through :func:`tryon.train.run`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tryon.fs import atomic_write_json, sha256_file
from tryon.train import frozen

from ..agnostic import make_agnostic
from .batches import UnpairedDataset
from .config import STUDENT_LOOP, STUDENT_LR, StudentConfig, StudentTaskConfig  # noqa: F401 - re-exported
from .objectives import build_perceptual, discriminator_update, generator_total
from .teacher import ADAM_BETAS, open_category_split, unpaired_within_categories

log = logging.getLogger("tryon_wuton.training.student")


# ------------------------------------------------------------------------------------------------
# teacher targets (+ cache)
# ------------------------------------------------------------------------------------------------
class TeacherTargets:
    """Frozen ``{h, T-WUTON}``: ``(p̃_b, θ)`` for ``(p_a, c_b)``, optionally cached on disk.

    ``teacher`` is a :class:`tryon_wuton.pipelines.WutonTeacherPipeline`. ``use_parser`` (default: whether
    the teacher's parser was trained) picks ``h(p_a)`` from the teacher's parser, else the batch's parse map.
    """

    def __init__(self, teacher: Any, cache_dir: str | os.PathLike | None = None, use_parser: bool | None = None,
                 teacher_id: str = ""):
        self.teacher = teacher
        self.generator = teacher.generator.eval()
        self.parser = teacher.parser.eval()
        for p in list(self.generator.parameters()) + list(self.parser.parameters()):
            p.requires_grad_(False)
        self.use_parser = bool(teacher.config.get("parser_trained")) if use_parser is None else bool(use_parser)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.hits = 0
        self.misses = 0
        if self.cache_dir is not None:
            self._check_cache(teacher_id)

    @property
    def parse_source(self) -> str:
        return "teacher parser h(p_a)" if self.use_parser else "dataset parse maps (teacher parser untrained)"

    def _check_cache(self, teacher_id: str) -> None:
        from tryon.errors import TryonError

        assert self.cache_dir is not None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        meta = {"teacher": teacher_id, "size": list(self.teacher.size), "parse_source": self.parse_source, "format": 1}
        path = self.cache_dir / "cache_meta.json"
        if path.exists():
            old = json.loads(path.read_text())
            if old != meta:
                raise TryonError(f"teacher cache {self.cache_dir} was written for {old}, not {meta}: "
                                 "use another --cache-teacher folder")
        else:
            atomic_write_json(path, meta)

    def to(self, device: Any) -> "TeacherTargets":
        self.generator.to(device)
        self.parser.to(device)
        return self

    def _entry(self, index: int, garment_index: int) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{int(index):06d}_{int(garment_index):06d}.safetensors"

    @torch.no_grad()
    def compute(self, person: torch.Tensor, garment_b: torch.Tensor,
                parse: torch.Tensor | None = None, category: Any = "upper") -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher outputs ``(p̃_b, θ)`` for a batch (no cache); ``category``: one name or one per item (p*)."""
        if self.use_parser or parse is None:
            parse = self.parser(person).argmax(1)
        p_star = make_agnostic(person, parse, category if category is not None else "upper")
        image, theta = self.generator(p_star, garment_b)
        return image.float(), theta.float()

    @torch.no_grad()
    def __call__(
        self,
        person: torch.Tensor,
        garment_b: torch.Tensor,
        parse: torch.Tensor | None = None,
        index: Sequence[int] | None = None,
        garment_index: Sequence[int] | None = None,
        category: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache_dir is None or index is None or garment_index is None:
            self.misses += person.shape[0]
            return self.compute(person, garment_b, parse, category)
        from safetensors.torch import load_file, save_file

        b = person.shape[0]
        images: list[torch.Tensor | None] = [None] * b
        thetas: list[torch.Tensor | None] = [None] * b
        missing = []
        for k in range(b):
            path = self._entry(int(index[k]), int(garment_index[k]))
            if path.is_file():
                try:
                    entry = load_file(str(path))
                    images[k], thetas[k] = entry["image"].float(), entry["theta"].float()
                    continue
                except Exception:  # noqa: BLE001 - a damaged entry is recomputed
                    log.warning("teacher cache entry %s unreadable: recomputed", path)
            missing.append(k)
        self.hits += b - len(missing)
        self.misses += len(missing)
        if missing:
            sel = torch.tensor(missing, device=person.device)
            img, th = self.compute(person[sel], garment_b[sel], parse[sel] if parse is not None else None,
                                   [category[k] for k in missing] if category is not None else None)
            for j, k in enumerate(missing):
                # images are stored (and therefore always returned) in float16: half the disk, and the
                # first epoch sees exactly what later epochs read back
                images[k], thetas[k] = img[j].cpu().half().float(), th[j].cpu()
                path = self._entry(int(index[k]), int(garment_index[k]))
                tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
                save_file({"image": images[k].half().contiguous(), "theta": thetas[k].contiguous()}, str(tmp))
                os.replace(tmp, path)
        dev = person.device
        return torch.stack([i.to(dev) for i in images], 0), torch.stack([t.to(dev) for t in thetas], 0)  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------
# objective
# ------------------------------------------------------------------------------------------------
def student_losses(
    student: nn.Module,
    disc: nn.Module | None,
    perceptual: nn.Module,
    person: torch.Tensor,
    garment_b: torch.Tensor,
    target_image: torch.Tensor,
    target_theta: torch.Tensor,
    cfg: StudentConfig,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    unwrapped: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """Generator-side terms of 000 eq. 4.3.10 as tensors (``warp``, ``perceptual``, ``l1``, ``adv``, ``total``).
    ``unwrapped``: the student without its DDP wrapper (``trainer.unwrap``), whose ``warp_garment`` gives
    ``T_φ(c_b)``; defaults to ``student``."""
    image, phi = out if out is not None else student(person, garment_b)
    core = unwrapped if unwrapped is not None else student
    with torch.no_grad():
        target_warp = core.warp_garment(garment_b, target_theta)
    losses = {
        "warp": F.l1_loss(core.warp_garment(garment_b, phi), target_warp),
        "perceptual": perceptual(image, target_image),
        "l1": F.l1_loss(image, target_image),
    }
    return generator_total(losses, cfg, disc, person, image if cfg.lambda_adv > 0 else None)


class StudentStep:
    """``step_fn`` for S-WUTON: teacher targets → discriminator update (if ``lambda_adv > 0``) → student update.

    Teacher targets are computed in full precision (they are cached); the student's and the discriminator's
    forwards run in ``trainer.autocast()`` and their updates go through ``trainer.backward`` /
    ``trainer.optimizer_step`` (AMP, gradient clipping)."""

    def __init__(self, cfg: StudentConfig, perceptual: nn.Module, targets: TeacherTargets):
        self.cfg = cfg
        self.perceptual = perceptual
        self.targets = targets
        self._device: Any = None

    def __call__(self, trainer: Any, batch: dict[str, Any]) -> dict[str, float]:
        device = trainer.device
        if self._device != str(device):
            self.perceptual.to(device)
            self.targets.to(device)
            self._device = str(device)
        S = trainer.modules["student"]
        D = trainer.modules.get("discriminator") if self.cfg.lambda_adv > 0 else None
        person = batch["person"].to(device).float()
        garment_b = batch["garment_b"].to(device).float()
        parse = batch["parse"].to(device).long() if "parse" in batch else None
        if parse is not None and parse.dim() == 4:
            parse = parse[:, 0]
        idx = batch.get("index")
        gidx = batch.get("garment_index")
        target_image, target_theta = self.targets(
            person, garment_b, parse,
            idx.tolist() if torch.is_tensor(idx) else idx,
            gidx.tolist() if torch.is_tensor(gidx) else gidx,
            batch.get("category"),
        )
        S.train()
        with trainer.autocast():
            out = S(person, garment_b)
        logs: dict[str, float] = {}
        if D is not None:
            logs.update(discriminator_update(trainer, person, out[0], self.cfg.gp_weight, self.cfg.gp_kind,
                                             gp_every=self.cfg.gp_every))
        trainer.optimizers["student"].zero_grad(set_to_none=True)
        critic = trainer.unwrap("discriminator") if D is not None and self.cfg.frozen_critic else D
        with frozen(critic if self.cfg.frozen_critic else None):
            with trainer.autocast():
                losses = student_losses(S, critic, self.perceptual, person, garment_b, target_image, target_theta,
                                        self.cfg, out, unwrapped=trainer.unwrap("student"))
            trainer.backward(losses["total"])
        trainer.optimizer_step("student")
        logs.update({k: float(v.detach()) for k, v in losses.items()})
        return logs


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------
def load_teacher_run(teacher_run: str | os.PathLike) -> Any:
    from ..pipelines import WutonTeacherPipeline

    return WutonTeacherPipeline.from_pretrained(teacher_run)


def distill_student(loop: Any, task: StudentTaskConfig) -> dict[str, Any]:
    """Distil S-WUTON from the teacher run ``task.teacher_run`` on ``task.data``; save ``wuton-student`` into
    ``loop.out_dir`` (``train_info.json``, logs, checkpoints with the discriminator, the pipeline weights).

    ``loop``: the :class:`tryon.train.TrainConfig` (``lr`` ``None``: :data:`STUDENT_LR`; the CLI's defaults are
    :data:`STUDENT_LOOP`, the teacher's speed options); ``task``: a :class:`StudentTaskConfig`."""
    from tryon.errors import InputError
    from tryon.train import refuse_unsupported, run

    from ..models import WUTON, build_discriminator
    from ..pipelines import WutonStudentPipeline

    refuse_unsupported(loop, task)
    for name in ("teacher_run", "data"):
        if getattr(task, name) is None:
            raise InputError(f"StudentTaskConfig.{name}", "a folder", "None")
    teacher_run = task.teacher_run
    teacher = load_teacher_run(teacher_run)
    tsize = tuple(teacher.size)
    if task.size is not None and tuple(int(s) for s in task.size) != tsize:
        raise InputError("--size", f"the teacher's resolution {tsize[0]}x{tsize[1]} (or leave it out)",
                         f"{task.size[0]}x{task.size[1]}")
    lr = float(loop.lr) if loop.lr is not None else STUDENT_LR
    gen_file = Path(teacher_run) / "generator.safetensors"
    teacher_id = f"{Path(teacher_run).resolve()}#{sha256_file(gen_file)[:16]}" if gen_file.is_file() else str(teacher_run)
    if task.categories:  # the cache is keyed by item index: a filtered set numbers its items differently
        teacher_id += f"#categories={task.categories}"
    targets = TeacherTargets(teacher, cache_dir=task.cache_teacher, teacher_id=teacher_id)
    parser_for_features = teacher.parser if teacher.config.get("parser_trained") else None
    perceptual, perceptual_desc = build_perceptual(task.vgg_weights, parser_for_features)
    torch.manual_seed(loop.seed)
    student = WUTON(size=tsize, depths=teacher.generator.depths, grid_size=teacher.generator.grid_size,
                    plain_ends=teacher.generator.plain_ends)
    if task.init_from_teacher:
        student.load_state_dict(teacher.generator.state_dict())
    modules: dict[str, nn.Module] = {"student": student}
    optimizers: dict[str, Any] = {"student": torch.optim.Adam(student.parameters(), lr=lr, betas=ADAM_BETAS)}
    if task.lambda_adv > 0:
        D = build_discriminator()
        modules["discriminator"] = D
        optimizers["discriminator"] = torch.optim.Adam(D.parameters(), lr=lr, betas=ADAM_BETAS)
    base = open_category_split(task.data, "train", tsize, task.categories)
    dataset = unpaired_within_categories(UnpairedDataset(base, pairs_per_person=task.pairs_per_person, seed=loop.seed),
                                         base, loop.seed)
    # filled when training ends: the dict itself (not a copy) reaches the provenance tryon.train.run gives
    # the pipeline, so the cache figures of this call are saved in config.json ("training.teacher_cache")
    cache_use: dict[str, int] = {}
    info = {
        **asdict(task), "objective": "S-WUTON distillation (000 eq. 4.3.7-4.3.10)",
        "teacher": str(teacher_run), "data": str(task.data), "steps": int(loop.max_steps),
        "batch_size": int(loop.batch_size), "lr": lr, "adam_betas": list(ADAM_BETAS), "seed": int(loop.seed),
        "teacher_parse_source": targets.parse_source,
        "cache_teacher": str(task.cache_teacher) if task.cache_teacher else None,
        "perceptual_features": perceptual_desc, "teacher_cache": cache_use,
        "trained_categories": sorted(set(base.categories)),
    }
    info.pop("teacher_run", None)

    def build_pipeline(trainer: Any, result: Any) -> WutonStudentPipeline:
        S = trainer.unwrap("student")
        cache_use.update(hits=targets.hits, misses=targets.misses)
        pipe = WutonStudentPipeline(size=list(tsize), depths=list(S.depths), grid_size=S.grid_size,
                                    plain_ends=S.plain_ends)
        pipe.generator = S.cpu().eval()
        return pipe

    outcome = run(loop, modules=modules, optimizers=optimizers, dataset=dataset,
                  step_fn=StudentStep(task, perceptual, targets), info=info, build_pipeline=build_pipeline)
    return {**outcome.summary, "perceptual_features": perceptual_desc,
            "teacher_cache": {"hits": targets.hits, "misses": targets.misses}}


__all__ = ["STUDENT_LOOP", "STUDENT_LR", "StudentConfig", "StudentStep", "StudentTaskConfig", "TeacherTargets",
           "distill_student", "load_teacher_run", "student_losses"]
