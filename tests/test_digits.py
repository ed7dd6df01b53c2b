"""tryon.data.DigitsDataset: scikit-learn's digits as the seeds' MNIST stand-in (shared by the GAN and control plugins)."""

from __future__ import annotations

import pytest
import torch

from tryon.data import DigitsDataset
from tryon.errors import InputError

pytest.importorskip("sklearn")


def test_splits_are_a_fixed_disjoint_partition_in_range():
    every = DigitsDataset()
    train, test = DigitsDataset(split="train", seed=3), DigitsDataset(split="test", seed=3)
    assert len(every) == 1797 and len(train) == int(0.8 * 1797) and len(train) + len(test) == 1797
    assert every.shape == (1, 8, 8) and every.images.dtype == torch.float32
    assert float(every.images.min()) == -1.0 and float(every.images.max()) == 1.0
    assert sorted(torch.cat([train.labels, test.labels]).tolist()) == sorted(every.labels.tolist())
    # the same seed draws the same split; another seed another one
    assert torch.equal(DigitsDataset(split="train", seed=3).images, train.images)
    assert not torch.equal(DigitsDataset(split="train", seed=4).images, train.images)
    assert train.name == "digits:split=train" and every.name == "digits"


def test_size_and_channels():
    big = DigitsDataset(size=(16, 12), channels=3)
    assert big.shape == (3, 16, 12) and torch.equal(big.images[:, 0], big.images[:, 2])
    assert float(big.images.abs().max()) <= 1.0
    small = DigitsDataset(size=(8, 8))
    assert torch.equal(small.images, DigitsDataset().images)
    draw = small.sample(5, seed=1)
    assert draw.shape == (5, 1, 8, 8) and torch.equal(draw, small.sample(5, seed=1))
    with pytest.raises(InputError, match="digits split"):
        DigitsDataset(split="val")
    with pytest.raises(InputError, match="channels"):
        DigitsDataset(channels=2)
