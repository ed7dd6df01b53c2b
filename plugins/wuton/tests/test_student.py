"""S-WUTON distillation (000 §4.3.3.3, eq. 4.3.7–4.3.10): losses, teacher cache, λ_adv ablation, one run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from tryon.errors import TryonError
from tryon.losses import PerceptualLoss
from tryon_wuton.models import WUTON, build_discriminator
from tryon_wuton.pipelines import WutonTeacherPipeline
from tryon_wuton.training.objectives import discriminator_loss
from tryon_wuton.training.student import StudentConfig, StudentStep, TeacherTargets, student_losses
from tryon_wuton.training.teacher import ADAM_BETAS

SIZE = (64, 48)


def _teacher(seed: int = 0) -> WutonTeacherPipeline:
    """A teacher whose matcher predicts a non-zero θ (a fresh one predicts θ = 0, the identity)."""
    torch.manual_seed(seed)
    pipe = WutonTeacherPipeline(size=SIZE)
    with torch.no_grad():
        pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.3)
    return pipe.eval()


def _trainer(make_trainer, lambda_adv: float, seed: int = 0, lr: float = 1e-3):
    """A CPU Trainer over a fresh student (and discriminator when ``lambda_adv > 0``)."""
    torch.manual_seed(seed)
    S = WUTON(size=SIZE)
    modules = {"student": S}
    opts = {"student": torch.optim.Adam(S.parameters(), lr=lr, betas=ADAM_BETAS)}
    if lambda_adv > 0:
        D = build_discriminator(base=16)
        modules["discriminator"] = D
        opts["discriminator"] = torch.optim.Adam(D.parameters(), lr=lr, betas=ADAM_BETAS)
    return make_trainer(modules, opts)


def test_distillation_steps_lower_warp_l1_and_perceptual(batch: dict, tiny_features: nn.Module, make_trainer) -> None:
    """A randomly initialised student on one fixed batch (lr 3e-3 so that θ visibly moves in 25 steps)."""
    teacher = _teacher()
    targets = TeacherTargets(teacher, use_parser=False)
    tr = _trainer(make_trainer, 1.0, lr=3e-3)
    step = StudentStep(StudentConfig(lambda_adv=1.0), PerceptualLoss(tiny_features), targets)
    hist = [step(tr, batch) for _ in range(25)]  # with the checkerboard-free init L1 needs more than 15 steps to fall 10 %
    for key in ("warp", "l1", "perceptual"):
        v = [h[key] for h in hist]
        ratio = np.mean(v[-3:]) / np.mean(v[:3])
        # each loss falls at least 10 % in 25 steps: measured last/first 0.37-0.47 (AVX2), 0.38-0.49 (SSE4.1 kernels)
        assert ratio < 0.9, (key, ratio, v)
    assert {"adv", "d", "gp"} <= set(hist[0])
    # the teacher is frozen: its weights never move
    assert all(not p.requires_grad for p in teacher.generator.parameters())


def test_one_distillation_step_lowers_the_losses_on_its_batch(batch: dict, tiny_features: nn.Module,
                                                               make_trainer) -> None:
    """One StudentStep (λadv = 0: no critic moving underneath) lowers L_warp, L1, perceptual and their sum,
    re-measured on the same batch with the same targets."""
    teacher = _teacher(4)
    targets = TeacherTargets(teacher, use_parser=False)
    tr = _trainer(make_trainer, 0.0, seed=4)
    cfg = StudentConfig(lambda_adv=0.0)
    perc = PerceptualLoss(tiny_features)
    S = tr.modules["student"]
    img_t, theta_t = targets(batch["person"], batch["garment_b"], batch["parse"])

    def measure() -> dict[str, float]:
        with torch.no_grad():
            losses = student_losses(S, None, perc, batch["person"], batch["garment_b"], img_t, theta_t, cfg)
        return {k: float(losses[k]) for k in ("warp", "l1", "perceptual", "total")}

    before = measure()
    StudentStep(cfg, perc, targets)(tr, batch)
    after = measure()
    for key in before:
        assert after[key] < before[key], (key, before, after)


def test_targets_are_the_teacher_outputs_on_the_agnostic_person(batch: dict) -> None:
    from tryon_wuton.agnostic import make_agnostic

    teacher = _teacher(1)
    person, garment_b, parse = batch["person"], batch["garment_b"], batch["parse"]
    img, theta = TeacherTargets(teacher, use_parser=False)(person, garment_b, parse)
    with torch.no_grad():
        ref_img, ref_theta = teacher.generator(make_agnostic(person, parse), garment_b)
    assert torch.allclose(img, ref_img) and torch.allclose(theta, ref_theta)
    assert float(theta.abs().max()) > 0
    # with the teacher's own parser h(p_a) the agnostic person (hence the targets) differ
    img_h, _ = TeacherTargets(teacher, use_parser=True)(person, garment_b, parse)
    assert not torch.allclose(img_h, img)


def test_student_warp_loss_is_eq_4_3_7(batch: dict, tiny_features: nn.Module) -> None:
    teacher = _teacher(2)
    S = WUTON(size=SIZE)
    person, garment_b = batch["person"], batch["garment_b"]
    img_t, theta_t = TeacherTargets(teacher, use_parser=False)(person, garment_b, batch["parse"])
    losses = student_losses(S, None, PerceptualLoss(tiny_features), person, garment_b, img_t, theta_t,
                            StudentConfig(lambda_adv=0))
    with torch.no_grad():
        phi = S(person, garment_b)[1]
        expected = (S.warp_garment(garment_b, phi) - S.warp_garment(garment_b, theta_t)).abs().mean()
    # the same warps and mean recomputed: measured identical (0) on AVX2; rel 1e-5 leaves room for another reduction order
    assert float(losses["warp"]) == pytest.approx(float(expected), rel=1e-5)
    assert "adv" not in losses


def test_teacher_cache_written_atomically_and_reused(batch: dict, tmp_path) -> None:
    teacher = _teacher(3)
    cache = tmp_path / "cache"
    t1 = TeacherTargets(teacher, cache_dir=cache, use_parser=False, teacher_id="t3")
    idx, gidx = batch["index"].tolist(), batch["garment_index"].tolist()
    a_img, a_theta = t1(batch["person"], batch["garment_b"], batch["parse"], idx, gidx)
    files = sorted(p.name for p in cache.glob("*.safetensors"))
    assert files == sorted(f"{i:06d}_{g:06d}.safetensors" for i, g in zip(idx, gidx))
    assert not list(cache.glob(".*tmp*"))  # no temp file left behind
    assert (t1.hits, t1.misses) == (0, 4)
    # a new process (fresh object) reads the entries instead of running the teacher
    t2 = TeacherTargets(teacher, cache_dir=cache, use_parser=False, teacher_id="t3")
    t2.compute = None  # would raise if called
    b_img, b_theta = t2(batch["person"], batch["garment_b"], batch["parse"], idx, gidx)
    assert (t2.hits, t2.misses) == (4, 0)
    assert torch.equal(a_img, b_img) and torch.equal(a_theta, b_theta)
    # a partially filled cache (interrupted run) only computes what is missing
    (cache / files[0]).unlink()
    t3 = TeacherTargets(teacher, cache_dir=cache, use_parser=False, teacher_id="t3")
    c_img, _ = t3(batch["person"], batch["garment_b"], batch["parse"], idx, gidx)
    assert (t3.hits, t3.misses) == (3, 1)
    # recomputed alone (not in a batch of 4), stored in float16: the ~1e-6 fp32 batch-vs-single difference can put a
    # value on the neighbouring fp16 number, one fp16 step (2^-11 = 4.9e-4 below 1) away -- exactly what is measured
    # (AVX2 and SSE4.1). Two steps would need a 5e-4 fp32 difference: 1e-3 is exact by construction
    assert torch.allclose(c_img, a_img, atol=1e-3)
    with pytest.raises(TryonError):  # another teacher must not reuse these targets
        TeacherTargets(teacher, cache_dir=cache, use_parser=False, teacher_id="other")


def test_lambda_adv_zero_is_the_plain_teacher_student_ablation(batch: dict, tiny_features: nn.Module,
                                                               make_trainer) -> None:
    teacher = _teacher(4)
    targets = TeacherTargets(teacher, use_parser=False)
    tr = _trainer(make_trainer, 0.0)
    assert "discriminator" not in tr.modules
    step = StudentStep(StudentConfig(lambda_adv=0.0), PerceptualLoss(tiny_features), targets)
    logs = step(tr, batch)
    assert "adv" not in logs and "d" not in logs
    # fp32 sum of three terms vs the float64 sum of their logged values: measured 0 (AVX2), 5e-8 (SSE4.1); 200x margin
    assert logs["total"] == pytest.approx(logs["warp"] + logs["l1"] + logs["perceptual"], rel=1e-5)


def test_adversarial_loss_uses_real_persons_and_student_outputs(batch: dict, tiny_features: nn.Module,
                                                                make_trainer) -> None:
    """The student's adversarial G loss goes down when only it is optimised against a fixed critic."""
    teacher = _teacher(5)
    img_t, theta_t = TeacherTargets(teacher, use_parser=False)(batch["person"], batch["garment_b"], batch["parse"])
    tr = _trainer(make_trainer, 1.0, seed=5)
    S, D = tr.modules["student"], tr.modules["discriminator"]
    with torch.no_grad():
        fake = S(batch["person"], batch["garment_b"])[0]
    for _ in range(12):  # critic steps first, so that the critic separates real and fake
        tr.optimizers["discriminator"].zero_grad()
        discriminator_loss(D, batch["person"], fake, 10.0)["d_total"].backward()
        tr.optimizers["discriminator"].step()
    D.eval()  # then frozen: only the student moves
    cfg = StudentConfig(lambda_warp=0, lambda_perceptual=0, lambda_l1=0, lambda_adv=1.0)
    perc = PerceptualLoss(tiny_features)
    hist = []
    for _ in range(20):  # against the smoother R1-regularised critic the student needs more than 12 steps
        tr.optimizers["student"].zero_grad()
        losses = student_losses(S, D, perc, batch["person"], batch["garment_b"], img_t, theta_t, cfg)
        losses["total"].backward()
        tr.optimizers["student"].step()
        hist.append(float(losses["adv"].detach()))
    # the adversarial G loss falls at least 15 % against the frozen critic: measured last/first 0.775 (AVX2), 0.768
    # (SSE4.1 kernels) -- a behaviour bound on a 20-step run, not a rounding one
    assert np.mean(hist[-3:]) < 0.85 * np.mean(hist[:3]), hist


