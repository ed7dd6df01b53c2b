"""tryon.train.precision: device choice, ``precision="auto"`` and the GradScaler bookkeeping of
:class:`MixedPrecision` (checked on CPU with a stand-in scaler: the real one needs CUDA)."""

from __future__ import annotations

import pytest
import torch

from tryon.errors import TryonError
from tryon.train import TrainConfig, resolve_auto_precision
from tryon.train.precision import MixedPrecision, pick_device


class _Scaler:
    """Records the GradScaler calls :class:`MixedPrecision` makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def scale(self, loss):
        self.calls.append("scale")
        return loss

    def unscale_(self, opt) -> None:
        self.calls.append("unscale")

    def step(self, opt) -> None:
        self.calls.append("step")

    def update(self) -> None:
        self.calls.append("update")


def test_pick_device_on_cpu() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device(None) == torch.device("cpu")
        with pytest.raises(TryonError, match="CUDA is not available"):
            pick_device("cuda")


def test_auto_precision_is_written_back_into_the_config(tmp_path) -> None:
    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="auto")
    mp = MixedPrecision(cfg, torch.device("cpu"))
    assert cfg.precision == resolve_auto_precision(torch.device("cpu")) == mp.name
    assert mp.enabled == (mp.name == "bf16") and mp.scaler is None


def test_float16_on_cpu_falls_back_to_fp32(tmp_path) -> None:
    mp = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1, amp=True), torch.device("cpu"))
    assert not mp.enabled and mp.scaler is None and mp.name == "fp32"
    with mp.autocast():
        assert not torch.is_autocast_enabled()


def test_bfloat16_autocasts_on_cpu(tmp_path) -> None:
    mp = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="bf16"), torch.device("cpu"))
    assert mp.enabled and mp.name == "bf16" and mp.scaler is None
    with mp.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_scaler_unscales_once_and_updates_only_after_a_step(tmp_path) -> None:
    mp = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1), torch.device("cpu"))
    mp.scaler = scaler = _Scaler()
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    mp.begin_step()
    mp.backward(net(torch.ones(1, 2)).sum())
    mp.unscale(opt)
    mp.unscale(opt)  # a second clip in the same step does not unscale again
    mp.step(opt)
    mp.end_step()
    assert scaler.calls == ["scale", "unscale", "step", "update"]
    scaler.calls.clear()
    mp.begin_step()  # a step that never stepped an optimiser: no update
    mp.unscale(opt)
    mp.end_step()
    assert scaler.calls == ["unscale"]
