"""The training loop's speed options: precision (bf16 autocast on CPU), channels_last, in-memory
data caching, and the lazy regulariser weight."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tryon.cached_dataset import CachedDataset, item_nbytes
from tryon.errors import InputError
from tryon.losses import lazy_weight
from tryon.train import TrainConfig, Trainer, add_train_arguments, train_config_from_args


class _Counting(torch.utils.data.Dataset):
    def __init__(self, n: int = 6):
        self.n, self.reads = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        self.reads += 1
        g = torch.Generator().manual_seed(int(i))
        return torch.randn(3, 8, 8, generator=g), torch.randn(1, generator=g)


def _conv_trainer(out: Path, steps: int, dataset=None, **kw) -> Trainer:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    seen: dict[str, object] = {}

    def step_fn(tr: Trainer, batch):
        x, y = batch
        with tr.autocast():
            pred = tr.modules["net"](x)
            seen["dtype"] = pred.dtype
            seen["cl"] = tr.modules["net"][0].weight.is_contiguous(memory_format=torch.channels_last)
        loss = F.mse_loss(pred.float(), y)
        tr.optimizers["net"].zero_grad(set_to_none=True)
        tr.backward(loss)
        tr.optimizer_step("net")
        return {"mse": loss}

    cfg = TrainConfig(out_dir=str(out), max_steps=steps, batch_size=2, device="cpu", progress=False, tensorboard=False,
                      log_every=1, ckpt_every=100, **kw)
    tr = Trainer(cfg, {"net": net}, {"net": opt}, dataset if dataset is not None else _Counting(), step_fn)
    tr.seen = seen  # type: ignore[attr-defined]
    return tr


def test_precision_bf16_autocasts_on_cpu(tmp_path: Path) -> None:
    tr = _conv_trainer(tmp_path / "bf16", 2, precision="bf16")
    assert tr.amp and tr.scaler is None and tr.config.amp_dtype == "bfloat16"
    res = tr.fit(resume=False)
    assert res.steps == 2 and tr.seen["dtype"] == torch.bfloat16
    fp32 = _conv_trainer(tmp_path / "fp32", 1, precision="fp32")
    assert not fp32.amp
    fp32.fit(resume=False)
    assert fp32.seen["dtype"] == torch.float32


def test_precision_fp16_on_cpu_is_ignored_and_bad_names_refused(tmp_path: Path) -> None:
    tr = _conv_trainer(tmp_path, 1, precision="fp16")
    assert tr.config.amp and tr.config.amp_dtype == "float16" and not tr.amp  # CUDA-only: fp32 on CPU
    with pytest.raises(InputError, match="precision"):
        TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="int8")


def test_channels_last_while_training_and_contiguous_after(tmp_path: Path) -> None:
    tr = _conv_trainer(tmp_path, 2, channels_last=True)
    tr.fit(resume=False)
    assert tr.seen["cl"] is True
    w = tr.unwrap("net")[0].weight
    assert w.is_contiguous() and not w.is_contiguous(memory_format=torch.channels_last)
    # the same trajectory as NCHW training (up to float reassociation: measured 1.5e-8 after 2 Adam steps on AVX2
    # and SSE4.1, 600x inside 1e-5)
    ref = _conv_trainer(tmp_path / "ref", 2)
    ref.fit(resume=False)
    assert torch.allclose(ref.unwrap("net")[0].weight, w, atol=1e-5)


def test_cache_data_decodes_each_item_once_and_keeps_batches(tmp_path: Path) -> None:
    ds = _Counting(6)
    tr = _conv_trainer(tmp_path / "c", 9, dataset=ds, cache_data=True)  # 3 batches per epoch: 3 epochs
    assert isinstance(tr.dataset, CachedDataset)
    res = tr.fit(resume=False)
    assert ds.reads == 6 and tr.dataset.hits == 12 and tr.dataset.misses == 6
    plain = _conv_trainer(tmp_path / "p", 9, dataset=_Counting(6))
    res_plain = plain.fit(resume=False)
    assert [r["mse"] for r in res.history] == [r["mse"] for r in res_plain.history]
    with_workers = _conv_trainer(tmp_path / "w", 1, dataset=_Counting(6), cache_data=True, num_workers=1)
    assert not isinstance(with_workers.dataset, CachedDataset)


def test_cached_dataset_bound_and_size() -> None:
    item = {"a": torch.zeros(10, dtype=torch.float32), "b": [torch.zeros(4, dtype=torch.int64)], "name": "x"}
    assert item_nbytes(item) == 40 + 32 + 64
    base = _Counting(4)
    cache = CachedDataset(base, max_bytes=2 * item_nbytes(base[0]))
    base.reads = 0
    for _ in range(2):
        for i in range(4):
            cache[i]
    assert base.reads == 6 and len(cache._items) == 2 and cache[-1][0].shape == (3, 8, 8)
    assert cache.n == 4  # attributes of the base pass through


def test_lazy_weight() -> None:
    assert [lazy_weight(s, 4, 10.0) for s in range(6)] == [40.0, 0.0, 0.0, 0.0, 40.0, 0.0]
    assert [lazy_weight(s, 1, 10.0) for s in range(3)] == [10.0] * 3
    with pytest.raises(ValueError):
        lazy_weight(0, 0, 1.0)


def test_cli_flags_reach_the_config(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    add_train_arguments(p, steps=5)
    cfg = train_config_from_args(p.parse_args(["--out", str(tmp_path), "--precision", "bf16", "--channels-last",
                                               "--cache-data"]))
    assert (cfg.precision, cfg.amp, cfg.amp_dtype, cfg.channels_last, cfg.cache_data) == ("bf16", True, "bfloat16", True, True)
    plain = train_config_from_args(p.parse_args(["--out", str(tmp_path)]))
    assert (plain.precision, plain.amp, plain.channels_last, plain.cache_data) == (None, False, False, False)


@pytest.mark.parametrize("flags, expected", [({"avx512f", "avx512_bf16"}, "bf16"), ({"amx_bf16"}, "bf16"),
                                             ({"avx2", "fma", "avx512f"}, "fp32")])
def test_precision_auto_resolves_from_the_cpu(tmp_path: Path, monkeypatch, flags, expected) -> None:
    from tryon import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: set(flags))
    # the faked flags are the whole CPU: an ISA cap of the run (make test-isa) must not hide them
    monkeypatch.delenv("TRYON_MAX_ISA", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    tr = _conv_trainer(tmp_path / expected, 1, precision="auto")
    assert tr.config.precision == expected  # the run records what it trained in, not "auto"
    assert tr.amp == (expected == "bf16") and tr.scaler is None
    tr.fit()
    assert tr.seen["dtype"] == (torch.bfloat16 if expected == "bf16" else torch.float32)


@pytest.mark.parametrize("cap_var", ["TRYON_MAX_ISA", "ONEDNN_MAX_CPU_ISA"])
def test_precision_auto_is_fp32_under_an_avx2_cap(tmp_path: Path, monkeypatch, cap_var) -> None:
    """A bf16 CPU held to AVX2 (``make test-isa``) trains in fp32, as a real AVX2-only machine would."""
    from tryon import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    monkeypatch.delenv("TRYON_MAX_ISA", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv(cap_var, "AVX2")
    tr = _conv_trainer(tmp_path, 1, precision="auto")
    assert tr.config.precision == "fp32" and not tr.amp
