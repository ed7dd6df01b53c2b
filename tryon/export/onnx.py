"""Export a task component to ONNX, checked for parity against PyTorch.

Task-agnostic: everything comes from the task's :class:`tryon.ExportSpec` — ``spec.build(pipeline)`` is
the module, ``spec.example_inputs(pipeline, batch)`` its ordered inputs, ``spec.outputs`` the output names,
``spec.min_opset`` and ``spec.normalisation``.

:func:`export_onnx` writes ``out_dir/model.onnx`` + ``manifest.json`` + ``MODEL_CARD.md`` (and
``model_fp16.onnx`` with ``fp16=True``); :func:`quantize_int8` adds ``model_int8.onnx`` to an existing
export. Folder format: ``exports/README.md``.

Facts this relies on (measured with torch 2.13–2.14, onnx 1.23, onnxruntime 1.32):

* the default exporter is the torch.export-based one (``dynamo=True``, needs onnxscript); a dynamic batch
  is declared with ``torch.export.Dim``; it may silently raise the opset (17 → 18 when the
  down-conversion fails), so the opset *in the file* is what the manifest records;
* the TorchScript exporter (``dynamo=False``, ``dynamic_axes``) is the fallback — which one ran is recorded;
* ``torch.linalg.solve``/``inv`` have no ONNX op in either exporter: such models fail with one
  :class:`tryon.errors.TryonError` naming both exporters' errors;
* GridSample needs opset ≥ 16; InstanceNormalization exports in both exporters; both must be parity-checked.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..fs import atomic_directory, json_safe, sha256_file
from .._version import __version__
from ..errors import TryonError
from .parity import FP16_TOLERANCE, Reference, compare, fp32_parity, quantized_parity, reduced_parity, summarise
from ..runtime import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    input_kind,
    input_norm,
    prepare_input,
    read_manifest,
    write_manifest,
)

MODEL_NAME = "model.onnx"
FP16_NAME = "model_fp16.onnx"
INT8_NAME = "model_int8.onnx"
CARD_NAME = "MODEL_CARD.md"
EXPORT_BATCH = 2  # torch.export specialises dimensions of size 0/1, so the traced batch must be >= 2

#: ops kept in float32 by the fp16 policy, on top of onnxruntime's own DEFAULT_OP_BLOCK_LIST:
#: GridSample (the opset-16 CUDA kernel is float32-only; sampling coordinates need > 11 bits),
#: InstanceNormalization/LayerNormalization and every reduction / norm (sums of squares overflow fp16),
#: Resize and Softmax. Measured on the test model (conv → flow → GridSample, 64×48): blocking only the
#: ops gave 2.9e-3 / 7.9e-3 max error (image / warped); additionally keeping the whole grid computation
#: (the nodes between the last Conv/Gemm and GridSample's grid input) in fp32, with the converter's
#: fp32→fp16→fp32 cast pairs removed, gave 4.1e-4 / 1.3e-3.
FP16_EXTRA_BLOCK = (
    "GridSample", "InstanceNormalization", "LayerNormalization", "GroupNormalization", "Resize", "Softmax",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceProd", "LpNormalization", "Pow", "Sqrt",
)
#: ops where an int8 QDQ model actually quantises (the heavy ones); element-wise ops, norms and the
#: sampling-grid computation stay float (quantising the grid to 8 bits moved samples by ~1/128 of the image:
#: 0.44 max error on the test model vs 0.065 with this policy). ConvTranspose stays float too: onnxruntime
#: 1.32's CPU provider has no int8 ConvTranspose kernel, so quantising it only added DequantizeLinear/
#: QuantizeLinear around a float op (S-WUTON 256×192: int8 1.22× → 1.33× fp32 without them, SSIM vs fp32
#: 0.9892 → 0.9909; benchmarks/int8_variants.py, docs/benchmarks.md)
INT8_OP_TYPES = ("Conv", "Gemm", "MatMul")
_GRID_STOP = ("Conv", "ConvTranspose", "Gemm")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"tryon": __version__, "python": sys.version.split()[0]}
    for dist in ("torch", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out




def _root_cause(exc: BaseException) -> str:
    """``Type: first line`` of the innermost cause (the exporters wrap the useful message deeply)."""
    seen, c = [], exc
    while c is not None and c not in seen:
        seen.append(c)
        c = c.__cause__ or c.__context__
    inner = seen[-1]
    text = _ANSI.sub("", str(inner)).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(inner).__name__}: {line}"[:400]


def file_opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), -1)


def count_ops(model: Any) -> dict[str, int]:
    """Node op types of the main graph (``{"GridSample": 6, "Conv": 40, ...}``, most frequent first)."""
    c = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in model.graph.node)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _cpu_session(path: str | os.PathLike):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def resolve_export_spec(pipeline: Any, spec: Any = None, task: str | None = None) -> tuple[Any, str]:
    """``(ExportSpec, task name)`` from an ExportSpec, a component name or ``None`` (the task's first)."""
    from ..registry import ExportSpec

    task = task or getattr(pipeline, "task", "") or ""
    if isinstance(spec, ExportSpec):
        return spec, task
    if not task:
        raise TryonError("export: give an ExportSpec, or a pipeline built by tryon.load (its task names the spec)")
    from .. import get_task

    ts = get_task(task)
    if not ts.exportable:
        raise TryonError(f"task {task!r} declares no exportable component (TaskSpec.exportable is empty)")
    if spec is None:
        return ts.exportable[0], task
    for e in ts.exportable:
        if e.name == spec:
            return e, task
    raise TryonError(f"task {task!r} has no exportable component {spec!r} (has: {', '.join(e.name for e in ts.exportable)})")


def _outputs_tuple(out: Any, names: Sequence[str]) -> list[Any]:
    if isinstance(out, dict):
        return [out[n] for n in names]
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


# ------------------------------------------------------------------------------------------------
# graph export
# ------------------------------------------------------------------------------------------------
def _export_graph(module: Any, args: tuple, in_names: list[str], out_names: list[str], path: Path, opset: int,
                  dynamic_batch: bool, exporter: str) -> dict[str, Any]:
    """Run torch.onnx.export; dynamo first, TorchScript as the fallback. Returns what happened."""
    import torch

    errors: dict[str, str] = {}
    order = {"auto": ("dynamo", "torchscript"), "dynamo": ("dynamo",), "torchscript": ("torchscript",)}.get(exporter)
    if order is None:
        raise TryonError(f"exporter: expected auto, dynamo or torchscript, got {exporter!r}")
    for name in order:
        buf = io.StringIO()
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), _quiet_warnings():
                if name == "dynamo":
                    kw: dict[str, Any] = {}
                    if dynamic_batch:
                        kw["dynamic_shapes"] = _batch_dynamic_shapes(module, args, torch.export.Dim("batch", min=1, max=65536))
                    torch.onnx.export(module, args, str(path), dynamo=True, opset_version=opset, input_names=in_names,
                                      output_names=out_names, external_data=False, verbose=False, **kw)
                else:
                    axes = {n: {0: "batch"} for n in in_names + out_names} if dynamic_batch else None
                    torch.onnx.export(module, args, str(path), dynamo=False, opset_version=opset, input_names=in_names,
                                      output_names=out_names, dynamic_axes=axes, do_constant_folding=True)
            if not path.is_file():
                raise RuntimeError("the exporter returned without writing a file")
            return {"exporter": name, "seconds": round(time.perf_counter() - t0, 2),
                    "fallback_reason": errors.get("dynamo") if name != order[0] else None}
        except Exception as exc:  # noqa: BLE001 - any exporter failure → next exporter / one TryonError
            errors[name] = _root_cause(exc)
            if path.exists():
                path.unlink()
    detail = "; ".join(f"{k} exporter: {v}" for k, v in errors.items())
    raise TryonError(f"ONNX export failed ({detail})")


