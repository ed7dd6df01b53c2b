"""tryon.macs: MAC counts from an ONNX graph (cross-checked with torch's flop counter) and the reference conv graph."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tryon.macs import count_macs, efficiency, reference_conv_macs, reference_conv_model  # noqa: E402


def _graph(nodes, inits, x_shape, y_shape, extra_inputs=()):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape), *extra_inputs],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _init(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def test_counts_conv_convtranspose_gemm_matmul():
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], strides=[2, 2]),   # 3->8, 16x12 -> 8x6
        helper.make_node("ConvTranspose", ["a", "w2"], ["b"], strides=[2, 2], pads=[1, 1, 1, 1]),  # 8->4, 8x6 -> 16x12
        helper.make_node("Flatten", ["b"], ["f"]),
        helper.make_node("Gemm", ["f", "w3"], ["g"]),                                      # 768 -> 5
        helper.make_node("MatMul", ["g", "w4"], ["y"]),                                    # 5 -> 7
    ]
    inits = [_init("w1", (8, 3, 3, 3)), _init("w2", (8, 4, 4, 4)), _init("w3", (768, 5)), _init("w4", (5, 7))]
    m = _graph(nodes, inits, ["batch", 3, 16, 12], ["batch", 7])
    c1 = count_macs(m, batch=1)
    conv = 8 * 6 * 8 * 3 * 9
    convt = 8 * 6 * 8 * 4 * 16
    assert c1["by_op"] == {"Conv": conv, "ConvTranspose": convt, "Gemm": 768 * 5, "MatMul": 5 * 7}
    assert c1["macs"] == conv + convt + 768 * 5 + 35 and c1["unknown"] == [] and c1["nodes"] == 4
    assert count_macs(m, batch=3)["macs"] == 3 * c1["macs"]  # linear in the batch


def test_reference_conv_and_efficiency():
    m = reference_conv_model(channels=8, height=16, width=12, depth=2)
    assert count_macs(m)["macs"] == reference_conv_macs(channels=8, height=16, width=12, depth=2) == 2 * 8 * 8 * 9 * 16 * 12
    x = np.random.default_rng(0).standard_normal((2, 8, 16, 12)).astype(np.float32)
    (y,) = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert y.shape == (2, 8, 16, 12)
    e = efficiency(2_000_000_000, 20.0, 1_000_000_000, 5.0)  # 100 GMAC/s vs 200 GMAC/s
    assert e == {"gmac_per_s": 100.0, "ref_gmac_per_s": 200.0, "efficiency": 0.5}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_count_matches_torch_flop_counter(tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.ConvTranspose2d(8, 8, 4, 2, 1),
                              torch.nn.Conv2d(8, 3, 1)).eval()
    x = torch.rand(1, 3, 16, 12)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        net(x)
    path = tmp_path / "m.onnx"
    torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False, opset_version=17)
    assert count_macs(path)["macs"] * 2 == fc.get_total_flops()
