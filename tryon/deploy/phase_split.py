"""Transposed convolutions spelled for each CPU engine: :func:`split_transposed_convs` and its exact inverse.

The architecture and the weights stay as trained (000 App. E fixes the student's layers); only how the ONNX
graph spells a layer changes. onnxruntime runs ``ConvTranspose`` as a GEMM followed by a col2im scatter, outside
its blocked (NCHWc) convolution kernels: on the U-Net decoders' full-resolution layer (16 channels, 128×96 →
256×192) that is 3.2–4.5 ms for 50 M multiply-accumulates (≈ 13 GMAC/s on a 2-core AVX-512 EPYC), against
≈ 0.9 ms for four 2×2 phase convolutions and their interleave. OpenVINO is the other way round: its
transposed conv is fast and the interleave below is slow there (student 27.8 ms → 32.6 ms when it reads the split
graph), so :func:`join_transposed_convs` gives it the original layer back. ``tryon export`` writes the split
graph (onnxruntime is the engine every install has) and records what it split in the file's metadata
(``METADATA_KEY``); the OpenVINO session joins before compiling. Parity is checked on the split graph by the
export's usual criterion.
"""

from __future__ import annotations

import json
from typing import Any

#: the ONNX metadata entry listing the split layers (JSON list of records, see :func:`split_transposed_convs`)
METADATA_KEY = "tryon.phase_split"

#: Split a transposed conv only when its input has at least this many pixels (H × W); 0: every one. Measured on
#: the 256×192 student with onnxruntime 1.32 on a 2-core AVX-512 EPYC, the whole graph timed in interleaved rounds
#: with none / the 2 largest / 3 / all 5 of its transposed convs split: 32.03 / 30.39 / 29.96 / 29.58 ms (a second
#: run: 38.81 / 37.62 / 37.73 / 37.51 ms on a busier machine) — splitting all is fastest, though alone the small
#: shapes (8×6 to 16×12 inputs) time bimodally either way. A floor for engines or CPUs where the small ones lose.
PHASE_MIN_INPUT_PIXELS = 0

#: For a 4×4, stride-2, padding-1 transposed conv, output row 2m + a (phase a) sums two input rows; window row r
#: of phase a reads input row m − 1 + a + r through this kernel row. Columns alike.
_PHASE_TAPS = {(0, 0): 3, (0, 1): 1, (1, 0): 2, (1, 1): 0}
_PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _splittable(node: Any, inits: dict[str, Any], uses: dict[str, int], shapes: dict[str, list], min_pixels: int) -> bool:
    """Whether ``node`` is a ConvTranspose this rewrite handles exactly, and large enough to gain."""
    if node.op_type != "ConvTranspose" or node.input[1] not in inits or uses.get(node.input[1], 0) != 1:
        return False
    if len(node.input) > 2 and node.input[2] and node.input[2] not in inits:
        return False
    a = _attrs(node)
    w = inits[node.input[1]]
    if w.data_type != 1 or len(w.dims) != 4 or list(w.dims[2:]) != [4, 4]:  # float32 weights (TensorProto.FLOAT)
        return False
    if (list(a.get("strides", [1, 1])) != [2, 2] or list(a.get("pads", [0, 0, 0, 0])) != [1, 1, 1, 1]
            or list(a.get("dilations", [1, 1])) != [1, 1] or int(a.get("group", 1)) != 1
            or any(a.get("output_padding", [0, 0])) or "output_shape" in a
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
        return False
    shape = shapes.get(node.input[0])
    return (shape is not None and len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:])
            and shape[2] * shape[3] >= min_pixels)


def _static_shapes(model: Any) -> dict[str, list]:
    """Every value's inferred shape (None where a dimension is symbolic); {} when onnx cannot infer them, which
    leaves every layer as traced."""
    import onnx

    try:
        g = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - onnx raises its own inference errors; splitting is an optimisation only
        return {}
    return {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            for v in list(g.value_info) + list(g.input) + list(g.output)}


