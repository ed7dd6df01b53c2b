"""Split export: several graphs whose chain equals the component (e.g. garment / person branches and a pair
head), each exported and checked, the chain judged by the export's parity criterion (catalogue mode); the head
also pruned to the main output where that drops work (the catalogue's default asks for the main output only)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import TryonError
from ..fs import sha256_file
from .layout import MODEL_NAME
from .parity import Reference, compare, fp32_parity, summarise
from .trace import count_ops, cpu_session, export_checked, file_opset, outputs_tuple, root_cause, shape_list

_GRAPH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_split_graphs(graphs: Sequence[Any], in_names: list[str], out_names: list[str], where: str) -> None:
    """The graphs must form a chain: each takes component inputs or earlier outputs; the last one yields
    the component's outputs; names are unique and file-safe."""
    from ..registry import GraphSpec

    if not graphs:
        raise TryonError(f"{where}: ExportSpec.split returned no graphs")
    available, seen = set(in_names), set()
    for g in graphs:
        if not isinstance(g, GraphSpec):
            raise TryonError(f"{where}: ExportSpec.split must return tryon.registry.GraphSpec items, got {type(g).__name__}")
        if not _GRAPH_NAME.match(g.name) or g.name in seen or g.name == Path(MODEL_NAME).stem:
            raise TryonError(f"{where}: split graph name {g.name!r} is not unique/file-safe (letters, digits, _ and -)")
        seen.add(g.name)
        missing = [i for i in g.inputs if i not in available]
        if missing:
            raise TryonError(f"{where}: split graph {g.name!r} takes {missing}, which are neither component inputs "
                             f"({in_names}) nor outputs of an earlier graph")
        clash = [o for o in g.outputs if o in available]
        if clash or len(set(g.outputs)) != len(g.outputs):
            raise TryonError(f"{where}: split graph {g.name!r} outputs {list(g.outputs)} reuse names already defined: {clash}")
        available.update(g.outputs)
    if list(graphs[-1].outputs) != out_names:
        raise TryonError(f"{where}: the last split graph {graphs[-1].name!r} must output {out_names}, "
                         f"it outputs {list(graphs[-1].outputs)}")


def graph_role(graph_inputs: Sequence[str], component_inputs: Sequence[str]) -> str | None:
    """The component input a *branch* graph depends on (one component input and nothing else), else None."""
    return graph_inputs[0] if len(graph_inputs) == 1 and graph_inputs[0] in component_inputs else None


def run_chain(sessions: Sequence[tuple[Any, Sequence[str]]], feeds: dict[str, np.ndarray], component_inputs: Sequence[str],
              round_fp16: bool = False) -> dict[str, np.ndarray]:
    """Run ``[(onnxruntime session, its input names), ...]`` in order on ``feeds``; every value is available
    to later graphs. ``round_fp16``: values that a non-branch graph receives are rounded to float16 first
    (what a feature store in fp16 does to cached features and inputs)."""
    values = dict(feeds)
    for sess, names in sessions:
        branch = graph_role(names, component_inputs) is not None
        feed = {}
        for n in names:
            v = values[n]
            feed[n] = v.astype(np.float16).astype(np.float32) if round_fp16 and not branch else v
        outs = sess.run(None, feed)
        values.update(zip([o.name for o in sess.get_outputs()], outs))
    return values


def prune_to_outputs(src: Path, dst: Path, outputs: Sequence[str]) -> dict[str, Any] | None:
    """Write the part of graph ``src`` that ``outputs`` need to ``dst`` (onnx's ``Extractor``; inputs no kept node
    reads are dropped). Returns ``{"inputs", "nodes", "nodes_dropped"}``, or None (nothing written) when every node
    is needed anyway. onnxruntime runs every node of a session whatever the outputs asked for, so a head whose
    second output has work of its own (S-WUTON's full-resolution garment warp) needs this graph to skip it."""
    import onnx
    from onnx.utils import Extractor

    from ..deploy.phase_split import copy_records

    model = onnx.load(str(src))
    names = [i.name for i in model.graph.input]
    sub = Extractor(model).extract_model(names, list(outputs))
    copy_records(model, sub)
    if len(sub.graph.node) == len(model.graph.node):
        return None
    read = {i for n in sub.graph.node for i in n.input}
    kept = [i for i in sub.graph.input if i.name in read or i.name in outputs]
    del sub.graph.input[:]
    sub.graph.input.extend(kept)
    onnx.checker.check_model(sub)
    onnx.save(sub, str(dst))
    return {"inputs": [i.name for i in kept], "nodes": len(sub.graph.node),
            "nodes_dropped": len(model.graph.node) - len(sub.graph.node)}


def _pruned_head(head: dict[str, Any], path: Path, main: str, cases: Sequence[Any], sessions: Sequence[tuple[Any, Sequence[str]]],
                 in_names: Sequence[str]) -> dict[str, Any] | None:
    """The head graph pruned to the main output (written next to it), checked on every parity case against the
    full head's main output; None when pruning drops nothing."""
    dst = path.with_name(f"{head['name']}-{re.sub(r'[^A-Za-z0-9_-]', '_', main)}.onnx")
    info = prune_to_outputs(path, dst, [main])
    if info is None:
        return None
    sess = cpu_session(dst)
    worst = 0.0
    for c in cases:
        values = run_chain(sessions, c.feeds, in_names)
        (got,) = sess.run([main], {n: values[n] for n in info["inputs"]})
        worst = max(worst, float(np.abs(got.astype(np.float64) - values[main]).max()))
    if worst > 1e-4:  # the same nodes on the same inputs: anything beyond rounding is a pruning bug
        raise TryonError(f"split graph {head['name']!r} pruned to {main!r}: differs from the full head by {worst:.2e}")
    return {"outputs": [main], "file": dst.name, "inputs": info["inputs"], "nodes_dropped": info["nodes_dropped"],
            "sha256": sha256_file(dst), "bytes": dst.stat().st_size, "max_abs_vs_head": worst}


