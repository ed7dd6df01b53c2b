"""Trace a module to one checked ONNX graph: torch.onnx.export (dynamo first, TorchScript as the fallback), batch
dimensions named, opset / graph inputs / ``onnx.checker`` verified — and the small facts every export phase uses
(versions, op counts, a CPU onnxruntime session, the component's ExportSpec).

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
import io
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from .._version import __version__
from ..errors import TryonError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"tryon": __version__, "python": sys.version.split()[0]}
    for dist in ("torch", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out




def root_cause(exc: BaseException) -> str:
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


def cpu_session(path: str | os.PathLike):
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


def outputs_tuple(out: Any, names: Sequence[str]) -> list[Any]:
    if isinstance(out, dict):
        return [out[n] for n in names]
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def export_graph(module: Any, args: tuple, in_names: list[str], out_names: list[str], path: Path, opset: int,
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
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), quiet_warnings():
                if name == "dynamo":
                    kw: dict[str, Any] = {}
                    if dynamic_batch:
                        kw["dynamic_shapes"] = batch_dynamic_shapes(module, args, torch.export.Dim("batch", min=1, max=65536))
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
            errors[name] = root_cause(exc)
            if path.exists():
                path.unlink()
    detail = "; ".join(f"{k} exporter: {v}" for k, v in errors.items())
    raise TryonError(f"ONNX export failed ({detail})")


def batch_dynamic_shapes(module: Any, args: tuple, batch: Any) -> tuple:
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
def quiet_warnings():
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


def name_batch_dims(model: Any, dynamic: bool) -> None:
    if not dynamic:
        return
    for v in list(model.graph.input) + list(model.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


def shape_list(shape: Sequence[int], dynamic: bool) -> list[Any]:
    s: list[Any] = [int(d) for d in shape]
    if dynamic and s:
        s[0] = "batch"
    return s


def export_checked(module: Any, args: tuple, in_names: list[str], out_names: list[str], path: Path, opset: int,
                    dynamic_batch: bool, exporter: str, min_opset: int, where: str,
                    expected: str, phase_split: bool = True) -> tuple[dict[str, Any], Any]:
    """Export one graph to ``path`` (batch dims named) and check it: opset >= ``min_opset``, graph inputs equal
    to ``in_names`` (``expected`` says where those names come from), ``onnx.checker`` (full check). With
    ``phase_split`` the 4×4 stride-2 transposed convolutions are spelled for onnxruntime's CPU kernels
    (:func:`tryon.deploy.phase_split.split_transposed_convs`; their names in ``info["phase_split"]``). Returns the
    exporter info and the loaded model; every failure is one :class:`TryonError` prefixed by ``where``."""
    import onnx

    from ..deploy.phase_split import split_transposed_convs

    info = export_graph(module, args, in_names, out_names, path, opset, dynamic_batch, exporter)
    model = onnx.load(str(path))
    name_batch_dims(model, dynamic_batch)
    info["phase_split"] = [r["name"] for r in split_transposed_convs(model)] if phase_split else []
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
        raise TryonError(f"{where}: onnx.checker rejected the exported graph: {root_cause(exc)}") from None
    return info, model



__all__ = ["batch_dynamic_shapes", "count_ops", "cpu_session", "export_checked", "export_graph", "file_opset", "name_batch_dims",
           "outputs_tuple", "quiet_warnings", "resolve_export_spec", "root_cause", "shape_list", "versions"]
