"""The plugin-test helpers of :mod:`tryon.testing` hold the behaviour they check, and fail when it is broken."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon.compose import paste_source
from tryon.testing import StepTrainer, assert_pasted_back, seam_regions


def _case():
    rng = np.random.default_rng(0)
    source = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
    raw = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
    mask = np.zeros((24, 20), np.uint8)
    mask[6:16, 5:13] = 255
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float()  # noqa: E731
    pasted = paste_source(to_t(source), to_t(raw), torch.from_numpy(mask > 0).float())
    out = pasted[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    return source, out, raw, mask


def test_a_true_paste_passes_and_each_broken_paste_fails() -> None:
    source, out, raw, mask = _case()
    assert_pasted_back(source, out, raw, mask)
    far, band = seam_regions(mask)
    assert far.sum() and band.sum() and not (far & band).any() and not (band & (mask > 0)).any()
    hard = np.where((mask > 0)[..., None], raw, source)  # no blend in the band
    with pytest.raises(AssertionError, match="hard cut"):
        assert_pasted_back(source, hard, raw, mask)
    leaked = out.copy()
    leaked[0, 0] ^= 1  # one pixel far from the mask changed
    with pytest.raises(AssertionError, match="beyond the seam"):
        assert_pasted_back(source, leaked, raw, mask)
    with pytest.raises(AssertionError, match="inside the mask"):
        assert_pasted_back(source, np.where((mask > 0)[..., None], source, out), raw, mask)


def test_step_trainer_runs_a_step_and_refuses_an_optimizer_declared_unused() -> None:
    net = torch.nn.Linear(2, 1)
    trainer = StepTrainer({"net": net}, {"net": torch.optim.SGD(net.parameters(), lr=1.0), "other": None}, step=7)
    before = net.weight.detach().clone()
    with trainer.autocast():
        loss = trainer.unwrap("net")(torch.ones(1, 2)).sum()
    trainer.backward(loss)
    trainer.optimizer_step("net")
    assert trainer.step == 7 and trainer.device.type == "cpu"
    assert torch.allclose(net.weight, before - 1.0)  # d(sum)/dW = the input, ones
    with pytest.raises(AssertionError, match="'other'"):
        trainer.optimizer_step("other")
