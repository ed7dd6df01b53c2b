"""Efficiency: MACs counted from the graph, and the reference convolution timed with the same backend,
threads and precision in the same run (the yardstick a row's GMAC/s is divided by)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import TryonError
from .timing import summarise, time_fn


def openvino_unavailable(precision: str) -> str | None:
    """Why an OpenVINO row cannot run here (``None``: it can)."""
    from ..runtime_openvino import check_precision

    try:
        import openvino  # noqa: F401
    except ImportError:
        return "openvino is not installed (pip install 'tryon[openvino]')"
    try:
        check_precision(precision)
    except TryonError as exc:
        return str(exc)
    return None


def add_efficiency(row: dict[str, Any], macs: int | None, ref: dict[str, Any] | None) -> None:
    from ..macs import efficiency

    if not macs or not ref:
        return
    row["macs"] = int(macs)
    row["gmac"] = round(macs / 1e9, 6)
    row.update(efficiency(macs, row["p50_ms"], ref["macs"], ref["p50_ms"]))


def parity_vs_fp32(got: Sequence[Any], ref: Sequence[Any]) -> dict[str, float]:
    errs = [np.abs(np.asarray(g, np.float32) - np.asarray(r, np.float32)) for g, r in zip(got, ref)]
    return {"max_abs_vs_fp32": round(float(max(e.max() for e in errs)), 6),
            "mean_abs_vs_fp32": round(float(max(e.mean() for e in errs)), 6)}


class Yardstick:
    """MAC counts per export and reference-conv timings per (backend, precision, threads), each made once a run."""

    def __init__(self, tmp: Path, warmup: int, iters: int, bench: Any):
        self.tmp, self.warmup, self.iters, self.bench = tmp, max(2, warmup), max(10, iters), bench
        self._macs: dict[str, int] = {}
        self._refs: dict[tuple, dict[str, Any]] = {}
        self._fp32: dict[tuple, Any] = {}

    def macs_of(self, export: tuple[Path, dict[str, Any]]) -> int:
        from ..macs import count_macs

        export_dir, manifest = export
        key = str(export_dir)
        if key not in self._macs:
            self._macs[key] = count_macs(Path(export_dir) / manifest["models"]["fp32"]["file"], batch=1)["macs"]
        return self._macs[key]

    def fp32_session(self, export_dir: Path, threads: int) -> Any:
        from ..runtime import ImageModelSession

        key = (str(export_dir), threads)
        if key not in self._fp32:
            self._fp32[key] = ImageModelSession(export_dir, intra_op_threads=threads).session
        return self._fp32[key]

    def _time(self, key: tuple, fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> dict[str, Any]:
        from ..macs import REFERENCE_CONV, reference_conv_macs, significant

        times = time_fn(fn, self.warmup, self.iters, sync)
        row = {"backend": key[0], "precision": key[1], "threads": key[2], **REFERENCE_CONV, "batch": 1,
               "macs": reference_conv_macs(depth=REFERENCE_CONV["depth"]), **summarise(times, 1)}
        row["gmac_per_s"] = significant(row["macs"] / (row["p50_ms"] * 1e6))
        self._refs[key] = row
        self.bench.progress(f"reference conv {key[0]} {key[1]}: p50 {row['p50_ms']:.2f} ms, {row['gmac_per_s']:.1f} GMAC/s")
        return row

    def torch_reference(self, device: str, on_cuda: bool) -> dict[str, Any]:
        import torch

        from ..macs import REFERENCE_CONV as R

        key = ("torch", "fp32", torch.get_num_threads(), device)
        if key not in self._refs:
            conv = torch.nn.Sequential(*[torch.nn.Conv2d(R["channels"], R["channels"], R["kernel"], padding=R["kernel"] // 2)
                                         for _ in range(R["depth"])]).to(device).eval()
            x = torch.randn(1, R["channels"], R["height"], R["width"], device=device)

            def fn() -> Any:
                with torch.inference_mode():
                    return conv(x)

            self._time(key, fn, torch.cuda.synchronize if on_cuda else None)
        return self._refs[key]

    def reference(self, backend: str, kind: str, precision: str, providers: list[str], threads: int,
                  manifest: dict[str, Any]) -> dict[str, Any] | None:
        from ..macs import REFERENCE_CONV as R
        from ..macs import write_reference_conv

        key = (backend, precision, threads)
        if key in self._refs:
            return self._refs[key]
        path = self.tmp / "reference-conv" / "model.onnx"
        if not path.is_file():
            write_reference_conv(path, depth=R["depth"])
        rng = np.random.default_rng(0)
        x = rng.standard_normal((1, R["channels"], R["height"], R["width"])).astype(np.float32)
        calib = [{"x": rng.standard_normal(x.shape).astype(np.float32)} for _ in range(4)]
        try:
            if kind == "openvino":
                from ..runtime_openvino import OpenVINOSession

                file = path
                if precision == "int8":
                    file = _reference_ov_int8(path, calib)
                sess = OpenVINOSession(file, precision, threads)
                return self._time(key, lambda: sess.run(None, {"x": x}))
            import onnxruntime as ort

            file = path
            if precision == "int8":
                file = _reference_ort_int8(path, calib, (manifest["models"].get("int8") or {}).get("calibration", {}))
            so = ort.SessionOptions()
            so.intra_op_num_threads = int(threads)
            so.log_severity_level = 3
            s = ort.InferenceSession(str(file), so, providers=providers)
            return self._time(key, lambda: s.run(None, {"x": x}))
        except Exception as exc:  # noqa: BLE001 - efficiency is then left out of the rows, with the reason
            self.bench.skip("reference-conv", backend, (R["height"], R["width"]), f"reference conv failed: {exc}")
            self._refs[key] = None  # type: ignore[assignment]
            return None

    def summary(self) -> list[dict[str, Any]]:
        return [r for r in self._refs.values() if r]


def _reference_ort_int8(path: Path, calib: list[dict[str, np.ndarray]], settings: dict[str, Any]) -> Path:
    """The reference conv quantised like the export's int8 model (its recorded format/activation settings)."""
    import contextlib
    import io

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    out = path.with_name(f"int8-{str(settings.get('format', 'qdq')).lower()}-{settings.get('activations', 'int8')}.onnx")
    if out.is_file():
        return out

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self) -> Any:
            return next(self.it, None)

    import logging

    logging.disable(logging.WARNING)  # onnxruntime.quantization's "consider pre-processing" on the root logger
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(str(path), str(out), _Reader(),
                            quant_format=QuantFormat.QOperator if str(settings.get("format")).lower() == "qoperator" else QuantFormat.QDQ,
                            per_channel=bool(settings.get("per_channel", True)),
                            activation_type=QuantType.QUInt8 if settings.get("activations") == "uint8" else QuantType.QInt8,
                            weight_type=QuantType.QInt8, reduce_range=bool(settings.get("reduce_range", False)),
                            extra_options={"ActivationSymmetric": bool(settings.get("symmetric_activations", False))})
    finally:
        logging.disable(logging.NOTSET)
    return out


def _reference_ov_int8(path: Path, calib: list[dict[str, np.ndarray]]) -> Path:
    import contextlib
    import io
    import logging

    import nncf
    import openvino as ov

    out = path.with_name("int8-openvino.xml")
    if not out.is_file():
        nncf.set_log_level(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()):
            q = nncf.quantize(ov.Core().read_model(str(path)), nncf.Dataset(calib), subset_size=len(calib),
                              preset=nncf.QuantizationPreset.PERFORMANCE)
        ov.save_model(q, str(out), compress_to_fp16=False)
    return out



__all__ = ["Yardstick", "add_efficiency", "openvino_unavailable", "parity_vs_fp32"]