def _batch_dynamic_shapes(module: Any, args: tuple, batch: Any) -> tuple:
    """``dynamic_shapes`` for torch.export with dimension 0 of every input dynamic, shaped like ``forward``'s
    signature (torch.export wants a ``*features`` parameter's specs as one nested tuple)."""
    import inspect

    try:
        sig = inspect.signature(module.forward)
        bound = sig.bind(*args)
    except (TypeError, ValueError):
        return tuple({0: batch} for _ in args)
    shapes: list[Any] = []
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
            shapes.append(tuple({0: batch} for _ in value))
        else:
            shapes.append({0: batch})
    return tuple(shapes)


@contextlib.contextmanager
def _quiet_warnings():
    """Silence exporter/quantiser chatter (torch.onnx logger, warnings, onnxruntime.quantization's
    ``logging.warning`` calls on the root logger) for the duration of a call."""
    import logging
    import warnings

    loggers = [logging.getLogger("torch.onnx"), logging.getLogger()]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, lv in zip(loggers, levels):
                lg.setLevel(lv)


def _name_batch_dims(model: Any, dynamic: bool) -> None:
    if not dynamic:
        return
    for v in list(model.graph.input) + list(model.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


def _shape_list(shape: Sequence[int], dynamic: bool) -> list[Any]:
    s: list[Any] = [int(d) for d in shape]
    if dynamic and s:
        s[0] = "batch"
    return s


# ------------------------------------------------------------------------------------------------
# parity
# ------------------------------------------------------------------------------------------------
def _random_like(example: dict[str, Any], norm: dict[str, Any], spec_shapes: dict[str, list], gen: Any) -> dict[str, Any]:
    import torch

    out = {}
    for name, t in example.items():
        if not torch.is_floating_point(t):
            out[name] = t
            continue
        kind = input_kind({"name": name, "shape": spec_shapes[name]}, norm)
        n = input_norm(norm, name)
        if kind == "mask" and "range" not in n:
            out[name] = (torch.rand(t.shape, generator=gen) > 0.5).to(t.dtype)
        else:
            lo, hi = n.get("range", [-1.0, 1.0]) if "mean" not in n else (-2.0, 2.0)
            out[name] = (torch.rand(t.shape, generator=gen) * (hi - lo) + lo).to(t.dtype)
    return out


def _check_tensors(check_inputs: dict[str, Any], names: list[str], shapes: dict[str, list], resolution: list[int],
                   norm: dict[str, Any], batch: int) -> dict[str, Any]:
    """``check_inputs`` (``{name: tensor | image | list of images}``) → ``batch`` items per input (cycled)."""
    import torch

    missing = [n for n in names if n not in check_inputs]
    if missing:
        raise TryonError(f"check_inputs: missing {missing} (the component takes {names})")
    manifest_like = {"resolution": resolution, "normalisation": norm}
    out = {}
    for name in names:
        v = check_inputs[name]
        if torch.is_tensor(v):
            t = v.detach().float().cpu()
            t = t[None] if t.ndim == len(shapes[name]) - 1 else t
        else:
            items = list(v) if isinstance(v, (list, tuple)) else [v]
            arr, *_ = prepare_input(items, {"name": name, "shape": shapes[name]}, manifest_like)
            t = torch.from_numpy(arr)
        idx = [i % t.shape[0] for i in range(batch)]
        out[name] = t[idx]
    return out


# ------------------------------------------------------------------------------------------------
# fp16 policy
# ------------------------------------------------------------------------------------------------
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


def _ensure_node_names(model: Any) -> None:
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
    _ensure_node_names(model)
    block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(FP16_EXTRA_BLOCK))
    chain = grid_chain_nodes(model)
    with _quiet_warnings():
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


