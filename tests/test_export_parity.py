"""The export's parity criterion (tryon.export.parity): it accepts a correct export on any CPU and refuses a broken one.

A correct export is judged against a float64 run of the module, within RATIO × torch fp32's own error; these
tests break graphs on purpose — a swapped input pair, a perturbed weight, a wrong layout — and check each one
fails with the numbers in the message, while the same model exported correctly passes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tryon
import tryon.export
import tryon.plugins
from tryon.errors import TryonError
from tryon.export import parity

from tiny_tasks import register_tiny_tasks  # noqa: E402

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def tiny_tasks():
    register_tiny_tasks()
    yield
    tryon.plugins.reset_manager()


class _SwapInputs(torch.nn.Module):
    """A wrong graph that looks right: same inputs, same outputs, person and garment swapped inside."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, person, garment):
        return self.net(garment, person)


def _pipe():
    torch.manual_seed(0)
    return tryon.load("tiny-tryon", device="cpu")


def _corrupt_export(monkeypatch, corrupt):
    """Make the exporter write a graph ``corrupt(module)`` instead of ``module``: parity still compares with
    the real module, as a buggy exporter would."""
    import tryon.export.trace as et

    real = et.export_graph

    def export_graph(module, *a, **kw):
        return real(corrupt(module), *a, **kw)

    monkeypatch.setattr(et, "export_graph", export_graph)


def test_correct_export_records_the_float64_criterion(tiny_tasks, tmp_path):
    m = tryon.export.export_onnx(_pipe(), None, tmp_path / "ok", parity_batches=(1, 3))
    p = m["parity"]
    assert p["criterion"] == "float64" and set(p["bound"]) == {"image", "warped"}
    for name in ("image", "warped"):
        # the rule itself: error ≤ RATIO · torch's own error + floor, with torch's own error really measured
        floor = parity.FLOOR_ULPS * parity.FP32_EPS * 1.0
        assert p["bound"][name] == pytest.approx(parity.RATIO * p["torch_fp32_error"][name] + floor, rel=1e-9)
        assert p["error_vs_float64"][name] <= p["bound"][name]
    # both engines really ran (fp32 rounding is never exactly zero on these convolutions)
    assert p["torch_fp32_error"]["image"] > 0 and p["max_abs_error"] > 0
    assert p["margin"] >= 1.0


@pytest.mark.parametrize("how", ["swapped inputs", "perturbed weight", "transposed layout"])
def test_broken_export_fails(tiny_tasks, tmp_path, monkeypatch, how):
    import copy

    def corrupt(module):
        if how == "swapped inputs":
            return _SwapInputs(module)
        bad = copy.deepcopy(module)
        with torch.no_grad():
            if how == "perturbed weight":
                # 1 % of one weight of the last conv: the smallest "wrong weights" bug a converter can make
                w = bad.out.weight
                w.view(-1)[0] += 0.01 * float(w.abs().max())
            else:
                # a layout bug: the first conv's kernel read with H and W swapped
                bad.enc[0].weight.copy_(bad.enc[0].weight.transpose(2, 3).clone())
        return bad

    _corrupt_export(monkeypatch, corrupt)
    out = tmp_path / "bad"
    with pytest.raises(TryonError, match="parity failed") as info:
        tryon.export.export_onnx(_pipe(), None, out, parity_batches=(1,))
    assert "float64 reference" in str(info.value) and "bound" in str(info.value)
    assert not out.exists()  # nothing half-written


def test_bound_is_far_below_what_a_bug_does(tiny_tasks, tmp_path):
    """The bound sits orders of magnitude under the smallest bug above: measured here, not assumed."""
    m = tryon.export.export_onnx(_pipe(), None, tmp_path / "ok", parity_batches=(1,))
    pipe = _pipe()
    ex = {k: torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(3)) * 2 - 1 for k in ("person", "garment")}
    import copy

    bad = copy.deepcopy(pipe.net)
    with torch.no_grad():
        bad.out.weight.view(-1)[0] += 0.01 * float(bad.out.weight.abs().max())
        ref, moved = pipe.net(*ex.values())[0], bad(*ex.values())[0]
    bug = float((ref - moved).abs().max())
    assert bug > 20 * m["parity"]["bound"]["image"]  # a 20x gap, so no CPU's rounding can hide such a bug


def test_fallback_without_float64_is_recorded(tiny_tasks, tmp_path, monkeypatch):
    """A module that cannot run in double (here: made to fail) falls back to the fixed bound and says why."""
    real_double = torch.nn.Module.double

    def no_double(self):
        raise RuntimeError("this op has no float64 kernel")

    monkeypatch.setattr(torch.nn.Module, "double", no_double)
    try:
        m = tryon.export.export_onnx(_pipe(), None, tmp_path / "fb", parity_batches=(1,))
    finally:
        monkeypatch.setattr(torch.nn.Module, "double", real_double)
    p = m["parity"]
    assert p["criterion"] == "fixed" and "no float64 reference" in p["rule"] and "float64 kernel" in p["rule"]
    assert p["bound"]["image"] == pytest.approx(parity.FALLBACK_TOLERANCE)  # tanh output: scale 1


def test_fp32_parity_unit():
    """The rule on hand-made numbers: a candidate 5x worse than torch passes, 9x worse fails (RATIO = 8)."""
    ref64 = [np.linspace(-1, 1, 100).reshape(1, 1, 10, 10)]
    torch32 = [ref64[0] + 1e-4]
    case = parity.ParityCase(1, "random", {}, [torch32[0]], ref64)
    ok = [[ref64[0] + 5e-4]]
    rec = parity.fp32_parity([case], ok, ["y"], where="t", label="ONNX", provider="cpu")
    assert rec["error_vs_float64"]["y"] == pytest.approx(5e-4) and rec["torch_fp32_error"]["y"] == pytest.approx(1e-4)
    with pytest.raises(TryonError, match="'y' differs from the float64 reference"):
        parity.fp32_parity([case], [[ref64[0] + 9e-4]], ["y"], where="t", label="ONNX", provider="cpu")
