"""Fixtures shared by the WUTON training tests (parser, teacher and student): one small synthetic dataset, one
fixed unpaired batch from it, a tiny frozen feature extractor standing in for VGG19, and real
:class:`tryon.train.Trainer` objects to run single steps through (``make_trainer``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

SIZE = (64, 48)


class TinyFeatures(nn.Module):
    """A small frozen two-scale extractor (fixed seed) for the perceptual loss in fast tests."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(123)
        self.a = nn.Conv2d(3, 8, 3, 2, 1)
        self.b = nn.Conv2d(8, 16, 3, 2, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4 - 0.2)
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = torch.relu(self.a(x))
        return [f1, torch.relu(self.b(f1))]


@pytest.fixture
def tiny_features() -> nn.Module:
    return TinyFeatures()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    """24 synthetic samples at 64x48 (seed 0): the training data of the teacher and student tests."""
    from tryon_wuton.data.synth import generate

    root = tmp_path_factory.mktemp("synth") / "data"
    generate(root, 24, size=SIZE, seed=0, progress=False)
    return str(root)


@pytest.fixture(scope="session")
def batch(data_dir: str) -> dict:
    """The first 4 unpaired training triplets of ``data_dir`` (person, its garment, another garment, parse)."""
    from torch.utils.data import DataLoader

    from tryon_wuton.training.batches import UnpairedDataset, open_split

    ds = UnpairedDataset(open_split(data_dir, "train", SIZE), pairs_per_person=1, seed=0)
    return next(iter(DataLoader(ds, batch_size=4, shuffle=False)))


@pytest.fixture
def make_trainer(tmp_path):
    """``make_trainer(modules, optimizers, **config)`` → a CPU :class:`tryon.train.Trainer` (not fitted) whose
    ``autocast`` / ``backward`` / ``optimizer_step`` the step functions under test go through."""
    from tryon.train import TrainConfig, Trainer

    def make(modules: dict, optimizers: dict, **config) -> Trainer:
        config = {"device": "cpu", "progress": False, "tensorboard": False, **config}
        cfg = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=1, batch_size=1, **config)
        return Trainer(cfg, modules=modules, optimizers=optimizers, dataset=[0], step_fn=lambda trainer, batch: {})

    return make