def test_distill_student_run(data_dir: str, tmp_path) -> None:
    from tryon.train import TrainConfig
    from tryon_wuton.pipelines import WutonStudentPipeline
    from tryon_wuton.training.student import STUDENT_LOOP, StudentTaskConfig, distill_student

    teacher_dir = _teacher(6).save_pretrained(tmp_path / "teacher")
    out, cache = tmp_path / "student", tmp_path / "cache"
    loop = {**STUDENT_LOOP, "batch_size": 2, "device": "cpu", "progress": False, "log_every": 1, "ckpt_every": 100}
    s = distill_student(TrainConfig(**{**loop, "out_dir": str(out), "max_steps": 2}),
                        StudentTaskConfig(teacher_run=teacher_dir, data=data_dir, cache_teacher=cache, pairs_per_person=1))
    assert s["steps"] == 2 and s["teacher_cache"]["misses"] == 4
    assert len(list(cache.glob("*.safetensors"))) == 4
    manifest = json.loads((out / "config.json").read_text())
    assert manifest["task"] == "wuton-student" and manifest["components"] == ["generator"]
    assert manifest["config"] == {"size": [64, 48], "depths": [16, 32, 64, 128, 256], "grid_size": 5,
                                  "plain_ends": True}
    training = manifest["training"]
    assert training["init_from_teacher"] is True and training["lambda_adv"] == 1.0 and training["steps_done"] == 2
    assert training["teacher_parse_source"].startswith("dataset parse maps")
    assert training["teacher_cache"] == {"hits": 0, "misses": 4}
    assert json.loads((out / "train_info.json").read_text())["teacher"] == str(teacher_dir)
    student = WutonStudentPipeline.from_pretrained(out)
    assert student.size == SIZE
    # the student starts from the teacher's generator (our choice, --no-init-from-teacher to opt out)
    out0 = tmp_path / "student0"
    distill_student(TrainConfig(**{**loop, "out_dir": str(out0), "max_steps": 0}),
                    StudentTaskConfig(teacher_run=teacher_dir, data=data_dir, pairs_per_person=1, lambda_adv=0))
    s0 = WutonStudentPipeline.from_pretrained(out0)
    t = WutonTeacherPipeline.from_pretrained(teacher_dir)
    for (k, a), (_, b) in zip(s0.generator.state_dict().items(), t.generator.state_dict().items()):
        assert torch.equal(a, b), k