# ------------------------------------------------------------------------------------------------
# model card
# ------------------------------------------------------------------------------------------------
def parity_sentence(p: dict[str, Any]) -> str:
    """One sentence for a parity record: the criterion, the worst error and the bound it met."""
    if p.get("criterion") == "float64":
        worst = max(p["error_vs_float64"], key=lambda n: p["error_vs_float64"][n] / p["bound"][n])
        return (f"error vs a float64 run **{p['error_vs_float64'][worst]:.2e}** on `{worst}` (torch fp32's own "
                f"{p['torch_fp32_error'][worst]:.2e}; bound {p['bound'][worst]:.2e}: {p['rule']}).")
    if p.get("bound"):
        return f"max abs error **{p['max_abs_error']:.2e}** ({p['rule']})."
    return f"max abs error **{p['max_abs_error']:.2e}**."


def model_card(m: dict[str, Any]) -> str:
    H, W = m["resolution"] if m.get("resolution") else ("?", "?")
    p = m["parity"]
    lines = [
        f"# {m['task']} / {m['component']} — ONNX export",
        "",
        f"Exported by tryon {m['versions'].get('tryon', '?')} on {m['date']} with the {m['exporter']} exporter "
        f"(torch {m['versions'].get('torch', '?')}), opset {m['opset']}"
        + (f" (requested {m['opset_requested']})" if m["opset"] != m["opset_requested"] else "") + ".",
        "",
        "| input | shape | | output | shape |",
        "|---|---|---|---|---|",
    ]
    ins, outs = m["inputs"], m["outputs"]
    for i in range(max(len(ins), len(outs))):
        a = ins[i] if i < len(ins) else {"name": "", "shape": ""}
        b = outs[i] if i < len(outs) else {"name": "", "shape": ""}
        lines.append(f"| `{a['name']}` | {a['shape']} | | `{b['name']}` | {b['shape']} |")
    norm = {k: v for k, v in m["normalisation"].items()}
    call_args = ", ".join(f"{i['name']}=..." for i in ins)
    in_list = ", ".join(i["name"] for i in ins)
    files = ", ".join(f"`{e['file']}` ({k}, sha256 {e['sha256'][:12]}…)" for k, e in m["models"].items())
    lines += [
        "",
        f"Resolution {H}×{W} (H×W); images are letterboxed to it (aspect kept, white padding). "
        f"Normalisation: `{json.dumps(norm)}`. Batch is dynamic: {m['dynamic_batch']}.",
        "",
        "## Parity",
        "",
        f"fp32 on {p['provider']}: {parity_sentence(p)} Max abs error vs torch fp32 by batch: "
        + ", ".join(f"B={b}: " + ", ".join(f"{k} {v:.1e}" for k, v in d.items()) for b, d in p["by_batch"].items()) + ".",
    ]
    for variant in ("fp16", "int8"):
        e = m["models"].get(variant)
        if e:
            q = e["parity"]
            lines.append(f"{variant} (`{e['file']}`, {q['provider']}, vs {q['reference']}): max {q['max_abs_error']:.2e}"
                         + (f", mean {q['mean_abs_error']:.2e}" if "mean_abs_error" in q else "")
                         + (f", SSIM {q['min_ssim']:.4f} on the calibration images" if q.get("min_ssim") is not None else "")
                         + f". {e.get('note', '')}")
    if m.get("graphs"):
        sp = m["split"]
        lines += [
            "",
            "## Split graphs (catalogue mode)",
            "",
            "| graph | file | role | inputs | outputs |",
            "|---|---|---|---|---|",
        ]
        for g in m["graphs"]:
            role = f"branch of `{g['branch_of']}`" if g.get("branch_of") else g.get("role", "")
            lines.append(f"| {g['name']} | `{g['file']}` | {role} | {len(g['inputs'])} | {len(g['outputs'])} |")
        lines += [
            "",
            (f"Chained graphs: {parity_sentence(sp['parity'])} Max abs difference from `{m['models']['fp32']['file']}`: "
             f"{sp['vs_model']['max_abs_error']:.2e}; with the cached values stored as float16: "
             f"{sp['fp16_features']['max_abs_error']:.2e}. Run with `tryon.runtime.CatalogueSession(\"<this folder>\")` "
             "(branch features cached per input)."),
        ]
    lines += [
        "",
        "## Run it (no torch needed)",
        "",
        "```python",
        "from tryon.runtime import ImageModelSession",
        "sess = ImageModelSession(\"<this folder>\")            # CPU; providers=[\"cuda\"] needs onnxruntime-gpu",
        f"out = sess({call_args})  # paths, PIL or numpy HxWx3 uint8",
        "```",
        "",
        f"Plain onnxruntime: feed float32 NCHW arrays named {in_list} to `{m['models']['fp32']['file']}`.",
        "",
        f"Files: {files}.",
        "",
        "Intended use: research and demos of the task above. Trained weights, their data and their limits are "
        "described with the weights; an export of random weights (no `weights` in the manifest) is for speed work only.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# split export (several graphs whose chain equals the component)
# ------------------------------------------------------------------------------------------------
_GRAPH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _export_checked(module: Any, args: tuple, in_names: list[str], out_names: list[str], path: Path, opset: int,
                    dynamic_batch: bool, exporter: str, min_opset: int, where: str,
                    expected: str) -> tuple[dict[str, Any], Any]:
    """Export one graph to ``path`` (batch dims named) and check it: opset >= ``min_opset``, graph inputs equal
    to ``in_names`` (``expected`` says where those names come from), ``onnx.checker`` (full check). Returns the
    exporter info and the loaded model; every failure is one :class:`TryonError` prefixed by ``where``."""
    import onnx

    info = _export_graph(module, args, in_names, out_names, path, opset, dynamic_batch, exporter)
    model = onnx.load(str(path))
    _name_batch_dims(model, dynamic_batch)
    onnx.save(model, str(path))
    if file_opset(model) < min_opset:
        raise TryonError(f"{where}: the exported file has opset {file_opset(model)} < the component's minimum {min_opset}")
    graph_in = [i.name for i in model.graph.input]
    if graph_in != list(in_names):
        raise TryonError(f"{where}: the ONNX graph inputs {graph_in} differ from {expected} {list(in_names)} "
                         "(an input unused by the module is dropped by the exporter)")
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001
        raise TryonError(f"{where}: onnx.checker rejected the exported graph: {_root_cause(exc)}") from None
    return info, model


def _check_split_graphs(graphs: Sequence[Any], in_names: list[str], out_names: list[str], where: str) -> None:
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


def _export_split(pipeline: Any, spec: Any, tmp: Path, example: dict[str, Any], reference: Reference, mono_sess: Any,
                  opset: int, dynamic_batch: bool, exporter: str, tolerance: float | None, where: str) -> tuple[list, dict]:
    """Export ``spec.split(pipeline)``'s graphs next to ``model.onnx`` and check their chain on every parity case
    of the main export by the same criterion as ``model.onnx`` (:func:`tryon.export.parity.fp32_parity`; a fixed
    bound with ``tolerance``). The chain's difference from ``model.onnx`` and the error with the cached values
    stored as float16 are recorded too."""
    import torch

    in_names, out_names = list(example), list(spec.outputs)
    graphs = list(spec.split(pipeline) or [])
    _check_split_graphs(graphs, in_names, out_names, where)
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
                outs = _outputs_tuple(module(*args), list(g.outputs))
        except Exception as exc:  # noqa: BLE001
            raise TryonError(f"{gw}: the module failed on its example inputs: {_root_cause(exc)}") from None
        if len(outs) != len(g.outputs):
            raise TryonError(f"{gw}: the module returns {len(outs)} outputs but the GraphSpec names {len(g.outputs)}")
        values.update({n: o.detach() for n, o in zip(g.outputs, outs)})
        path = tmp / f"{g.name}.onnx"
        info, model = _export_checked(module, args, list(g.inputs), list(g.outputs), path, opset, dynamic_batch,
                                      exporter, spec.min_opset, gw, "the GraphSpec inputs")
        sessions.append((_cpu_session(path), list(g.inputs)))
        records.append({
            "name": g.name,
            "file": path.name,
            "role": "branch" if graph_role(g.inputs, in_names) else "head",
            "branch_of": graph_role(g.inputs, in_names),
            "inputs": [{"name": n, "shape": _shape_list(values[n].shape, dynamic_batch), "dtype": "float32"} for n in g.inputs],
            "outputs": [{"name": n, "shape": _shape_list(values[n].shape, dynamic_batch), "dtype": "float32"} for n in g.outputs],
            "sha256": sha256_file(path), "bytes": path.stat().st_size, "opset": file_opset(model), "exporter": info["exporter"],
            "exporter_fallback_reason": info.get("fallback_reason"), "ops": count_ops(model),
        })

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


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
def export_onnx(
    pipeline: Any,
    spec: Any = None,
    out_dir: str | os.PathLike | None = None,
    opset: int = 17,
    fp16: bool = False,
    dynamic_batch: bool = True,
    parity_batches: Sequence[int] = (1, 3),
    check_inputs: dict[str, Any] | None = None,
    *,
    tolerance: float | None = None,
    fp16_tolerance: float = FP16_TOLERANCE,
    exporter: str = "auto",
    task: str | None = None,
    batch_sizes: Sequence[int] | None = None,
    extra: dict[str, Any] | None = None,
    seed: int = 0,
    split: bool = False,
    split_tolerance: float | None = None,
) -> dict[str, Any]:
    """Export ``spec.build(pipeline)`` to ``out_dir`` and return the manifest (see ``exports/README.md``).

    ``spec``: an :class:`tryon.ExportSpec`, a component name of the pipeline's task, or ``None`` (the
    task's first exportable). ``opset`` is raised to ``spec.min_opset`` if lower; the manifest records the
    opset the file really has. ``dynamic_batch``: batch dimension symbolic (``"batch"``).
    Parity: onnxruntime CPU vs PyTorch for each batch in ``parity_batches`` (alias ``batch_sizes``) on random
    inputs in the input range, on ``spec.example_inputs`` and, when given, on ``check_inputs`` (``{input name:
    tensor, image or list of images}``, e.g. real photos), judged by the ISA-independent criterion of
    :mod:`tryon.export.parity`: the error against a float64 run of the module must stay within a small multiple
    of torch fp32's own error (a fixed bound ``tolerance`` × max(1, |output|) against torch fp32 when given, or
    when the module cannot run in float64). A failure raises :class:`TryonError` naming the output, both errors
    and the bound. ``fp16=True`` also writes ``model_fp16.onnx`` (policy in :func:`convert_fp16`; error vs the
    float64 reference ≤ ``fp16_tolerance`` × max(1, |output|), on the CPU provider).
    With ``dynamic_batch=False`` the batch is fixed to ``parity_batches[0]`` (parity at that batch only).
    ``split=True`` also writes the graphs of ``spec.split(pipeline)`` (e.g. ``garment.onnx``, ``person.onnx``,
    ``pair.onnx``), listed under ``manifest["graphs"]``; their chain is checked by the same criterion
    (``split_tolerance``: a fixed bound instead) — recorded under ``manifest["split"]`` with its difference
    from ``model.onnx`` and the error when the cached values are stored in float16.
    Nothing is written unless everything passes: the folder is assembled in a temporary sibling and
    renamed into place (an existing folder is replaced).
    """
    import onnx
    import torch

    if out_dir is None:
        raise TryonError("export_onnx: out_dir is required")
    spec, task = resolve_export_spec(pipeline, spec, task)
    batches = [int(b) for b in (batch_sizes if batch_sizes is not None else parity_batches)]
    if not batches or min(batches) < 1:
        raise TryonError(f"parity batches must be positive integers, got {batches}")
    opset_req = max(int(opset), int(spec.min_opset))
    out = Path(out_dir)
    where = f"{task or '?'}/{spec.name}"
    if split and getattr(spec, "split", None) is None:
        raise TryonError(f"{where}: this component declares no split graphs (ExportSpec.split is not set)")
    if split and not dynamic_batch:
        raise TryonError(f"{where}: a split export needs a dynamic batch (the catalogue runtime batches pairs)")
    with atomic_directory(out) as tmp:
        module = spec.build(pipeline)
        if not isinstance(module, torch.nn.Module):
            raise TryonError(f"{where}: ExportSpec.build returned {type(module).__name__}, expected a torch.nn.Module")
        if any(p.device.type != "cpu" for p in list(module.parameters()) + list(module.buffers())):
            module = copy.deepcopy(module).cpu()  # export and parity on CPU (no TF32/cuDNN differences)
        module.eval()
        export_batch = EXPORT_BATCH if dynamic_batch else batches[0]
        if not dynamic_batch and len(set(batches)) > 1:
            batches = [batches[0]]
        example = spec.example_inputs(pipeline, export_batch)
        if not isinstance(example, dict) or not example:
            raise TryonError(f"{where}: ExportSpec.example_inputs must return a non-empty {{name: tensor}} dict")
        in_names = list(example)
        example = {k: v.detach().cpu() for k, v in example.items()}
        out_names = list(spec.outputs)
        try:
            with torch.inference_mode():
                probe = _outputs_tuple(module(*example.values()), out_names)
        except Exception as exc:  # noqa: BLE001
            raise TryonError(f"{where}: the module failed on its own example inputs: {_root_cause(exc)}") from None
        if len(probe) != len(out_names):
            raise TryonError(f"{where}: the module returns {len(probe)} outputs but ExportSpec.outputs names "
                             f"{len(out_names)} ({out_names})")
        shapes = {k: _shape_list(v.shape, dynamic_batch) for k, v in example.items()}
        out_shapes = {n: _shape_list(t.shape, dynamic_batch) for n, t in zip(out_names, probe)}
        first4d = next((v for v in example.values() if v.ndim == 4), None)
        resolution = [int(first4d.shape[-2]), int(first4d.shape[-1])] if first4d is not None else []
        norm = json_safe(dict(spec.normalisation))

        # 1-2. export, then check the opset, the graph inputs and onnx.checker
        path = tmp / MODEL_NAME
        info, model = _export_checked(module, tuple(example.values()), in_names, out_names, path, opset_req,
                                      dynamic_batch, exporter, spec.min_opset, where, "the example inputs")
        real_opset = file_opset(model)

        # 3. parity: onnxruntime CPU vs PyTorch, judged against a float64 reference (tryon.export.parity)
        sess = _cpu_session(path)
        gen = torch.Generator().manual_seed(seed)
        reference = Reference(module, out_names, _outputs_tuple)
        for b in batches:
            ex_b = {k: v.detach().cpu() for k, v in spec.example_inputs(pipeline, b).items()}
            kinds: list[tuple[str, dict[str, Any]]] = [("random", _random_like(ex_b, norm, shapes, gen)), ("example", ex_b)]
            if check_inputs is not None:
                kinds.append(("check", _check_tensors(check_inputs, in_names, shapes, resolution, norm, b)))
            for kind, inputs in kinds:
                reference.case(b, kind, inputs)
        cases = reference.cases
        got = [sess.run(None, c.feeds) for c in cases]
        parity = fp32_parity(cases, got, out_names, where=where, label="ONNX", provider="CPUExecutionProvider",
                             float64_reason=reference.float64_reason, tolerance=tolerance)
        parity["exporter"], parity["opset"] = info["exporter"], real_opset
        models: dict[str, Any] = {
            "fp32": {"file": MODEL_NAME, "default": True, "sha256": sha256_file(path), "bytes": path.stat().st_size,
                     "ops": count_ops(model), "parity": parity},
        }

        # 4. fp16 (for the CUDA provider; measured on CPU here)
        if fp16:
            p16 = tmp / FP16_NAME
            try:
                policy = convert_fp16(path, p16)
            except TryonError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise TryonError(f"{where}: fp16 conversion failed: {_root_cause(exc)}") from None
            s16 = _cpu_session(p16)
            p = reduced_parity(cases, [s16.run(None, c.feeds) for c in cases], out_names, where=where, label="fp16",
                               provider="CPUExecutionProvider", tolerance=fp16_tolerance)
            m16 = onnx.load(str(p16))
            models["fp16"] = {
                "file": FP16_NAME, "default": False, "sha256": sha256_file(p16), "bytes": p16.stat().st_size,
                "ops": count_ops(m16), "parity": p, "policy": policy, "intended_provider": "CUDAExecutionProvider",
                "note": "parity measured on the CPU execution provider (no GPU here); CUDA fp16 kernels may differ slightly",
            }

        graphs, split_info = None, None
        if split:
            graphs, split_info = _export_split(pipeline, spec, tmp, example, reference, sess, opset_req, dynamic_batch,
                                               exporter, split_tolerance, where)

        manifest = {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "task": task,
            "component": spec.name,
            "pipeline": {
                "class": f"{type(pipeline).__module__}:{type(pipeline).__qualname__}",
                "config": json_safe(getattr(pipeline, "config", {})),
            },
            "model": MODEL_NAME,
            "inputs": [{"name": n, "shape": shapes[n], "dtype": str(example[n].dtype).replace("torch.", "")} for n in in_names],
            "outputs": [{"name": n, "shape": out_shapes[n], "dtype": "float32"} for n in out_names],
            "normalisation": norm,
            "resolution": resolution,
            "dynamic_batch": bool(dynamic_batch),
            "opset": real_opset,
            "opset_requested": opset_req,
            "min_opset": int(spec.min_opset),
            "exporter": info["exporter"],
            "exporter_fallback_reason": info.get("fallback_reason"),
            "export_seconds": info["seconds"],
            "parity": parity,
            "fp16": bool(fp16),
            "sha256": models["fp32"]["sha256"],
            "ops": models["fp32"]["ops"],
            "models": models,
            "versions": versions(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if graphs is not None:
            manifest["graphs"] = graphs
            manifest["split"] = split_info
        if extra:
            manifest.update(json_safe(extra))
        write_manifest(tmp, manifest)
        (tmp / CARD_NAME).write_text(model_card(manifest))
    return manifest


# ------------------------------------------------------------------------------------------------
# int8
# ------------------------------------------------------------------------------------------------
def _feed_arrays(item: dict[str, Any], manifest: dict[str, Any]) -> dict[str, np.ndarray]:
    """One calibration/parity item (``{name: array | tensor | image | list of images}``) → float32 feeds."""
    feeds = {}
    for spec in manifest["inputs"]:
        name = spec["name"]
        if name not in item:
            raise TryonError(f"calibration input is missing {name!r} (the model takes {[s['name'] for s in manifest['inputs']]})")
        v = item[name]
        if hasattr(v, "detach") and type(v).__module__.startswith("torch"):
            v = v.detach().float().cpu().numpy()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            a = v.astype(np.float32)
            feeds[name] = a[None] if a.ndim == len(spec["shape"]) - 1 else a
        else:
            items = list(v) if isinstance(v, (list, tuple)) else [v]
            feeds[name] = prepare_input(items, spec, manifest)[0]
    return feeds


def quantize_int8(
    export_dir: str | os.PathLike,
    calibration_inputs: Iterable[dict[str, Any]],
    out_name: str = INT8_NAME,
    *,
    per_channel: bool = True,
    exclude_grid: bool = True,
    op_types: Sequence[str] = INT8_OP_TYPES,
    parity_batches: Sequence[int] = (1, 3),
    seed: int = 0,
    data_note: str | None = None,
    quant_format: str = "qdq",
    symmetric_activations: bool = False,
    reduce_range: bool = False,
    calibration: str = "minmax",
    keep_last_fp32: int = 0,
    activation_type: str = "uint8",
    min_ssim: float | None = None,
) -> dict[str, Any]:
    """Add a static int8 model to an export folder (the fp32 model stays the default).

    Variants (compared in ``benchmarks/int8_variants.py``): ``quant_format`` ``"qdq"`` (QuantizeLinear/
    DequantizeLinear pairs that ORT fuses into int8 kernels) or ``"qoperator"`` (QLinearConv … written out);
    ``activation_type`` ``"uint8"`` (default) or ``"int8"`` (u8 activations × s8 weights is the x86 VNNI
    instruction ``vpdpbusd``; s8 activations need a shift); ``symmetric_activations`` (zero point 0); ``reduce_range``
    (7-bit weights, for CPUs without VNNI where the u8×s8 pair sums saturate); ``calibration``
    ``"minmax"``/``"entropy"``/``"percentile"``; ``keep_last_fp32``: the last N Conv/ConvTranspose nodes (the
    image head) stay float.

    ``calibration_inputs``: an iterable of ``{input name: value}`` dicts, value = float array/tensor already
    normalised (``N×C×H×W`` or ``C×H×W``) or images (anything ``tryon.io.load_image`` reads, or a list).
    Uses ``onnxruntime.quantization.quantize_static`` (QDQ, int8 weights and activations, per-channel
    weights, MinMax calibration over the given inputs). Quantised ops: :data:`INT8_OP_TYPES`; the
    sampling-grid computation feeding GridSample is excluded (``exclude_grid``). The int8 model's error vs
    the fp32 ONNX model is measured on the calibration inputs and on random inputs, and recorded under
    ``manifest["models"]["int8"]``, with the SSIM of every image output vs fp32 over the calibration inputs
    (:func:`tryon.export.parity.quantized_parity`); ``min_ssim`` refuses a model below it (nothing written).
    ``quant_pre_process`` (symbolic shape inference) is not run: it is slow and the exported graphs are
    already shape-annotated. Returns the updated manifest.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    export_dir, manifest = read_manifest(export_dir)
    src = export_dir / manifest["models"]["fp32"]["file"]
    items = [_feed_arrays(item, manifest) for item in calibration_inputs]
    if not items:
        raise TryonError("quantize_int8: calibration_inputs is empty (give a few representative inputs, e.g. 8–64 images)")
    formats = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
    act_types = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    for what, value, known in (("quant_format", quant_format, formats), ("activation_type", activation_type, act_types),
                               ("calibration", calibration, methods)):
        if value not in known:
            raise TryonError(f"quantize_int8: {what} must be one of {', '.join(known)}, got {value!r}")
    model = onnx.load(str(src))
    unnamed = any(not n.name for n in model.graph.node)
    _ensure_node_names(model)
    exclude = sorted(set(grid_chain_nodes(model)) | {n.name for n in model.graph.node if n.op_type == "GridSample"}) if exclude_grid else []
    if keep_last_fp32:
        heavy = [n.name for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
        exclude = sorted(set(exclude) | set(heavy[-int(keep_last_fp32):]))
    if unnamed and keep_last_fp32:  # names were added to exclude by name: quantise the named copy
        src_named = export_dir / f".{out_name}.named.onnx"
        onnx.save(model, str(src_named))
    else:
        src_named = src

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(items)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

        def rewind(self) -> None:
            self._it = iter(items)

    dst = export_dir / out_name
    tmp = export_dir / f".{out_name}.tmp.onnx"
    try:
        with _quiet_warnings(), contextlib.redirect_stdout(io.StringIO()):
            quantize_static(
                str(src_named), str(tmp), _Reader(), quant_format=formats[quant_format], per_channel=per_channel,
                activation_type=act_types[activation_type], weight_type=QuantType.QInt8, op_types_to_quantize=list(op_types),
                nodes_to_exclude=exclude, calibrate_method=methods[calibration], reduce_range=reduce_range,
                extra_options={"ActivationSymmetric": bool(symmetric_activations)},
            )
        m8 = onnx.load(str(tmp))
        onnx.checker.check_model(m8)
        s8 = _cpu_session(tmp)
        parity = quantized_parity(_cpu_session(src), lambda feeds: s8.run(None, feeds), manifest, items, parity_batches,
                                  seed, "int8", "CPUExecutionProvider", min_ssim=min_ssim)
        os.replace(tmp, dst)
    except TryonError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TryonError(f"int8 quantisation of {src} failed: {_root_cause(exc)}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
        if src_named != src and src_named.exists():
            src_named.unlink()
    manifest["models"]["int8"] = {
        "file": out_name, "default": False, "sha256": sha256_file(dst), "bytes": dst.stat().st_size, "ops": count_ops(m8),
        "parity": parity, "intended_provider": "CPUExecutionProvider",
        "calibration": {"samples": len(items),
                        "method": {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}[calibration],
                        "format": {"qdq": "QDQ", "qoperator": "QOperator"}[quant_format], "per_channel": bool(per_channel),
                        "activations": activation_type, "weights": "int8", "symmetric_activations": bool(symmetric_activations),
                        "reduce_range": bool(reduce_range), "keep_last_fp32": int(keep_last_fp32),
                        "quantised_op_types": list(op_types), "excluded_nodes": len(exclude), "data": data_note or "given inputs"},
        "note": "error vs the fp32 ONNX model; the fp32 model stays the default",
    }
    write_manifest(export_dir, manifest)
    (export_dir / CARD_NAME).write_text(model_card(manifest))
    return manifest


__all__ = [
    "export_onnx",
    "quantize_int8",
    "convert_fp16",
    "grid_chain_nodes",
    "count_ops",
    "file_opset",
    "model_card",
    "resolve_export_spec",
    "run_chain",
    "graph_role",
    "versions",
    "FP16_EXTRA_BLOCK",
    "INT8_OP_TYPES",
]
