"""Shared fixtures: a tiny procedural dataset and a tiny VQGAN + EdiBERT trained for a few steps (32×32
images, 4× downsampling → 8×8 tokens, 64 codes, 2 transformer layers of width 64)."""

from __future__ import annotations

import pytest
import torch

from tryon.testing import torch_threads

TINY_VQ = {"n_codes": 64, "embed_dim": 16, "ch": 16, "ch_mult": [1, 2, 2]}
TINY_TF = {"width": 64, "layers": 2, "heads": 4, "max_grid": [16, 16]}


def one_thread():
    """These models are tiny: one intra-op thread (:func:`tryon.testing.torch_threads`)."""
    return torch_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def scenes(tmp_path_factory) -> str:
    from tryon_edibert.data import write_scenes

    return str(write_scenes(tmp_path_factory.mktemp("scenes"), 16, (32, 32), seed=0))


@pytest.fixture(scope="session")
def vqgan_run(scenes, tmp_path_factory):
    from tryon.train import TrainConfig
    from tryon_edibert.training import VQGANTaskConfig, train_vqgan

    out = tmp_path_factory.mktemp("vq") / "run"
    with one_thread():
        outcome = train_vqgan(TrainConfig(out_dir=str(out), max_steps=24, batch_size=4, lr=3e-3, device="cpu",
                                          progress=False, log_every=4, ckpt_every=1000),
                              VQGANTaskConfig(data=scenes, size=(32, 32), **TINY_VQ, perceptual_weight=0.0, disc_start=20,
                                              disc_layers=2))
    return str(out), outcome


@pytest.fixture(scope="session")
def edibert_run(vqgan_run, scenes, tmp_path_factory):
    from tryon.train import TrainConfig
    from tryon_edibert.training import EDIBERT_LOOP, EdiBERTTaskConfig, train_edibert

    out = tmp_path_factory.mktemp("bert") / "run"
    with one_thread():
        outcome = train_edibert(TrainConfig(**{**EDIBERT_LOOP, "out_dir": str(out), "max_steps": 30, "batch_size": 8,
                                               "lr": 2e-3, "device": "cpu", "progress": False, "log_every": 4,
                                               "ckpt_every": 1000}),
                                EdiBERTTaskConfig(vqgan_run=vqgan_run[0], data=scenes, size=(32, 32), **TINY_TF))
    return str(out), outcome


@pytest.fixture()
def tiny_model():
    from tryon_edibert.pipelines import InpaintPipeline

    torch.manual_seed(0)
    return InpaintPipeline(**TINY_VQ, **TINY_TF).eval()
