"""OpenVINO as a CPU backend of :class:`tryon.deploy.sessions.ImageModelSession` and
:class:`tryon.deploy.catalogue.CatalogueSession` — optional (``pip install 'tryon[openvino]'``).

**No torch import**; ``openvino`` is imported when a session is made, never at ``import tryon``. The same
export folder serves both backends: ``fp32`` and ``bf16`` compile ``model.onnx`` with
``INFERENCE_PRECISION_HINT`` ``f32`` / ``bf16`` (bf16 needs avx512_bf16 or AMX-BF16: elsewhere OpenVINO would
quietly run fp32, so :func:`check_precision` refuses it with one line); ``int8`` compiles the NNCF
post-training-quantised model that :func:`tryon.export.openvino.quantize_openvino_int8` adds to the folder
(``models["openvino-int8"]``), with the non-quantised ops in f32. Threads: ``INFERENCE_NUM_THREADS``,
one stream, latency hint. A compiled model is kept per batch size (the graph is reshaped to a static batch:
OpenVINO's static-shape CPU kernels are the fast ones).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TryonError
from ..hardware import has, missing
from .phase_split import joined_bytes

OV_PRECISIONS = ("fp32", "bf16", "int8")
OV_INT8_VARIANT = "openvino-int8"
_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


def require_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise TryonError("backend 'openvino' needs the openvino package: pip install 'tryon[openvino]'") from None
    return openvino


def cpu_has_bf16() -> bool:
    """The capability probe for ``precision="bf16"``: avx512_bf16 or amx_bf16, unless the run is held below
    them (:func:`tryon.hardware.has`; tests fake it)."""
    return has("bf16")


def check_precision(precision: str) -> None:
    """One clear error for a precision OpenVINO cannot honour on this CPU (never a silent fp32 run)."""
    if precision not in OV_PRECISIONS:
        raise TryonError(f"backend 'openvino': precision must be one of {', '.join(OV_PRECISIONS)}, got {precision!r}")
    reason = missing("avx2")
    if reason:  # measured with oneDNN held to SSE4.1: OpenVINO 2026.4 fails to compile fp32 graphs, int8 MVN has no kernel
        raise TryonError(f"backend 'openvino' refused: its CPU kernels need AVX2 ({reason}); use backend 'ort'")
    if precision == "bf16" and not cpu_has_bf16():
        raise TryonError(f"precision 'bf16' refused: {missing('bf16') or 'the bf16 probe says no'} (it would run in fp32); "
                         "use precision 'fp32' or 'int8'")


def model_file(export_dir: Path, manifest: dict[str, Any], precision: str) -> Path:
    """The file OpenVINO compiles for ``precision`` (one error naming what to run when it is missing)."""
    models = manifest["models"]
    if precision == "int8":
        if OV_INT8_VARIANT not in models:
            raise TryonError(f"export {export_dir}: no OpenVINO int8 model (available: {', '.join(sorted(models))}); "
                             "create it with tryon.export.openvino.quantize_openvino_int8 (`tryon export --openvino-int8`)")
        path = export_dir / models[OV_INT8_VARIANT]["file"]
    else:
        path = export_dir / models["fp32"]["file"]
    if not path.is_file():
        raise TryonError(f"export {export_dir}: {path.name} is listed in the manifest but missing")
    return path


class _Input:
    def __init__(self, name: str):
        self.name = name


class OpenVINOSession:
    """The part of ``onnxruntime.InferenceSession`` that :class:`~tryon.deploy.sessions.ImageModelSession` uses
    (``run(output_names, feeds) -> list[np.ndarray]``, ``get_inputs()``, ``get_providers()``) over OpenVINO."""

    def __init__(self, path: str | os.PathLike, precision: str = "fp32", threads: int | None = None):
        check_precision(precision)
        ov = require_openvino()
        self.core = ov.Core()
        self.path = Path(path)
        self.precision = precision
        self.threads = threads
        try:
            # an export's transposed convolutions are split for onnxruntime; OpenVINO's own kernel is the fast one
            joined = joined_bytes(self.path) if self.path.suffix == ".onnx" else None
            self.model = self.core.read_model(joined if joined is not None else str(self.path))
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
            raise TryonError(f"OpenVINO could not read {self.path}: {str(exc).strip().splitlines()[0]}") from None
        self.input_names = [p.get_any_name() for p in self.model.inputs]
        self.output_names = [p.get_any_name() for p in self.model.outputs]
        self._compiled: dict[int, Any] = {}
        self._requests: dict[int, Any] = {}

    def config(self) -> dict[str, str]:
        cfg = {"INFERENCE_PRECISION_HINT": _HINT[self.precision], "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}
        if self.threads:
            cfg["INFERENCE_NUM_THREADS"] = str(int(self.threads))
        return cfg

    def compiled(self, batch: int) -> Any:
        if batch not in self._compiled:
            m = self.model.clone()
            shapes = {}
            for port in m.inputs:
                dims = [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]
                shapes[port.get_any_name()] = [int(batch)] + [d for d in dims[1:]]
            try:
                m.reshape(shapes)
                self._compiled[batch] = self.core.compile_model(m, "CPU", self.config())
            except Exception as exc:  # noqa: BLE001
                raise TryonError(f"OpenVINO could not compile {self.path} ({self.precision}, batch {batch}): "
                                 f"{str(exc).strip().splitlines()[0]}") from None
        return self._compiled[batch]

    def get_inputs(self) -> list[_Input]:
        return [_Input(n) for n in self.input_names]

    def get_providers(self) -> list[str]:
        return [f"OpenVINO-CPU-{self.precision}"]

    def runtime_precision(self, batch: int = 1) -> str:
        """The precision OpenVINO reports it runs (``INFERENCE_PRECISION_HINT`` of the compiled model)."""
        return str(self.compiled(batch).get_property("INFERENCE_PRECISION_HINT"))

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``{input name: N×… float32}`` → the outputs named ``output_names`` (all when ``None``), float32 copies."""
        batch = int(next(iter(feeds.values())).shape[0])
        if batch not in self._requests:
            self._requests[batch] = self.compiled(batch).create_infer_request()
        res = self._requests[batch].infer({k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()})
        by_name = {}
        for port, value in res.items():
            for name in port.get_names():
                by_name[name] = np.array(value)  # a copy: the request reuses its output buffers
        return [by_name[n] for n in (output_names or self.output_names)]


def versions() -> dict[str, str]:
    try:
        import openvino

        return {"openvino": openvino.get_version().split("-")[0]}
    except ImportError:
        return {}


__all__ = ["OpenVINOSession", "OV_PRECISIONS", "OV_INT8_VARIANT", "check_precision", "cpu_has_bf16",
           "require_openvino", "model_file", "versions"]
