"""Multiply-accumulate counts of an ONNX graph and the reference convolution graph of the efficiency figure.

**No torch import** (``onnx`` only). :func:`count_macs` counts the MACs of one forward pass from the graph
itself — the ops that carry the arithmetic: ``Conv`` (``N·H_out·W_out·C_out·C_in/g·k_h·k_w``), ``ConvTranspose``
(``N·H_in·W_in·C_in·C_out/g·k_h·k_w``), ``Gemm`` and ``MatMul`` (``batch·M·N·K``); element-wise ops, norms,
GridSample and reshapes are not counted (they are memory-bound; their time is what the efficiency figure
exposes). Shapes come from ONNX shape inference with the symbolic batch fixed to ``batch``.

:func:`reference_conv_model` is the yardstick of ``tryon bench``'s *efficiency*: 3×3 convs
64→64 at 128×96 (0.45 GMAC each; the bench chains 4), run with the same backend, threads and precision as the model; efficiency =
the model's achieved GMAC/s ÷ the reference's GMAC/s. It is built with ``onnx.helper`` (a single Conv node
is what the torch exporter writes for ``nn.Conv2d`` too; building it directly keeps this module torch-free).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: ops whose arithmetic is counted (their int8 forms are counted from the fp32 graph, once)
COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
#: the reference of ``tryon bench``: 4 chained 3×3 convs 64→64 at 128×96 (1.81 GMAC at batch 1); chained so that
#: the layout reorders at the graph's edges do not dominate (see :func:`reference_conv_model`)
REFERENCE_CONV = {"channels": 64, "height": 128, "width": 96, "kernel": 3, "depth": 4}


def _prod(vals: Any) -> int:
    out = 1
    for v in vals:
        out *= int(v)
    return out


def _fixed_batch(model: Any, batch: int) -> Any:
    """A copy of ``model`` whose symbolic input dimensions are ``batch``, with shapes inferred."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for inp in m.graph.input:
        for d in inp.type.tensor_type.shape.dim:
            if d.dim_param or not d.HasField("dim_value"):
                d.ClearField("dim_param")
                d.dim_value = int(batch)
    del m.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(m, data_prop=True)


def _shapes(model: Any) -> dict[str, list[int]]:
    import onnx

    shapes: dict[str, list[int]] = {}
    for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [int(d.dim_value) for d in dims]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    for node in model.graph.node:  # weights written as Constant nodes
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = list(onnx.numpy_helper.to_array(a.t).shape)
    return shapes


def _node_macs(node: Any, shapes: dict[str, list[int]]) -> int | None:
    """MACs of one node, or ``None`` when a shape it needs is unknown."""
    get = shapes.get
    if node.op_type == "Conv":
        w, y = get(node.input[1]), get(node.output[0])
        return None if w is None or y is None else y[0] * _prod(y[2:]) * _prod(w)
    if node.op_type == "ConvTranspose":
        w, x = get(node.input[1]), get(node.input[0])
        return None if w is None or x is None else x[0] * _prod(x[2:]) * _prod(w)
    if node.op_type == "Gemm":
        a, y = get(node.input[0]), get(node.output[0])
        if a is None or y is None:
            return None
        trans_a = next((int(at.i) for at in node.attribute if at.name == "transA"), 0)
        k = a[0] if trans_a else a[1]
        return _prod(y) * k
    if node.op_type == "MatMul":
        a, y = get(node.input[0]), get(node.output[0])
        return None if a is None or y is None else _prod(y) * a[-1]
    return 0


def count_macs(model: Any, batch: int = 1) -> dict[str, Any]:
    """MACs of one forward pass of ``model`` (an ``onnx.ModelProto`` or a path) at ``batch``.

    Returns ``{"macs", "gmac", "batch", "by_op": {op: macs}, "nodes": n counted, "unknown": [node names whose
    shape could not be inferred]}``.
    """
    import onnx

    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(str(model))
    m = _fixed_batch(model, batch)
    shapes = _shapes(m)
    by_op: dict[str, int] = {}
    unknown: list[str] = []
    counted = 0
    for node in m.graph.node:
        if node.op_type not in COUNTED_OPS:
            continue
        macs = _node_macs(node, shapes)
        if macs is None:
            unknown.append(node.name or node.op_type)
            continue
        by_op[node.op_type] = by_op.get(node.op_type, 0) + int(macs)
        counted += 1
    total = sum(by_op.values())
    return {"macs": int(total), "gmac": round(total / 1e9, 6), "batch": int(batch), "by_op": by_op, "nodes": counted,
            "unknown": unknown}


