"""tryon.macs: MAC counts from an ONNX graph (cross-checked with torch's flop counter) and the reference conv graph."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tryon.macs import conv_layers, count_macs, efficiency, reference_conv_macs, reference_conv_model  # noqa: E402


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


def test_conv_layers_and_the_kernel_time_per_op(tmp_path):
    """conv_layers gives each convolution's shapes and MACs (summing to count_macs); op_times_from_trace turns an
    onnxruntime profile of that graph into kernel time per op type and node, warm-up runs left out."""
    import json
    from pathlib import Path

    from tryon.deploy.profiling import op_times_from_trace

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("ConvTranspose", ["r", "w2"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])]
    inits = [_init("w1", (8, 3, 3, 3)), _init("b1", (8,)), _init("w2", (8, 4, 4, 4))]
    m = _graph(nodes, inits, ["batch", 3, 16, 12], ["batch", 4, 16, 12])
    layers = conv_layers(m)
    assert [(r["op"], r["input"], r["weight"], r["strides"], r["bias"]) for r in layers] == [
        ("Conv", [1, 3, 16, 12], [8, 3, 3, 3], [2, 2], True), ("ConvTranspose", [1, 8, 8, 6], [8, 4, 4, 4], [2, 2], False)]
    assert sum(r["macs"] for r in layers) == count_macs(m)["macs"]
    so = ort.SessionOptions()
    so.enable_profiling, so.profile_file_prefix = True, str(tmp_path / "p")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the three nodes as they are
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 16, 12), np.float32)
    for _ in range(5):
        sess.run(None, {"x": x})
    events = json.loads(Path(sess.end_profiling()).read_text())
    prof = op_times_from_trace(events, skip_runs=2)
    assert prof["runs"] == 3 and set(prof["by_op"]) == {"Conv", "Relu", "ConvTranspose"}
    assert all(v["nodes"] == 1 for v in prof["by_op"].values())
    assert sum(v["share"] for v in prof["by_op"].values()) == pytest.approx(1.0)  # shares of one sum: float rounding only
    assert prof["kernel_ms"] == pytest.approx(sum(v["ms"] for v in prof["nodes"].values()))  # the same sum, per node
    assert op_times_from_trace(events)["runs"] == 5
    with pytest.raises(RuntimeError, match="no kernel events"):
        op_times_from_trace([])


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
