"""The int8 variant of an export folder: onnxruntime static quantisation with the project's policy (heavy ops
only, the sampling-grid chain and GridSample float), judged by SSIM vs fp32 on the calibration images."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import TryonError
from ..fs import sha256_file
from ..runtime import prepare_input, read_manifest, write_manifest
from .card import model_card
from .fp16 import ensure_node_names, grid_chain_nodes
from .layout import CARD_NAME, INT8_NAME
from .parity import quantized_parity
from .trace import count_ops, cpu_session, quiet_warnings, root_cause

#: 0.44 max error on the test model vs 0.065 with this policy). ConvTranspose stays float too: onnxruntime
#: 1.32's CPU provider has no int8 ConvTranspose kernel, so quantising it only added DequantizeLinear/
#: QuantizeLinear around a float op (S-WUTON 256×192: int8 1.22× → 1.33× fp32 without them, SSIM vs fp32
#: 0.9892 → 0.9909; benchmarks/int8_variants.py, docs/benchmarks.md)
INT8_OP_TYPES = ("Conv", "Gemm", "MatMul")


def feed_arrays(item: dict[str, Any], manifest: dict[str, Any]) -> dict[str, np.ndarray]:
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
    items = [feed_arrays(item, manifest) for item in calibration_inputs]
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
    ensure_node_names(model)
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
        with quiet_warnings(), contextlib.redirect_stdout(io.StringIO()):
            quantize_static(
                str(src_named), str(tmp), _Reader(), quant_format=formats[quant_format], per_channel=per_channel,
                activation_type=act_types[activation_type], weight_type=QuantType.QInt8, op_types_to_quantize=list(op_types),
                nodes_to_exclude=exclude, calibrate_method=methods[calibration], reduce_range=reduce_range,
                extra_options={"ActivationSymmetric": bool(symmetric_activations)},
            )
        m8 = onnx.load(str(tmp))
        onnx.checker.check_model(m8)
        s8 = cpu_session(tmp)
        parity = quantized_parity(cpu_session(src), lambda feeds: s8.run(None, feeds), manifest, items, parity_batches,
                                  seed, "int8", "CPUExecutionProvider", min_ssim=min_ssim)
        os.replace(tmp, dst)
    except TryonError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TryonError(f"int8 quantisation of {src} failed: {root_cause(exc)}") from None
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



__all__ = ["INT8_OP_TYPES", "feed_arrays", "quantize_int8"]