def split_records(model: Any) -> list[dict[str, Any]]:
    """The layers :func:`split_transposed_convs` split in ``model`` (from its metadata; [] when none)."""
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            return list(json.loads(p.value))
    return []


def _set_records(model: Any, records: list[dict[str, Any]]) -> None:
    for p in list(model.metadata_props):
        if p.key == METADATA_KEY:
            model.metadata_props.remove(p)
    if records:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(records)


def split_transposed_convs(model: Any, min_input_pixels: int = PHASE_MIN_INPUT_PIXELS) -> list[dict[str, Any]]:
    """Rewrite, in place, each 4×4 stride-2 padding-1 ``ConvTranspose`` of ``model`` whose input has at least
    ``min_input_pixels`` pixels (default: all) as four 2×2 ``Conv`` nodes, one per output phase (a, b) with
    asymmetric padding, interleaved by Unsqueeze/Concat/Reshape (onnxruntime's DepthToSpace is slower than this on
    CPU). A ``Relu`` that is the transposed conv's only consumer moves onto the four convolutions, where onnxruntime
    fuses it.
    The sums are the same products in another order (max abs difference ~1e-6 on unit-scale activations).
    Returns the records (also stored in the model's metadata): the layer's ``name``, ``input``, ``weight`` and
    ``bias`` names, the ``prefix`` of the new nodes and initializers, ``output`` (the value the interleave writes),
    ``relu`` (the moved Relu's name or null) and ``relu_input`` (the layer's own output name). Needs opset >= 13,
    float32 weights and static spatial sizes; other layers are left as they are.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    g = model.graph
    if opset < 13 or not any(n.op_type == "ConvTranspose" for n in g.node):
        return []
    inits = {t.name: t for t in g.initializer}
    shapes = _static_shapes(model)
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    uses = {name: len(users) for name, users in consumers.items()}
    graph_outputs = {o.name for o in g.output}
    records = split_records(model)
    for node in [n for n in g.node if _splittable(n, inits, uses, shapes, min_input_pixels)]:
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)  # (C_in, C_out, 4, 4)
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        width = shapes[node.input[0]][3]
        users = consumers.get(node.output[0], [])
        relu = users[0] if (len(users) == 1 and users[0].op_type == "Relu" and node.output[0] not in graph_outputs) else None
        final = relu.output[0] if relu is not None else node.output[0]
        p = f"{node.name or node.output[0]}/phase"
        new_inits = [numpy_helper.from_array(np.array(v, np.int64), f"{p}/{k}") for k, v in
                     (("last", [-1]), ("axis3", [3]), ("rows_shape", [0, 0, 0, -1]), ("image_shape", [0, 0, -1, 2 * width]))]
        new_nodes, rows = [], []
        for a in (0, 1):
            cols = []
            for b in (0, 1):
                k = np.empty((w.shape[1], w.shape[0], 2, 2), np.float32)
                for r in (0, 1):
                    for c in (0, 1):
                        k[:, :, r, c] = w[:, :, _PHASE_TAPS[(a, r)], _PHASE_TAPS[(b, c)]].T
                y = f"{p}{a}{b}"
                new_inits.append(numpy_helper.from_array(k, f"{y}/weight"))
                new_nodes.append(helper.make_node("Conv", [node.input[0], f"{y}/weight"] + ([bias] if bias else []), [y],
                                                  name=y, kernel_shape=[2, 2], pads=[1 - a, 1 - b, a, b]))
                if relu is not None:
                    new_nodes.append(helper.make_node("Relu", [y], [f"{y}/relu"], name=f"{y}/relu"))
                    y = f"{y}/relu"
                new_nodes.append(helper.make_node("Unsqueeze", [y, f"{p}/last"], [f"{y}/u"], name=f"{y}/u"))
                cols.append(f"{y}/u")
            row = f"{p}{a}/row"
            new_nodes += [helper.make_node("Concat", cols, [f"{row}/pairs"], name=f"{row}/pairs", axis=-1),
                          helper.make_node("Reshape", [f"{row}/pairs", f"{p}/rows_shape"], [row], name=row),
                          helper.make_node("Unsqueeze", [row, f"{p}/axis3"], [f"{row}/u"], name=f"{row}/u")]
            rows.append(f"{row}/u")
        new_nodes += [helper.make_node("Concat", rows, [f"{p}/rows"], name=f"{p}/rows", axis=3),
                      helper.make_node("Reshape", [f"{p}/rows", f"{p}/image_shape"], [final], name=f"{p}/image")]
        at = list(g.node).index(node)
        del g.node[at]
        for i, n in enumerate(new_nodes):
            g.node.insert(at + i, n)
        if relu is not None:
            g.node.remove(relu)
        g.initializer.remove(inits[node.input[1]])
        g.initializer.extend(new_inits)
        records.append({"name": node.name, "prefix": p, "input": node.input[0], "output": final, "bias": bias,
                        "weight": node.input[1], "relu": relu.name if relu is not None else None,
                        "relu_input": node.output[0]})
    _set_records(model, records)
    return records


def join_transposed_convs(model: Any) -> int:
    """Undo :func:`split_transposed_convs` in place (from the records in ``model``'s metadata): each layer is one
    ``ConvTranspose`` again, with the original weights rebuilt exactly from the four phase kernels (every kernel
    tap sits in exactly one of them), followed by its ``Relu`` when one was moved. Returns how many it joined."""
    import numpy as np
    from onnx import helper, numpy_helper

    records = split_records(model)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    for rec in records:
        p = rec["prefix"]
        ks = {ab: numpy_helper.to_array(inits[f"{p}{ab[0]}{ab[1]}/weight"]) for ab in _PHASES}
        c_out, c_in = ks[(0, 0)].shape[:2]
        w = np.empty((c_in, c_out, 4, 4), np.float32)
        for (a, b), k in ks.items():
            for r in (0, 1):
                for c in (0, 1):
                    w[:, :, _PHASE_TAPS[(a, r)], _PHASE_TAPS[(b, c)]] = k[:, :, r, c].T
        mine = [n for n in g.node if n.name.startswith(p)]
        if not mine:
            raise ValueError(f"the graph's metadata lists the split layer {rec['name']!r} but none of its nodes")
        at = list(g.node).index(mine[0])
        for n in mine:
            g.node.remove(n)
        out = rec["relu_input"] if rec["relu"] else rec["output"]
        nodes = [helper.make_node("ConvTranspose", [rec["input"], rec["weight"]] + ([rec["bias"]] if rec["bias"] else []),
                                  [out], name=rec["name"], kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])]
        if rec["relu"]:
            nodes.append(helper.make_node("Relu", [out], [rec["output"]], name=rec["relu"]))
        for i, n in enumerate(nodes):
            g.node.insert(at + i, n)
        for t in [t for t in g.initializer if t.name.startswith(p)]:
            g.initializer.remove(t)
        g.initializer.append(numpy_helper.from_array(w, rec["weight"]))
    _set_records(model, [])
    return len(records)


def copy_records(src: Any, dst: Any) -> None:
    """Give ``dst`` (a graph cut out of ``src``, e.g. pruned to some outputs) the records of ``src``'s split layers
    whose nodes it kept."""
    kept = {n.name for n in dst.graph.node}
    _set_records(dst, [r for r in split_records(src) if f"{r['prefix']}/image" in kept])


def joined_bytes(path: Any) -> bytes | None:
    """``path``'s ONNX graph with its split layers joined, serialised; ``None`` when it has none (read the file as
    is, as also without the ``onnx`` package: still exact, only slower). For engines whose own transposed
    convolution is the fast one (OpenVINO)."""
    try:
        import onnx
    except ImportError:
        return None

    model = onnx.load(str(path))
    return model.SerializeToString() if join_transposed_convs(model) else None


__all__ = ["METADATA_KEY", "PHASE_MIN_INPUT_PIXELS", "copy_records", "join_transposed_convs", "joined_bytes", "split_records",
           "split_transposed_convs"]
