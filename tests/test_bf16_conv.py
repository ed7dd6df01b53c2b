"""tryon.train.bf16_conv: the probe of the faulty bf16 convolutions, the guard that runs the narrow strided ones in
fp32, and the trainer's autocast installing it. The last test is the one that failed on an AMX Xeon before the
guard: a five-level encoder at 64×48 under bf16 autocast must agree with fp32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tryon.nn.blocks import ConvEncoder
from tryon.train import TrainConfig
from tryon.train import bf16_conv
from tryon.train.bf16_conv import FAULT_REL_ERROR, NarrowConvsInFp32, _narrow_strided, _narrow_transposed
from tryon.train.precision import MixedPrecision

# bf16 keeps 8 mantissa bits: one rounding of a result is within 2**-8 relative; a conv computed in fp32 and then
# cast to bf16 is therefore within this of the fp32 result (relative to the output's largest magnitude)
BF16_ROUNDING = 2.0 ** -8


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).nan_to_num(nan=float("inf")).abs().max() / b.float().abs().max())


@pytest.mark.parametrize(("hw", "k", "s", "p", "narrow"), [
    ((4, 3), 4, 2, 1, True),    # 4x3 -> 2x1: the encoders' last level at 64x48
    ((9, 2), 3, 2, 1, True),    # 9x2 -> 5x1
    ((3, 8), 4, 2, 1, True),    # 3x8 -> 1x4 (one pixel high)
    ((4, 4), 4, 2, 1, False),   # 2x2
    ((4, 3), 3, 1, 1, False),   # stride 1 keeps 4x3
    ((2, 1), 3, 1, 1, False),   # 1-wide, but not strided
])
def test_which_convolutions_are_narrow(hw, k, s, p, narrow) -> None:
    x, w = torch.zeros(1, 4, *hw), torch.zeros(4, 4, k, k)
    assert _narrow_strided((x, w, None, s, p), {}) is narrow
    assert _narrow_strided((x, w), {"stride": s, "padding": p}) is narrow


def test_which_transposed_convolutions_are_narrow() -> None:
    w = torch.zeros(4, 4, 4, 4)
    assert _narrow_transposed((torch.zeros(1, 4, 2, 1), w, None, 2, 1), {})  # its input gradient is 4x3 -> 2x1
    assert not _narrow_transposed((torch.zeros(1, 4, 2, 2), w, None, 2, 1), {})
    assert not _narrow_transposed((torch.zeros(1, 4, 2, 1), w, None, 1, 1), {})


def test_the_guard_runs_narrow_convolutions_in_fp32_and_leaves_the_others_in_bf16() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(128, 128, 4, 2, 1)
    narrow, wide = torch.randn(4, 128, 4, 3), torch.randn(4, 128, 8, 8)
    with torch.no_grad():
        ref = conv(narrow)
        with torch.autocast("cpu", dtype=torch.bfloat16), NarrowConvsInFp32():
            got, other = conv(narrow), conv(wide)
    assert got.dtype == other.dtype == torch.bfloat16  # the next layers see what autocast gives them
    assert _rel(got, ref) <= BF16_ROUNDING  # computed in fp32, rounded once
    # the guard is inert outside autocast
    with NarrowConvsInFp32():
        assert conv(narrow).dtype == torch.float32


def test_gradients_flow_through_the_guarded_convolutions() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 16, 2, 1, requires_grad=True)
    w = torch.randn(16, 16, 4, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16), NarrowConvsInFp32():
        y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=(0, 1))
    assert y.shape[-2:] == (4, 3) and y.dtype == torch.bfloat16
    y.float().sum().backward()
    ref_x = x.detach().clone().requires_grad_()
    F.conv_transpose2d(ref_x, w.detach(), stride=2, padding=1, output_padding=(0, 1)).sum().backward()
    assert _rel(x.grad, ref_x.grad) <= 4 * BF16_ROUNDING  # bf16 output rounding reaches the gradient once more


def test_the_probe_answers_none_or_names_the_shape() -> None:
    fault = bf16_conv.bf16_conv_fault()
    assert fault is None or ("bf16 convolution" in fault and "relative error" in fault)


def test_mixed_precision_installs_the_guard_only_when_the_probe_finds_the_fault(tmp_path, monkeypatch) -> None:
    entered: list[bool] = []

    class Spy(NarrowConvsInFp32):
        def __enter__(self):
            entered.append(True)
            return super().__enter__()

    monkeypatch.setattr(bf16_conv, "NarrowConvsInFp32", Spy)
    conv, x = torch.nn.Conv2d(8, 8, 4, 2, 1), torch.randn(2, 8, 4, 3)
    for fault in (None, "bf16 convolution 4x3 -> 2x1 (kernel 4, stride 2) is wrong on this CPU"):
        monkeypatch.setattr(bf16_conv, "bf16_conv_fault", lambda fault=fault: fault)
        entered.clear()
        mp = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="bf16"), torch.device("cpu"))
        assert mp.conv_fault == fault
        with mp.autocast(), torch.no_grad():
            assert torch.is_autocast_enabled("cpu") and conv(x).dtype == torch.bfloat16
        assert entered == ([True] if fault else [])
    fp32 = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="fp32"), torch.device("cpu"))
    assert fp32.conv_fault is None  # no probe when nothing trains in bf16


def test_a_five_level_encoder_at_64x48_agrees_with_fp32_under_the_trainers_autocast(tmp_path) -> None:
    """On an AMX Xeon the last level (4x3 -> 2x1) came out wrong (relative error ~1, or inf) before the guard."""
    torch.manual_seed(0)
    enc = ConvEncoder(3, norm="none")  # instance norm over a 2x1 map is ±1 whatever the precision: not a test of it
    x = torch.randn(4, 3, 64, 48)
    mp = MixedPrecision(TrainConfig(out_dir=str(tmp_path), max_steps=1, precision="bf16"), torch.device("cpu"))
    with torch.no_grad():
        ref = enc(x)
        for _ in range(3):  # the faulty kernels' errors vary from call to call
            with mp.autocast():
                got = enc(x)
            # ten bf16 convolutions: measured 0.0030 with the guard on an AMX Xeon and 0.0038 without AMX (sound
            # kernels, no guard); the fault gives 1.10 or inf. The bound is the probe's: wrong, not rounded
            assert _rel(got[-1], ref[-1]) < FAULT_REL_ERROR


def test_a_bf16_run_records_the_fault_and_trains_through_it(tmp_path, monkeypatch) -> None:
    """With the fault reported, a bf16 run of a net whose last convolution is 4x3 -> 2x1 records the probe's line in
    train_info.json and config.json, and its loss stays finite."""
    import json

    from tryon import train as T

    line = "bf16 convolution 4x3 -> 2x1 (kernel 4, stride 2) is wrong on this CPU: relative error inf against fp32"
    monkeypatch.setattr(bf16_conv, "bf16_conv_fault", lambda: line)
    torch.manual_seed(0)
    net = torch.nn.Conv2d(8, 8, 4, 2, 1)

    def step(trainer, batch):
        with trainer.autocast():
            loss = net(batch).float().pow(2).mean()
        trainer.optimizers["net"].zero_grad(set_to_none=True)
        trainer.backward(loss)
        trainer.optimizer_step("net")
        return {"loss": loss}

    class Pipe:
        provenance: dict = {}

        def save_pretrained(self, out, keep_other_files=False):
            (tmp_path / "config.json").write_text(json.dumps({"training": self.provenance}))

    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=3, batch_size=2, device="cpu", precision="bf16", progress=False,
                      tensorboard=False, log_every=1, ckpt_every=100)
    outcome = T.run(cfg, modules={"net": net}, optimizers={"net": torch.optim.SGD(net.parameters(), lr=0.1)},
                    dataset=[torch.randn(8, 4, 3) for _ in range(8)], step_fn=step, build_pipeline=lambda tr, res: Pipe())
    assert outcome.summary["precision"] == "bf16"
    assert json.loads((tmp_path / "train_info.json").read_text())["result"]["bf16_conv_fault"] == line
    assert json.loads((tmp_path / "config.json").read_text())["training"]["bf16_conv_fault"] == line
    assert all(torch.isfinite(torch.tensor(v)) for _, v in T.read_metrics(tmp_path / "metrics.csv")["loss"])