def conv_layers(model: Any, batch: int = 1) -> list[dict[str, Any]]:
    """Every ``Conv``/``ConvTranspose`` node of ``model`` at ``batch``: ``{"name", "op", "input", "weight", "strides",
    "pads", "group", "bias", "macs"}`` (shapes as lists; ``macs`` None where a shape is unknown) — the per-layer view
    of :func:`count_macs`, e.g. to time each convolution shape of a graph alone."""
    import onnx

    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(str(model))
    m = _fixed_batch(model, batch)
    shapes = _shapes(m)
    out = []
    for node in m.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        attrs = {a.name: a for a in node.attribute}
        strides = list(attrs["strides"].ints) if "strides" in attrs and attrs["strides"].ints else [1, 1]
        pads = list(attrs["pads"].ints) if "pads" in attrs and attrs["pads"].ints else [0, 0, 0, 0]
        out.append({"name": node.name, "op": node.op_type, "input": shapes.get(node.input[0]),
                    "weight": shapes.get(node.input[1]), "strides": strides, "pads": pads,
                    "group": int(attrs["group"].i) if "group" in attrs else 1, "bias": len(node.input) > 2 and bool(node.input[2]),
                    "macs": _node_macs(node, shapes)})
    return out


def reference_conv_model(channels: int = 64, height: int = 128, width: int = 96, kernel: int = 3, seed: int = 0,
                         opset: int = 17, depth: int = 1) -> Any:
    """The reference graph: ``x (N×C×H×W) → depth × Conv(C→C, k×k, pad k//2, bias) → y``, dynamic batch, random
    weights. ``depth > 1`` amortises the layout reorders a runtime puts at the graph's edges (OpenVINO fp32 turns
    a lone conv into NCHW→NHWC→NCHW copies: measured 21.7 ms for depth 1 on an EPYC core, see docs/benchmarks.md)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    pad = kernel // 2
    nodes, inits = [], []
    for i in range(int(depth)):
        w = (rng.standard_normal((channels, channels, kernel, kernel)) / np.sqrt(channels * kernel * kernel)).astype(np.float32)
        b = (rng.standard_normal(channels) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Conv", ["x" if i == 0 else f"h{i}", f"w{i}", f"b{i}"], ["y" if i == depth - 1 else f"h{i + 1}"],
                                      name=f"reference_conv{i}", kernel_shape=[kernel, kernel], pads=[pad, pad, pad, pad]))
    graph = helper.make_graph(
        nodes, "reference_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", channels, height, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", channels, height, width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tryon.macs")
    onnx.checker.check_model(model)
    return model


def write_reference_conv(path: str | os.PathLike, **kwargs: Any) -> Path:
    """Save :func:`reference_conv_model` to ``path`` (``.onnx``)."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(reference_conv_model(**kwargs), str(path))
    return path


def reference_conv_macs(channels: int = 64, height: int = 128, width: int = 96, kernel: int = 3, batch: int = 1,
                        depth: int = 1) -> int:
    return int(batch) * int(depth) * channels * channels * kernel * kernel * height * width


def significant(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits: the same relative precision on a slow CPU as on a fast one
    (a fixed number of decimals kept 0.0064 of a rate of 0.00636, a 0.6 % error, on a loaded 2-core machine)."""
    return float(f"{float(x):.{int(digits)}g}")


def efficiency(model_macs: int, model_ms: float, ref_macs: int, ref_ms: float) -> dict[str, float]:
    """``{"gmac_per_s", "ref_gmac_per_s", "efficiency"}``: achieved GMAC/s of the model over the reference's."""
    got = model_macs / (model_ms * 1e6)
    ref = ref_macs / (ref_ms * 1e6)
    return {"gmac_per_s": significant(got), "ref_gmac_per_s": significant(ref), "efficiency": significant(got / ref)}


__all__ = ["count_macs", "conv_layers", "reference_conv_model", "write_reference_conv", "reference_conv_macs", "efficiency", "significant",
           "COUNTED_OPS", "REFERENCE_CONV"]
