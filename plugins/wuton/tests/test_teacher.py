"""T-WUTON training (000 §4.3.3.2, eq. 4.3.4–4.3.6, App. E): losses, ablations, one full run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from tryon.losses import PerceptualLoss
from tryon_wuton.models import WUTON, build_discriminator
from tryon_wuton.training.batches import UnpairedDataset, batch_tensors, open_split, worn_garment
from tryon_wuton.training.objectives import discriminator_loss
from tryon_wuton.training.teacher import (
    ADAM_BETAS,
    TEACHER_LR,
    TeacherConfig,
    TeacherStep,
    generator_losses,
    teacher_forward,
)

SIZE = (64, 48)


def _trainer(make_trainer, adv: str, lr: float = TEACHER_LR, seed: int = 0):
    """A CPU Trainer over a fresh generator (and discriminator unless ``adv="none"``)."""
    torch.manual_seed(seed)
    G = WUTON(size=SIZE)
    modules = {"generator": G}
    opts = {"generator": torch.optim.Adam(G.parameters(), lr=lr, betas=ADAM_BETAS)}
    if adv != "none":
        D = build_discriminator(base=16)
        modules["discriminator"] = D
        opts["discriminator"] = torch.optim.Adam(D.parameters(), lr=lr, betas=ADAM_BETAS)
    return make_trainer(modules, opts)


def test_batch_tensors_worn_garment_and_agnostic(batch: dict) -> None:
    t = batch_tensors(batch, "cpu")
    assert set(t) >= {"person", "agnostic", "garment", "garment_b", "worn_garment", "parse"}
    upper = (t["parse"] == 5).unsqueeze(1).expand_as(t["person"])
    background = (t["parse"] == 0).unsqueeze(1).expand_as(t["person"])
    assert upper.any() and background.any()
    # c_a,p keeps the worn garment pixels and is white elsewhere (same fill as the flat garment)
    assert torch.equal(t["worn_garment"][upper], t["person"][upper])
    assert float(t["worn_garment"][background].min()) == 1.0
    # p* masks the garment (grey 0); the background is kept except for the neck box
    assert float(t["agnostic"][upper].abs().max()) == 0.0
    kept = (t["agnostic"][background] == t["person"][background]).float().mean()
    # only the neck box is taken out of the background: measured 0.974 kept (binary masks, the same on every CPU)
    assert float(kept) > 0.95
    # the unpaired garment comes from another sample
    assert not torch.equal(t["garment_b"], t["garment"])
    assert all(int(i) != int(g) for i, g in zip(batch["index"], batch["garment_index"]))


def test_worn_garment_fill_is_white() -> None:
    person = torch.full((1, 3, 4, 4), -0.5)
    parse = torch.zeros(1, 4, 4, dtype=torch.long)
    parse[0, 1:3, 1:3] = 5
    wg = worn_garment(person, parse)
    assert float(wg[0, :, 1, 1].mean()) == -0.5 and float(wg[0, :, 0, 0].mean()) == 1.0


def test_unpaired_dataset_is_a_deterministic_derangement(data_dir: str) -> None:
    base = open_split(data_dir, "train", SIZE)
    a = UnpairedDataset(base, pairs_per_person=3, seed=5)
    b = UnpairedDataset(base, pairs_per_person=3, seed=5)
    assert len(a) == 3 * len(base)
    for r in range(3):
        assert np.array_equal(a.partners[r], b.partners[r])
        assert not np.any(a.partners[r] == np.arange(len(base)))
    assert sorted(a.partners[0].tolist()) == list(range(len(base)))  # a permutation
    item = a[len(base) + 2]
    assert item["index"] == 2 and item["garment_index"] == int(a.partners[1][2])


def _run(trainer, batch, cfg, steps, features: nn.Module) -> list[dict]:
    step = TeacherStep(cfg, PerceptualLoss(features))
    return [step(trainer, batch) for _ in range(steps)]


def test_training_steps_lower_warp_l1_and_perceptual(batch: dict, tiny_features: nn.Module, make_trainer) -> None:
    hist = _run(_trainer(make_trainer, "unpaired"), batch, TeacherConfig(adv="unpaired"), 15, tiny_features)
    for key in ("warp", "l1", "perceptual"):
        v = [h[key] for h in hist]
        first, last = float(np.mean(v[:3])), float(np.mean(v[-3:]))
        # each loss falls at least 15 % in 15 steps: measured last/first 0.39 / 0.58 / 0.66 (warp / l1 / perceptual,
        # AVX2) and 0.45 / 0.60 / 0.67 (SSE4.1 kernels)
        assert last < 0.85 * first, (key, first, last, v)
    assert {"adv", "d", "gp", "total"} <= set(hist[0])
    assert all(np.isfinite(h["total"]) for h in hist)


def test_adversarial_terms_descend(batch: dict, tiny_features: nn.Module, make_trainer) -> None:
    """D steps (G fixed) lower the relativistic D loss; G steps (D fixed) lower the G adversarial loss."""
    tr = _trainer(make_trainer, "unpaired", seed=1)
    G, D = tr.modules["generator"], tr.modules["discriminator"]
    cfg = TeacherConfig(adv="unpaired")
    t = batch_tensors(batch, "cpu")
    with torch.no_grad():
        fake = teacher_forward(G, t, cfg)["image_b"]
    d_hist = []
    for _ in range(24):  # smoother (checkerboard-free) fakes take the critic a few more steps
        tr.optimizers["discriminator"].zero_grad()
        dl = discriminator_loss(D, t["person"], fake, cfg.gp_weight)
        dl["d_total"].backward()
        tr.optimizers["discriminator"].step()
        d_hist.append(float(dl["d"].detach()))
    # measured last/first 0.437 (AVX2 and SSE4.1 kernels)
    assert np.mean(d_hist[-3:]) < 0.85 * np.mean(d_hist[:3]), d_hist
    D.eval()  # frozen critic: only G moves
    only_adv = TeacherConfig(adv="unpaired", lambda_warp=0, lambda_l1=0, lambda_perceptual=0)
    perc = PerceptualLoss(tiny_features)
    g_hist = []
    for _ in range(20):  # against the smoother R1-regularised critic G needs more than 12 steps
        tr.optimizers["generator"].zero_grad()
        losses = generator_losses(G, D, perc, t, only_adv)
        losses["total"].backward()
        tr.optimizers["generator"].step()
        g_hist.append(float(losses["adv"].detach()))
    # at least 20 % lower: measured last/first 0.729 (AVX2), 0.761 (SSE4.1 kernels) -- a behaviour bound on a
    # 20-step run whose margin is small (1.05x on SSE4.1), not a rounding one
    assert np.mean(g_hist[-3:]) < 0.8 * np.mean(g_hist[:3]), g_hist


def _matcher_grad(G: WUTON) -> float:
    return sum(float(p.grad.abs().sum()) for p in G.matcher.parameters() if p.grad is not None)


@pytest.mark.parametrize("end_to_end", [True, False])
def test_end_to_end_switch_routes_matcher_gradients(batch: dict, end_to_end: bool, tiny_features: nn.Module,
                                                    make_trainer) -> None:
    tr = _trainer(make_trainer, "unpaired", seed=2)
    G, D = tr.modules["generator"], tr.modules["discriminator"]
    cfg = TeacherConfig(adv="unpaired", end_to_end=end_to_end)
    t = batch_tensors(batch, "cpu")
    perc = PerceptualLoss(tiny_features)
    losses = generator_losses(G, D, perc, t, cfg)
    (losses["l1"] + losses["perceptual"] + losses["adv"]).backward(retain_graph=True)
    image_grad = _matcher_grad(G)
    G.zero_grad(set_to_none=True)
    losses["warp"].backward()
    warp_grad = _matcher_grad(G)
    assert warp_grad > 0  # L_warp always trains the matcher
    if end_to_end:
        assert image_grad > 0  # image losses reach the matcher (000 App. E.3, "end-to-end")
    else:
        assert image_grad == 0.0  # matcher trained by L_warp only


def test_adv_switch_paired_unpaired_none(batch: dict, tiny_features: nn.Module, make_trainer) -> None:
    t = batch_tensors(batch, "cpu")
    t["garment_b"] = t["garment_b"].clone().requires_grad_(True)
    perc = PerceptualLoss(tiny_features)
    grads = {}
    for adv in ("unpaired", "paired"):
        tr = _trainer(make_trainer, adv, seed=3)
        cfg = TeacherConfig(adv=adv)
        out = teacher_forward(tr.modules["generator"], t, cfg)
        assert ("image_b" in out) == (adv == "unpaired")
        losses = generator_losses(tr.modules["generator"], tr.modules["discriminator"], perc, t, cfg, out)
        t["garment_b"].grad = None
        losses["adv"].backward()
        g = t["garment_b"].grad
        grads[adv] = 0.0 if g is None else float(g.abs().sum())
    assert grads["unpaired"] > 0  # L_adv is computed on p̃_b = G(p*_a, c_b)
    assert grads["paired"] == 0.0  # ... or on p̃_a
    tr = _trainer(make_trainer, "none")
    assert "discriminator" not in tr.modules
    hist = _run(tr, batch, TeacherConfig(adv="none"), 1, tiny_features)
    assert "adv" not in hist[0] and "d" not in hist[0]
    with pytest.raises(ValueError):
        TeacherConfig(adv="both")


def test_train_teacher_run_saves_pipeline_and_resumes(data_dir: str, tmp_path) -> None:
    from tryon.train import TrainConfig
    from tryon_wuton.pipelines import WutonTeacherPipeline
    from tryon_wuton.training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

    out = tmp_path / "teacher"
    loop = {**TEACHER_LOOP, "out_dir": str(out), "batch_size": 2, "ckpt_every": 100, "log_every": 1, "device": "cpu",
            "progress": False}
    task = TeacherTaskConfig(data=data_dir, size=SIZE, pairs_per_person=1)
    s = train_teacher(TrainConfig(**{**loop, "max_steps": 2}), task)
    assert s["steps"] == 2 and s["resumed_from"] is None
    manifest = json.loads((out / "config.json").read_text())
    assert manifest["task"] == "wuton-teacher"
    assert {"generator", "parser"} == set(manifest["components"])
    assert manifest["config"] == {"size": [64, 48], "num_classes": 20, "parser_encoder": "resnet18",
                                  "depths": [16, 32, 64, 128, 256], "grid_size": 5, "parser_trained": False,
                                  "plain_ends": True}
    training = manifest["training"]  # provenance, beside (not inside) the constructor arguments
    assert training["perceptual_features"].startswith("vgg19-random")
    assert training["lr"] == TEACHER_LR and training["adv"] == "unpaired" and training["steps_done"] == 2
    assert training["gp_kind"] == "r1" and training["gp_every"] == 4  # zero-centred penalty, lazy (GP_KIND, GP_EVERY)
    info = json.loads((out / "train_info.json").read_text())
    assert info["objective"].startswith("T-WUTON") and info["loop"]["max_steps"] == 2
    assert (out / "generator.safetensors").is_file() and (out / "checkpoints").is_dir()
    assert (out / "metrics.csv").is_file()
    ckpt = torch.load(out / "checkpoints" / "step_00000002.pt", map_location="cpu", weights_only=True, mmap=True)
    assert set(ckpt["modules"]) == {"generator", "discriminator"}  # D kept for resuming, not in the pipeline
    pipe = WutonTeacherPipeline.from_pretrained(out)
    assert pipe.size == SIZE and pipe.provenance["steps_done"] == 2
    s2 = train_teacher(TrainConfig(**{**loop, "max_steps": 3}), task)
    assert s2["steps"] == 3 and s2["resumed_from"] == 2  # resumed from step 2, one more step


def test_datasets_without_parse_maps_are_refused_with_a_clear_error() -> None:
    from tryon.errors import DatasetError
    from tryon_wuton.training.batches import require_parse

    with pytest.raises(DatasetError, match="parse maps"):
        require_parse([{"person": torch.zeros(3, *SIZE), "garment": torch.zeros(3, *SIZE)}], "p*")
    require_parse([{"parse": torch.zeros(*SIZE, dtype=torch.long)}], "p*")


def test_gradient_penalty_kind_is_checked_and_r1_sees_only_real_images(batch: dict) -> None:
    """``gp_kind`` is R1 by default (zero-centred, on real images: the fakes do not change it) or WGAN-GP."""
    from tryon_wuton.models import build_discriminator
    from tryon_wuton.training.objectives import discriminator_loss

    assert TeacherConfig().gp_kind == "r1"
    from tryon_wuton.training.student import StudentConfig

    for config in (TeacherConfig, StudentConfig):
        with pytest.raises(ValueError, match="gp_kind"):
            config(gp_kind="r2")
    t = batch_tensors(batch, "cpu")
    torch.manual_seed(0)
    D = build_discriminator().eval()
    fake_a, fake_b = torch.zeros_like(t["person"]), torch.rand_like(t["person"]) * 2 - 1
    r1 = [float(discriminator_loss(D, t["person"], f, 10.0, "r1")["gp"]) for f in (fake_a, fake_b)]
    # R1 never sees the fakes, so both values are the same computation: measured identical (AVX2 and SSE4.1); and
    # equal to E‖∇D(x_real)‖² from autograd directly (measured identical; rel 1e-4 allows another reduction order)
    assert r1[0] == pytest.approx(r1[1], rel=1e-6)
    real = t["person"].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real)
    assert r1[0] == pytest.approx(float(grad.flatten(1).pow(2).sum(1).mean()), rel=1e-4)  # E‖∇D(x_real)‖²
