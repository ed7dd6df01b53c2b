"""The fp16 variant of an export: onnxruntime's float16 converter with a policy that keeps precision-sensitive ops
(and the whole sampling-grid computation) in float32, and the converter's useless cast pairs removed."""

from __future__ import annotations

import os
from typing import Any, Sequence

from ..errors import TryonError
from .trace import quiet_warnings

#: (the nodes between the last Conv/Gemm and GridSample's grid input) in fp32, with the converter's
#: fp32→fp16→fp32 cast pairs removed, gave 4.1e-4 / 1.3e-3.
FP16_EXTRA_BLOCK = (
    "GridSample", "InstanceNormalization", "LayerNormalization", "GroupNormalization", "Resize", "Softmax",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceProd", "LpNormalization", "Pow", "Sqrt",
)
#: ops where an int8 QDQ model actually quantises (the heavy ones); element-wise ops, norms and the
#: sampling-grid computation stay float (quantising the grid to 8 bits moved samples by ~1/128 of the image:
_GRID_STOP = ("Conv", "ConvTranspose", "Gemm")


def grid_chain_nodes(model: Any, stop: Sequence[str] = _GRID_STOP, limit: int = 256) -> list[str]:
    """Names of the nodes computing GridSample's grid input, back to the last Conv/Gemm (or graph input)."""
    prod = {o: n for n in model.graph.node for o in n.output}
    found: dict[str, Any] = {}
    todo = [n.input[1] for n in model.graph.node if n.op_type == "GridSample" and len(n.input) > 1]
    while todo and len(found) < limit:
        n = prod.get(todo.pop())
        if n is None or n.name in found or n.op_type in stop:
            continue
        found[n.name] = n
        todo.extend(n.input)
    return sorted(found)


def ensure_node_names(model: Any) -> None:
    used = {n.name for n in model.graph.node if n.name}
    for i, n in enumerate(model.graph.node):
        if not n.name:
            name = f"{n.op_type}_{i}"
            while name in used:
                name += "_"
            n.name = name
            used.add(name)


def _toposort(graph: Any) -> None:
    """Nodes in topological order (the fp16 converter appends its Cast nodes at the end)."""
    avail = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    nodes, ordered = list(graph.node), []
    while nodes:
        rest = []
        for n in nodes:
            if all(i in avail for i in n.input):
                ordered.append(n)
                avail.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(nodes):
            raise TryonError("fp16 conversion produced a graph with unresolved inputs: " + ", ".join(n.name for n in rest[:5]))
        nodes = rest
    del graph.node[:]
    graph.node.extend(ordered)


def _collapse_cast_pairs(model: Any) -> int:
    """Replace ``Cast(fp32→fp16) → Cast(fp16→fp32)`` pairs by the original fp32 tensor (no rounding between
    two fp32-blocked nodes), then drop dead nodes. Returns the number of pairs removed."""
    import onnx
    from onnx import TensorProto

    g = model.graph
    del g.value_info[:]  # the converter leaves stale types; re-inferred below and by the checker
    _toposort(g)
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in list(inferred.graph.value_info) + list(g.input) + list(g.output)}
    types.update({i.name: i.data_type for i in g.initializer})
    prod = {o: n for n in g.node for o in n.output}

    def cast_to(n: Any) -> int:
        return next((a.i for a in n.attribute if a.name == "to"), -1)

    k = 0
    for n in g.node:
        if n.op_type != "Cast" or cast_to(n) != TensorProto.FLOAT:
            continue
        p = prod.get(n.input[0])
        if p is not None and p.op_type == "Cast" and cast_to(p) == TensorProto.FLOAT16 and types.get(p.input[0]) == TensorProto.FLOAT:
            n.op_type = "Identity"
            del n.attribute[:]
            n.input[0] = p.input[0]
            k += 1
    while True:  # dead-node elimination
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    _toposort(g)
    return k


def convert_fp16(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, Any]:
    """The fp16 policy: ``keep_io_types=True`` (fp32 in/out), ops in :data:`FP16_EXTRA_BLOCK` and the
    sampling-grid chain kept in fp32, redundant cast pairs removed. Returns the policy record."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(src))
    ensure_node_names(model)
    block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(FP16_EXTRA_BLOCK))
    chain = grid_chain_nodes(model)
    with quiet_warnings():
        m16 = convert_float_to_float16(model, keep_io_types=True, op_block_list=block, node_block_list=chain)
    removed = _collapse_cast_pairs(m16)
    onnx.save(m16, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)
    present = {n.op_type for n in model.graph.node}
    return {
        "converter": "onnxruntime.transformers.float16.convert_float_to_float16",
        "keep_io_types": True,
        "op_block_list_present": sorted(present & set(block)),
        "fp32_grid_nodes": len(chain),
        "cast_pairs_removed": removed,
    }



__all__ = ["FP16_EXTRA_BLOCK", "convert_fp16", "ensure_node_names", "grid_chain_nodes"]
