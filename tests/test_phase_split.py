"""Transposed convolutions split into phase convolutions for onnxruntime, and joined back for OpenVINO."""

from __future__ import annotations

import copy
import importlib.util
import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from tryon.deploy.phase_split import (  # noqa: E402
    METADATA_KEY, PHASE_MIN_INPUT_PIXELS, copy_records, join_transposed_convs, joined_bytes, split_records,
    split_transposed_convs)

# The split sums the same products in another order: measured max abs differences 3.6e-7 to 9.5e-7 on unit-scale
# inputs and 0.05-scaled weights; 1e-5 is 10x the worst, while a wrong tap or phase gives errors of order 0.1.
SPLIT_TOL = 1e-5


def _graph(h: int, w: int, *, c_in: int = 8, c_out: int = 4, bias: bool = True, relu: bool = True,
           strides=(2, 2), kernel: int = 4, extra_consumer: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((c_in, c_out, kernel, kernel)) * 0.05).astype(np.float32), "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("ConvTranspose", ins, ["t"], name="up", kernel_shape=[kernel, kernel], strides=list(strides),
                              pads=[1, 1, 1, 1])]
    out_shape = ["batch", c_out, None, None]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)]
    nodes.append(helper.make_node("Relu" if relu else "Identity", ["t"], ["y"], name="act"))
    if extra_consumer:
        nodes.append(helper.make_node("Sigmoid", ["t"], ["z"], name="other"))
        outs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, out_shape))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c_in, h, w])
    return helper.make_model(helper.make_graph(nodes, "g", [x], outs, inits), opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})


def _x(c: int, h: int, w: int, batch: int = 2) -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (batch, c, h, w)).astype(np.float32)


@pytest.mark.parametrize("bias,relu", [(True, True), (False, False), (True, False)])
def test_split_is_exact_and_join_restores_the_layer(bias, relu):
    model = _graph(64, 48, bias=bias, relu=relu)
    split = copy.deepcopy(model)
    records = split_transposed_convs(split)
    assert [r["name"] for r in records] == ["up"] and (records[0]["relu"] == "act") == relu
    onnx.checker.check_model(split, full_check=True)
    ops = [n.op_type for n in split.graph.node]
    assert "ConvTranspose" not in ops and ops.count("Conv") == 4 and ops.count("Relu") == (4 if relu else 0)
    x = _x(8, 64, 48)
    want = _run(model, x)[0]
    got = _run(split, x)[0]
    assert got.shape == want.shape == (2, 4, 128, 96)
    assert np.abs(got - want).max() < SPLIT_TOL
    assert split_records(split) == records and json.loads(split.metadata_props[0].value) == records
    joined = copy.deepcopy(split)
    assert join_transposed_convs(joined) == 1
    onnx.checker.check_model(joined, full_check=True)
    assert [n.op_type for n in joined.graph.node] == [n.op_type for n in model.graph.node]
    assert not split_records(joined) and METADATA_KEY not in {p.key for p in joined.metadata_props}
    np.testing.assert_array_equal(_run(joined, x)[0], want)  # the same layer and weights: bit-identical


def test_split_leaves_what_it_does_not_handle_or_is_told_to_keep():
    half = _graph(64, 48)  # float16 weights (an fp16 graph): the split writes float32 kernels, so it keeps the layer
    half.graph.initializer[0].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(half.graph.initializer[0]).astype(np.float16), "w"))
    cases = [(_graph(64, 48, strides=(1, 1)), {}), (_graph(64, 48, kernel=3), {}), (half, {}),
             (_graph(32, 24), {"min_input_pixels": 32 * 24 + 1})]
    for m, kwargs in cases:
        before = m.SerializeToString()
        assert split_transposed_convs(m, **kwargs) == [] and m.SerializeToString() == before
    assert PHASE_MIN_INPUT_PIXELS <= 4 * 3  # the default splits every size (measured fastest on the whole student)
    assert split_transposed_convs(_graph(4, 3))


def test_a_relu_shared_with_another_consumer_stays_put():
    model = _graph(64, 48, extra_consumer=True)
    split = copy.deepcopy(model)
    (rec,) = split_transposed_convs(split)
    assert rec["relu"] is None and [n.op_type for n in split.graph.node].count("Relu") == 1
    x = _x(8, 64, 48)
    for got, want in zip(_run(split, x), _run(model, x)):
        assert np.abs(got - want).max() < SPLIT_TOL


def test_pruned_graph_keeps_the_records_of_the_layers_it_kept():
    from onnx.utils import Extractor

    split = _graph(64, 48)
    split_transposed_convs(split)
    sub = Extractor(split).extract_model(["x"], ["y"])
    assert not split_records(sub)  # onnx's extractor drops metadata: copy_records puts it back
    copy_records(split, sub)
    assert [r["name"] for r in split_records(sub)] == ["up"] and join_transposed_convs(sub) == 1


def test_joined_bytes_reads_plain_graphs_as_they_are(tmp_path):
    plain = tmp_path / "plain.onnx"
    onnx.save(_graph(64, 48), str(plain))
    assert joined_bytes(plain) is None
    split = _graph(64, 48)
    split_transposed_convs(split)
    onnx.save(split, str(tmp_path / "split.onnx"))
    joined = onnx.load_from_string(joined_bytes(tmp_path / "split.onnx"))
    assert [n.op_type for n in joined.graph.node] == ["ConvTranspose", "Relu"]


def test_export_splits_and_checks_parity_and_openvino_reads_the_layer_back(tmp_path):
    torch = pytest.importorskip("torch")
    from tryon.export.trace import export_checked

    class Up(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = torch.nn.ConvTranspose2d(8, 4, 4, 2, 1)

        def forward(self, x):
            return torch.tanh(torch.relu(self.up(x)))

    torch.manual_seed(0)
    module = Up().eval()
    x = torch.rand(2, 8, 64, 48) * 2 - 1
    path = tmp_path / "up.onnx"
    info, model = export_checked(module, (x,), ["x"], ["y"], path, 17, True, "auto", 17, "test", "the inputs")
    assert len(info["phase_split"]) == 1 and "ConvTranspose" not in {n.op_type for n in onnx.load(str(path)).graph.node}
    with torch.no_grad():
        want = module(x).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    assert np.abs(got - want).max() < SPLIT_TOL
    plain = tmp_path / "plain.onnx"
    info, _ = export_checked(module, (x,), ["x"], ["y"], plain, 17, True, "auto", 17, "test", "the inputs", phase_split=False)
    assert info["phase_split"] == [] and "ConvTranspose" in {n.op_type for n in onnx.load(str(plain)).graph.node}
    if importlib.util.find_spec("openvino") is None:
        return
    from tryon.deploy.openvino import OpenVINOSession

    ov = OpenVINOSession(path, "fp32", 1)
    assert "ConvolutionBackpropData" in {op.get_type_name() for op in ov.model.get_ops()}  # joined before compiling
    (ov_out,) = ov.run(None, {"x": x.numpy()})
    # OpenVINO's fp32 kernels vs torch: accumulation order only (1e-6 measured); 1e-4 leaves room for other ISAs
    assert np.abs(ov_out - want).max() < 1e-4
