"""OpenVINO int8 model of an export folder: NNCF post-training quantisation (optional extra ``tryon[openvino]``).

:func:`quantize_openvino_int8` reads the folder's fp32 ``model.onnx`` with OpenVINO, quantises it with
``nncf.quantize`` (MinMax-style statistics over the same calibration inputs as
:func:`tryon.export.quantize_int8`; the TPS sampling-grid chain and GridSample stay float, the policy of
the ORT int8 model) and saves ``model_int8_ov.xml``/``.bin`` (weights kept fp32-typed where not quantised:
``compress_to_fp16=False``). Its error vs the fp32 ONNX model (onnxruntime CPU) on random and calibration
inputs is recorded under ``manifest["models"]["openvino-int8"]`` next to the ORT int8 figure.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from typing import Any, Iterable


from ..deploy.phase_split import join_transposed_convs
from ..errors import TryonError
from ..fs import sha256_file
from ..runtime import read_manifest, write_manifest
from ..runtime_openvino import OV_INT8_VARIANT, OpenVINOSession, check_precision, require_openvino

OV_INT8_NAME = "model_int8_ov.xml"


def quantize_openvino_int8(
    export_dir: str | os.PathLike,
    calibration_inputs: Iterable[dict[str, Any]],
    *,
    exclude_grid: bool = True,
    keep_last_fp32: int = 0,
    float_op_types: tuple[str, ...] = (),
    preset: str = "performance",
    parity_batches: tuple[int, ...] = (1,),
    seed: int = 0,
    data_note: str | None = None,
    min_ssim: float | None = None,
) -> dict[str, Any]:
    """Add ``model_int8_ov.xml`` (NNCF PTQ) to an export folder; returns the updated manifest.

    ``calibration_inputs``: as for :func:`tryon.export.quantize_int8`. ``preset``: NNCF's ``performance``
    (symmetric activations, the fast int8 kernels) or ``mixed`` (asymmetric activations). ``keep_last_fp32``:
    the last N Conv/ConvTranspose nodes (the image head) stay float, as in the ORT int8 model; ``float_op_types``:
    OpenVINO op types never quantised (e.g. ``("MatMul",)``: the matcher's correlation and θ regressor).
    ``min_ssim``: refuse a model whose image outputs score below it vs fp32 on the calibration inputs.
    """
    import onnx

    from .fp16 import grid_chain_nodes
    from .int8 import feed_arrays
    from .parity import quantized_parity
    from .trace import cpu_session

    ov = require_openvino()
    check_precision("int8")  # one clear error where OpenVINO has no kernels (below AVX2)
    try:
        import nncf
    except ImportError:
        raise TryonError("OpenVINO int8 needs nncf: pip install 'tryon[openvino]'") from None
    nncf.set_log_level(logging.ERROR)
    if preset not in ("performance", "mixed"):
        raise TryonError(f"preset must be 'performance' or 'mixed', got {preset!r}")
    export_dir, manifest = read_manifest(export_dir)
    src = export_dir / manifest["models"]["fp32"]["file"]
    items = [feed_arrays(item, manifest) for item in calibration_inputs]
    if not items:
        raise TryonError("quantize_openvino_int8: calibration_inputs is empty (give a few representative inputs)")
    m = onnx.load(str(src))
    join_transposed_convs(m)  # OpenVINO runs the transposed convolutions as they were trained (deploy.phase_split)
    exclude: list[str] = []
    if exclude_grid:
        exclude = sorted(set(grid_chain_nodes(m)) | {n.name for n in m.graph.node if n.op_type == "GridSample"})
    if keep_last_fp32:
        heavy = [n.name for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose")]
        exclude = sorted(set(exclude) | set(heavy[-int(keep_last_fp32):]))
    core = ov.Core()
    model = core.read_model(m.SerializeToString())
    present = {op.get_friendly_name() for op in model.get_ops()}
    # OpenVINO's ONNX reader splits a biased Conv into "NAME/WithoutBiases" (Convolution) + "NAME" (Add)
    ignored = [c for n in exclude for c in (n, f"{n}/WithoutBiases") if c in present]
    tmp_xml = export_dir / f".{OV_INT8_NAME}.tmp.xml"
    dst_xml = export_dir / OV_INT8_NAME
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            qmodel = nncf.quantize(
                model, nncf.Dataset(items), subset_size=len(items),
                preset=nncf.QuantizationPreset.PERFORMANCE if preset == "performance" else nncf.QuantizationPreset.MIXED,
                ignored_scope=nncf.IgnoredScope(names=ignored, types=list(float_op_types), validate=False)
                if ignored or float_op_types else None,
            )
        ov.save_model(qmodel, str(tmp_xml), compress_to_fp16=False)
        s8 = OpenVINOSession(tmp_xml, "int8", None)
        out_names = [o["name"] for o in manifest["outputs"]]
        parity = quantized_parity(cpu_session(src), lambda feeds: s8.run(out_names, feeds), manifest, items, parity_batches,
                                  seed, "openvino int8", "OpenVINO CPU", min_ssim=min_ssim)
        os.replace(tmp_xml.with_suffix(".bin"), dst_xml.with_suffix(".bin"))
        os.replace(tmp_xml, dst_xml)
    except TryonError:
        raise
    except Exception as exc:  # noqa: BLE001 - NNCF/OpenVINO raise many types
        raise TryonError(f"OpenVINO int8 quantisation of {src} failed: {type(exc).__name__}: {str(exc).strip()[:300]}") from None
    finally:
        for p in (tmp_xml, tmp_xml.with_suffix(".bin")):
            if p.exists():
                p.unlink()
    fq = sum(1 for op in qmodel.get_ops() if op.get_type_name() == "FakeQuantize")
    manifest["models"][OV_INT8_VARIANT] = {
        "file": OV_INT8_NAME, "weights_file": dst_xml.with_suffix(".bin").name, "default": False,
        "sha256": sha256_file(dst_xml), "bytes": dst_xml.stat().st_size + dst_xml.with_suffix(".bin").stat().st_size,
        "parity": parity, "intended_runtime": "openvino CPU",
        "calibration": {"samples": len(items), "tool": f"nncf {nncf.__version__}", "preset": preset,
                        "fake_quantize_nodes": fq, "excluded_nodes": len(ignored), "keep_last_fp32": int(keep_last_fp32),
                        "float_op_types": list(float_op_types), "data": data_note or "given inputs"},
        "note": "error vs the fp32 ONNX model; load with ImageModelSession(..., backend='openvino', precision='int8')",
    }
    write_manifest(export_dir, manifest)
    return manifest


__all__ = ["quantize_openvino_int8", "OV_INT8_NAME"]
