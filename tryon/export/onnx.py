"""Export a task component to ONNX, checked for parity against PyTorch: :func:`export_onnx`.

Task-agnostic: everything comes from the task's :class:`tryon.ExportSpec` — ``spec.build(pipeline)`` is
the module, ``spec.example_inputs(pipeline, batch)`` its ordered inputs, ``spec.outputs`` the output names,
``spec.min_opset`` and ``spec.normalisation``.

:func:`export_onnx` writes ``out_dir/model.onnx`` + ``manifest.json`` + ``MODEL_CARD.md`` (and
``model_fp16.onnx`` with ``fp16=True``, the split graphs with ``split=True``). The phases live in their own
modules: :mod:`~tryon.export.trace` (torch → one checked graph), :mod:`~tryon.export.parity` (the criterion),
:mod:`~tryon.export.fp16`, :mod:`~tryon.export.split`, :mod:`~tryon.export.int8` (:func:`quantize_int8` adds
``model_int8.onnx`` to an existing export), :mod:`~tryon.export.card`; this module runs them in order and
re-exports their public names (the face older code imports from). Folder format: ``exports/README.md``.
"""

from __future__ import annotations

import copy
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..errors import TryonError
from ..fs import atomic_directory, json_safe, sha256_file
from ..runtime import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, write_manifest
from .card import model_card, parity_sentence
from .fp16 import FP16_EXTRA_BLOCK, convert_fp16, grid_chain_nodes
from .int8 import INT8_OP_TYPES, quantize_int8
from .layout import CARD_NAME, EXPORT_BATCH, FP16_NAME, INT8_NAME, MODEL_NAME
from .parity import FP16_TOLERANCE, Reference, check_tensors, fp32_parity, random_like, reduced_parity
from .split import export_split, graph_role, run_chain
from .trace import count_ops, cpu_session, export_checked, file_opset, outputs_tuple, resolve_export_spec, root_cause, shape_list, versions


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
    phase_split: bool = True,
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
    ``phase_split`` (default): 4×4 stride-2 transposed convolutions are written as four phase convolutions
    (exact; :mod:`tryon.deploy.phase_split`), the spelling onnxruntime's CPU kernels run fastest; the layers split
    are listed under ``models["fp32"]["phase_split"]`` (and per split graph), and the OpenVINO backend joins them
    back when it reads the file. Parity is checked on the graph as written.
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
                probe = outputs_tuple(module(*example.values()), out_names)
        except Exception as exc:  # noqa: BLE001
            raise TryonError(f"{where}: the module failed on its own example inputs: {root_cause(exc)}") from None
        if len(probe) != len(out_names):
            raise TryonError(f"{where}: the module returns {len(probe)} outputs but ExportSpec.outputs names "
                             f"{len(out_names)} ({out_names})")
        shapes = {k: shape_list(v.shape, dynamic_batch) for k, v in example.items()}
        out_shapes = {n: shape_list(t.shape, dynamic_batch) for n, t in zip(out_names, probe)}
        first4d = next((v for v in example.values() if v.ndim == 4), None)
        resolution = [int(first4d.shape[-2]), int(first4d.shape[-1])] if first4d is not None else []
        norm = json_safe(dict(spec.normalisation))
        conditions = export_conditions(pipeline, spec, where)

        # 1-2. export, then check the opset, the graph inputs and onnx.checker
        path = tmp / MODEL_NAME
        info, model = export_checked(module, tuple(example.values()), in_names, out_names, path, opset_req,
                                      dynamic_batch, exporter, spec.min_opset, where, "the example inputs",
                                      phase_split)
        real_opset = file_opset(model)

        # 3. parity: onnxruntime CPU vs PyTorch, judged against a float64 reference (tryon.export.parity)
        sess = cpu_session(path)
        gen = torch.Generator().manual_seed(seed)
        reference = Reference(module, out_names, outputs_tuple)
        for b in batches:
            ex_b = {k: v.detach().cpu() for k, v in spec.example_inputs(pipeline, b).items()}
            kinds: list[tuple[str, dict[str, Any]]] = [("random", random_like(ex_b, norm, shapes, gen)), ("example", ex_b)]
            if check_inputs is not None:
                kinds.append(("check", check_tensors(check_inputs, in_names, shapes, resolution, norm, b)))
            for kind, inputs in kinds:
                reference.case(b, kind, inputs)
        cases = reference.cases
        got = [sess.run(None, c.feeds) for c in cases]
        parity = fp32_parity(cases, got, out_names, where=where, label="ONNX", provider="CPUExecutionProvider",
                             float64_reason=reference.float64_reason, tolerance=tolerance)
        parity["exporter"], parity["opset"] = info["exporter"], real_opset
        models: dict[str, Any] = {
            "fp32": {"file": MODEL_NAME, "default": True, "sha256": sha256_file(path), "bytes": path.stat().st_size,
                     "ops": count_ops(model), "parity": parity,
                     "phase_split": info["phase_split"]},
        }

        # 4. fp16 (for the CUDA provider; measured on CPU here)
        if fp16:
            p16 = tmp / FP16_NAME
            try:
                policy = convert_fp16(path, p16)
            except TryonError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise TryonError(f"{where}: fp16 conversion failed: {root_cause(exc)}") from None
            s16 = cpu_session(p16)
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
            graphs, split_info = export_split(pipeline, spec, tmp, example, reference, sess, opset_req, dynamic_batch,
                                               exporter, split_tolerance, where, phase_split)

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
            "conditions": conditions,
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


def export_conditions(pipeline: Any, spec: Any, where: str) -> dict[str, list[str]]:
    """``spec.conditions(pipeline)`` checked to be ``{name: [str, ...]}`` (``{}`` when the spec declares none)."""
    if spec.conditions is None:
        return {}
    got = spec.conditions(pipeline) or {}
    if not isinstance(got, dict) or not all(isinstance(k, str) and isinstance(v, (list, tuple)) and v
                                            and all(isinstance(x, str) for x in v) for k, v in got.items()):
        raise TryonError(f"{where}: ExportSpec.conditions must return {{name: [value, ...]}} with strings, got {got!r}")
    return {k: sorted(v) for k, v in got.items()}


__all__ = [
    "CARD_NAME", "FP16_EXTRA_BLOCK", "FP16_NAME", "INT8_NAME", "INT8_OP_TYPES", "MODEL_NAME", "convert_fp16", "count_ops",
    "export_onnx", "file_opset", "graph_role", "grid_chain_nodes", "model_card", "parity_sentence", "quantize_int8",
    "resolve_export_spec", "run_chain", "versions",
]
