"""Every WUTON training step goes through the core Trainer (one training path, AMP and gradient clipping):
parser, teacher (discriminator + generator) and student (discriminator + student) updates are run through a
real :class:`tryon.train.Trainer` with ``grad_clip`` set and watched with spies."""

from __future__ import annotations

import math

import pytest
import torch

from tryon.losses import PerceptualLoss
from tryon.train import Trainer

SIZE = (64, 48)
DEPTHS = [8, 16, 32, 64, 128]  # half-width networks: the plumbing is under test, not the model
CLIP = 1e-3  # far below the natural gradient norms, so clipping always acts


def _build(kind: str, tiny_features, seed: int = 0):
    """``(modules, optimizers, step_fn)`` for one kind of WUTON training step."""
    from tryon_wuton.models import WUTON, build_discriminator

    torch.manual_seed(seed)
    if kind == "parser":
        from tryon_wuton.data.labels import NUM_CANONICAL
        from tryon_wuton.parsing import HumanParser
        from tryon_wuton.training.parser import parser_step

        parser = HumanParser(NUM_CANONICAL, decoder_channels=(32, 16, 16, 8, 8))
        return {"parser": parser}, {"parser": torch.optim.Adam(parser.parameters(), lr=1e-3)}, parser_step
    name = "generator" if kind == "teacher" else "student"
    G, D = WUTON(size=SIZE, depths=DEPTHS), build_discriminator(base=8)
    modules = {name: G, "discriminator": D}
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for k, m in modules.items()}
    if kind == "teacher":
        from tryon_wuton.training.teacher import TeacherConfig, TeacherStep

        return modules, optimizers, TeacherStep(TeacherConfig(adv="unpaired"), PerceptualLoss(tiny_features))
    from tryon_wuton.pipelines import WutonTeacherPipeline
    from tryon_wuton.training.student import StudentConfig, StudentStep, TeacherTargets

    targets = TeacherTargets(WutonTeacherPipeline(size=SIZE, depths=DEPTHS), use_parser=False)
    return modules, optimizers, StudentStep(StudentConfig(lambda_adv=1.0), PerceptualLoss(tiny_features), targets)


class _Spy:
    """Counts ``Trainer.autocast`` / ``backward`` / ``clip`` calls and records every optimiser step: which
    optimiser, whether it ran inside ``Trainer.optimizer_step``, and the gradient norm it stepped with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.autocast = self.backward = 0
        self.clip_norms: list[float] = []
        self.steps: list[tuple[str, str | None, float]] = []
        self._inside: str | None = None
        orig = {k: getattr(Trainer, k) for k in ("autocast", "backward", "clip", "optimizer_step")}

        def autocast(trainer):
            self.autocast += 1
            return orig["autocast"](trainer)

        def backward(trainer, loss):
            self.backward += 1
            return orig["backward"](trainer, loss)

        def clip(trainer, params, optimizer=None):
            norm = orig["clip"](trainer, params, optimizer)
            self.clip_norms.append(norm)
            return norm

        def optimizer_step(trainer, optimizer, clip=True):
            self._inside = optimizer if isinstance(optimizer, str) else "?"
            try:
                return orig["optimizer_step"](trainer, optimizer, clip)
            finally:
                self._inside = None

        spies = {"autocast": autocast, "backward": backward, "clip": clip, "optimizer_step": optimizer_step}
        for name, fn in spies.items():
            monkeypatch.setattr(Trainer, name, fn)

    def watch(self, optimizers: dict) -> None:
        for name, opt in optimizers.items():
            def pre_step(optimizer, args, kwargs, name=name):
                grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
                norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
                self.steps.append((name, self._inside, norm))

            opt.register_step_pre_hook(pre_step)


@pytest.mark.parametrize("kind", ["parser", "teacher", "student"])
def test_every_update_goes_through_the_trainer_and_is_clipped(kind, batch, tiny_features, make_trainer,
                                                             monkeypatch) -> None:
    batch = {k: v[:2] for k, v in batch.items()}
    modules, optimizers, step = _build(kind, tiny_features)
    trainer = make_trainer(modules, optimizers, grad_clip=CLIP)
    spy = _Spy(monkeypatch)
    spy.watch(optimizers)
    logs = step(trainer, batch)
    assert all(math.isfinite(v) for v in logs.values())
    stepped = [name for name, _, _ in spy.steps]
    assert sorted(stepped) == sorted(optimizers)  # each optimiser stepped once (D first for the GANs)
    if kind != "parser":
        assert stepped[0] == "discriminator"
    for name, inside, norm in spy.steps:
        assert inside == name, f"{name} stepped outside Trainer.optimizer_step"
        # clipped to CLIP up to the fp32 rounding of the recomputed norm: measured at most 1.6e-7 relative above it
        # (AVX2; 4.7e-8 on SSE4.1), 600x inside the 1e-4 slack -- an unclipped step is > 10x CLIP
        assert norm <= CLIP * (1 + 1e-4), f"{name}: stepped with gradient norm {norm}, clip {CLIP}"
    assert len(spy.clip_norms) == len(optimizers) and min(spy.clip_norms) > 10 * CLIP  # clipping did act
    assert spy.backward == len(optimizers)
    assert spy.autocast >= len(optimizers)  # forwards of every update run under trainer.autocast()


def test_without_grad_clip_nothing_is_clipped(batch, tiny_features, make_trainer, monkeypatch) -> None:
    batch = {k: v[:2] for k, v in batch.items()}
    modules, optimizers, step = _build("parser", tiny_features)
    trainer = make_trainer(modules, optimizers)
    spy = _Spy(monkeypatch)
    spy.watch(optimizers)
    step(trainer, batch)
    assert spy.clip_norms == [] and min(norm for _, _, norm in spy.steps) > 10 * CLIP


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_real_amp_on_cuda(kind, batch, tiny_features, make_trainer) -> None:
    """With ``amp=True`` on CUDA the forwards run in float16 and the updates go through the GradScaler."""
    modules, optimizers, step = _build(kind, tiny_features)
    trainer = make_trainer(modules, optimizers, device="cuda", amp=True, grad_clip=1.0)
    assert trainer.amp and trainer.scaler is not None
    name = "generator" if kind == "teacher" else "student"
    dtypes = []
    trainer.unwrap(name).decoder.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    before = [p.detach().clone() for p in trainer.unwrap(name).parameters()]
    for _ in range(3):
        logs = step(trainer, batch)
        trainer.scaler.update()
        assert all(math.isfinite(v) for v in logs.values()), logs
    assert dtypes and all(d == torch.float16 for d in dtypes)
    moved = [not torch.equal(a, b) for a, b in zip(before, trainer.unwrap(name).parameters())]
    assert any(moved)