def export_split(pipeline: Any, spec: Any, tmp: Path, example: dict[str, Any], reference: Reference, mono_sess: Any,
                  opset: int, dynamic_batch: bool, exporter: str, tolerance: float | None, where: str,
                  phase_split: bool = True) -> tuple[list, dict]:
    """Export ``spec.split(pipeline)``'s graphs next to ``model.onnx`` and check their chain on every parity case
    of the main export by the same criterion as ``model.onnx`` (:func:`tryon.export.parity.fp32_parity`; a fixed
    bound with ``tolerance``). The chain's difference from ``model.onnx`` and the error with the cached values
    stored as float16 are recorded too."""
    import torch

    in_names, out_names = list(example), list(spec.outputs)
    graphs = list(spec.split(pipeline) or [])
    check_split_graphs(graphs, in_names, out_names, where)
    values: dict[str, Any] = dict(example)
    records, sessions = [], []
    for g in graphs:
        gw = f"{where} split graph {g.name!r}"
        module = g.build(pipeline)
        if not isinstance(module, torch.nn.Module):
            raise TryonError(f"{gw}: build returned {type(module).__name__}, expected a torch.nn.Module")
        if any(p.device.type != "cpu" for p in list(module.parameters()) + list(module.buffers())):
            module = copy.deepcopy(module).cpu()
        module.eval()
        args = tuple(values[i] for i in g.inputs)
        try:
            with torch.no_grad():
                outs = outputs_tuple(module(*args), list(g.outputs))
        except Exception as exc:  # noqa: BLE001
            raise TryonError(f"{gw}: the module failed on its example inputs: {root_cause(exc)}") from None
        if len(outs) != len(g.outputs):
            raise TryonError(f"{gw}: the module returns {len(outs)} outputs but the GraphSpec names {len(g.outputs)}")
        values.update({n: o.detach() for n, o in zip(g.outputs, outs)})
        path = tmp / f"{g.name}.onnx"
        info, model = export_checked(module, args, list(g.inputs), list(g.outputs), path, opset, dynamic_batch,
                                      exporter, spec.min_opset, gw, "the GraphSpec inputs", phase_split)
        sessions.append((cpu_session(path), list(g.inputs)))
        records.append({
            "name": g.name,
            "file": path.name,
            "role": "branch" if graph_role(g.inputs, in_names) else "head",
            "branch_of": graph_role(g.inputs, in_names),
            "inputs": [{"name": n, "shape": shape_list(values[n].shape, dynamic_batch), "dtype": "float32"} for n in g.inputs],
            "outputs": [{"name": n, "shape": shape_list(values[n].shape, dynamic_batch), "dtype": "float32"} for n in g.outputs],
            "sha256": sha256_file(path), "bytes": path.stat().st_size, "opset": file_opset(model), "exporter": info["exporter"],
            "exporter_fallback_reason": info.get("fallback_reason"), "ops": count_ops(model),
            "phase_split": info["phase_split"],
        })

    if len(out_names) > 1:  # the catalogue asks for the main output only by default
        pruned = _pruned_head(records[-1], tmp / records[-1]["file"], out_names[0], reference.cases, sessions, in_names)
        if pruned is not None:
            records[-1]["pruned"] = [pruned]
    chains, vs_mono, cases16 = [], [], []
    for c in reference.cases:
        mono = [np.asarray(o, np.float64) for o in mono_sess.run(None, c.feeds)]
        got = run_chain(sessions, c.feeds, in_names)
        chains.append([got[n] for n in out_names])
        vs_mono.append({"batch": c.batch, "inputs": c.kind, "errors": compare(chains[-1], mono, out_names, f"{where} split chain")})
        got16 = run_chain(sessions, c.feeds, in_names, round_fp16=True)
        cases16.append({"batch": c.batch, "inputs": c.kind,
                        "errors": compare([got16[n] for n in out_names], mono, out_names, "fp16 features")})
    chain_desc = " -> ".join(g.name for g in graphs)
    parity = fp32_parity(reference.cases, chains, out_names, where=where, label=f"split ({chain_desc})",
                         provider="CPUExecutionProvider", float64_reason=reference.float64_reason, tolerance=tolerance)
    mono_diff = summarise(vs_mono, "CPUExecutionProvider", f"{MODEL_NAME} (onnxruntime CPU)")
    fp16 = summarise(cases16, "CPUExecutionProvider", f"{MODEL_NAME} (onnxruntime CPU), fp32 features")
    split = {
        "graphs": [g.name for g in graphs],
        "parity": parity,
        "vs_model": {"max_abs_error": mono_diff["max_abs_error"], "by_output": mono_diff["by_output"]},
        "fp16_features": {
            "max_abs_error": fp16["max_abs_error"], "by_output": fp16["by_output"], "by_batch": fp16["by_batch"],
            "note": "every value a head graph receives (cached features, cached inputs) rounded to float16 and back",
        },
    }
    return records, split



__all__ = ["check_split_graphs", "export_split", "graph_role", "prune_to_outputs", "run_chain"]
