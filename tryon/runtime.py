"""ONNX Runtime sessions over ``tryon export`` folders — **no torch import** (deployable without torch).

An export folder (written by :func:`tryon.export.export_onnx`, format in ``exports/README.md``) holds
``model.onnx`` + ``manifest.json`` (input names, resolution, normalisation, parity figures) and maybe
``model_fp16.onnx`` / ``model_int8.onnx``. :class:`ImageModelSession` loads it and runs it on images::

    from tryon.runtime import TryOnSession
    sess = TryOnSession("exports/wuton-student")                 # CPU by default
    out = sess(person="p.jpg", garment="g.jpg")                  # PIL image, the size of the person
    arr = sess(person=np.asarray(img), garment=garment_array)   # numpy in -> numpy HxWx3 uint8 out

Inputs are what :func:`tryon.io.load_image` accepts (path, bytes, PIL image, numpy ``H×W×3`` uint8, or a
list of these for a batch) — not torch tensors. Each image is letterboxed to the manifest resolution
(aspect kept, white padding, bilinear resize with antialiasing when shrinking: the same rule as
``tryon.io.as_batch``), normalised as the manifest says, run, then the outputs are cropped back and
resized to the size of the *first* input (e.g. the person) and returned in its kind (numpy in → numpy
out; PIL/path/bytes in → PIL out).

Providers (``providers=``): CPU by default. onnxruntime silently runs on CPU when a requested GPU provider
cannot start (missing CUDA/cuDNN libraries; deps.md §5) — this wrapper refuses that: a requested
non-CPU provider that is not active raises :class:`tryon.errors.ProviderError` naming requested vs active
providers (``allow_fallback=True`` turns that into a warning). IO binding on CUDA is *not* implemented:
inputs come from host memory, so host→device copies are inside the timed ``run`` (stated in bench.json).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image

from .errors import InputError, ProviderError, TryonError
from .hardware import physical_cores
from .io import load_image, load_mask

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
EXPORT_FORMAT = "tryon-onnx-export"
EXPORT_FORMAT_VERSION = 1

#: short names accepted in ``providers=`` (and ``--providers`` on the CLI)
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "none": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
MODEL_VARIANTS = ("fp32", "fp16", "int8")
#: inference backends of :class:`ImageModelSession` (``openvino``: optional extra, :mod:`tryon.runtime_openvino`)
BACKENDS = ("ort", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def _ort():
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - the [onnx] extra is installed in dev
        raise TryonError("onnxruntime is not installed: pip install 'tryon[onnx]' (CPU) or 'tryon[onnx-gpu]' (CUDA)") from None
    return onnxruntime




def onnxruntime_distribution() -> str:
    """Which distribution provides the ``onnxruntime`` package (``onnxruntime`` / ``onnxruntime-gpu`` …)."""
    from importlib import metadata

    found = []
    for dist in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-rocm"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found) or "unknown"


def available_providers() -> list[str]:
    return list(_ort().get_available_providers())


def normalise_providers(providers: Any) -> list[Any]:
    """``None`` → CPU; short names (``"cuda"``) → full names; ``(name, options)`` tuples kept."""
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [p for p in providers.split(",") if p.strip()]
    out: list[Any] = []
    for p in providers:
        if isinstance(p, (tuple, list)):
            name, opts = p
            out.append((PROVIDER_ALIASES.get(str(name).strip().lower(), str(name).strip()), dict(opts)))
        else:
            out.append(PROVIDER_ALIASES.get(str(p).strip().lower(), str(p).strip()))
    if not out:
        raise ProviderError("no execution provider requested (empty providers list)")
    return out


def _provider_name(p: Any) -> str:
    return p[0] if isinstance(p, tuple) else p


# ------------------------------------------------------------------------------------------------
# manifest
# ------------------------------------------------------------------------------------------------
def read_manifest(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(export_dir, manifest)`` from an export folder (or a ``.onnx`` file inside one)."""
    path = Path(path)
    export_dir = path.parent if path.suffix == ".onnx" else path
    mpath = export_dir / MANIFEST_NAME
    if not export_dir.is_dir():
        raise TryonError(f"export folder {export_dir}: no such folder (create one with `tryon export TASK`)")
    if not mpath.is_file():
        raise TryonError(f"export folder {export_dir}: expected {MANIFEST_NAME}, found none (not a `tryon export` folder?)")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise TryonError(f"{mpath}: not valid JSON ({exc})") from None
    if manifest.get("format") != EXPORT_FORMAT:
        raise TryonError(f"{mpath}: expected format {EXPORT_FORMAT!r}, got {manifest.get('format')!r}")
    for key in ("inputs", "outputs", "resolution", "normalisation", "models"):
        if key not in manifest:
            raise TryonError(f"{mpath}: missing field {key!r}")
    return export_dir, manifest


def write_manifest(export_dir: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    path = Path(export_dir) / MANIFEST_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------------------
# image pre/post-processing in numpy/PIL (mirrors tryon.io.letterbox / restore, which use torch)
# ------------------------------------------------------------------------------------------------
def _resize_float(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``h×w×C`` float32 → ``H×W×C`` bilinear, half-pixel centres, antialiased when shrinking.

    PIL's float ("F") resampling is used because it is the reference torch's ``antialias=True`` was
    written to match (measured max difference to ``F.interpolate`` ≤ 5e-6); OpenCV's INTER_LINEAR does not
    antialias.
    """
    H, W = size
    if a.shape[:2] == (H, W):
        return a
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., c], dtype=np.float32)).resize((W, H), Image.BILINEAR))
             for c in range(a.shape[2])]
    return np.stack(chans, -1).astype(np.float32, copy=False)


def _resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    H, W = size
    if a.shape[:2] == (H, W):
        return a
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., c], dtype=np.float32)).resize((W, H), Image.NEAREST))
             for c in range(a.shape[2])]
    return np.stack(chans, -1).astype(np.float32, copy=False)


def letterbox_array(a: np.ndarray, size: tuple[int, int], fill: float = 1.0,
                    nearest: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``h×w×C`` float → ``H×W×C`` keeping the aspect ratio, padded with ``fill``; returns the content box
    ``(top, left, h', w')`` — the rule of :func:`tryon.io.letterbox`."""
    H, W = size
    h, w = a.shape[:2]
    if (h, w) == (H, W):
        return a.astype(np.float32, copy=False), (0, 0, H, W)
    s = min(H / h, W / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = (_resize_nearest if nearest else _resize_float)(a.astype(np.float32, copy=False), (nh, nw))
    out = np.full((H, W, a.shape[2]), fill, dtype=np.float32)
    top, left = (H - nh) // 2, (W - nw) // 2
    out[top : top + nh, left : left + nw] = r
    return out, (top, left, nh, nw)


def _range(norm: dict[str, Any]) -> tuple[float, float]:
    lo, hi = norm.get("range", [-1.0, 1.0])
    return float(lo), float(hi)


def normalise_unit(v: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """Values in [0, 1] (``H×W×C``) → the model's input convention (``range`` or ``mean``/``std``)."""
    if "mean" in norm and "std" in norm:
        return ((v - np.asarray(norm["mean"], np.float32)) / np.asarray(norm["std"], np.float32)).astype(np.float32)
    lo, hi = _range(norm)
    return (lo + (hi - lo) * v).astype(np.float32)


def denormalise_unit(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """Model output (``H×W×C``) → values in [0, 1] (not clipped)."""
    if "mean" in norm and "std" in norm:
        return x * np.asarray(norm["std"], np.float32) + np.asarray(norm["mean"], np.float32)
    lo, hi = _range(norm)
    return (x - lo) / (hi - lo)


def to_uint8_image(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """``H×W×3`` model-range output → ``H×W×3`` uint8 (clip, scale, round half to even like torch)."""
    lo, hi = _range(norm)
    if "mean" not in norm and (lo, hi) == (-1.0, 1.0):  # same arithmetic as tryon.io.to_uint8
        return np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.round(np.clip(denormalise_unit(x, norm), 0.0, 1.0) * 255.0).astype(np.uint8)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _kind(x: Any) -> str:
    return "numpy" if isinstance(x, np.ndarray) else "pil"


def input_kind(spec: dict[str, Any], norm: dict[str, Any]) -> str:
    """``"image"`` (B×3×H×W), ``"mask"`` (B×1×H×W) or ``"tensor"`` (anything else) for a manifest input."""
    kind = (norm.get("per_tensor") or {}).get(spec["name"], {}).get("kind")
    if kind:
        return kind
    shape = spec.get("shape", [])
    if len(shape) == 4 and shape[1] == 3:
        return "image"
    if len(shape) == 4 and shape[1] == 1:
        return "mask"
    return "tensor"


def input_norm(norm: dict[str, Any], name: str) -> dict[str, Any]:
    """Per-tensor normalisation: ``normalisation["per_tensor"][name]`` overrides the shared keys."""
    per = (norm.get("per_tensor") or {}).get(name, {})
    return {**{k: v for k, v in norm.items() if k != "per_tensor"}, **per}


def prepare_input(
    items: Sequence[Any], spec: dict[str, Any], manifest: dict[str, Any]
) -> tuple[np.ndarray, list[tuple[int, int]], list[tuple[int, int, int, int]], str]:
    """Images for one manifest input → ``(N×C×H×W float32, original sizes, boxes, kind)``."""
    name = spec["name"]
    H, W = manifest["resolution"]
    norm = input_norm(manifest["normalisation"], name)
    kind = input_kind(spec, manifest["normalisation"])
    kinds = {_kind(i) for i in items}
    if len(kinds) > 1:
        raise InputError(name, "a batch of one kind of input", f"a mix of {sorted(kinds)}")
    arrays, sizes, boxes = [], [], []
    for i, item in enumerate(items):
        label = f"{name}[{i}]" if len(items) > 1 else name
        if _is_torch(item):
            raise InputError(label, "a path, bytes, PIL image or numpy H×W×3 uint8 array", "a torch tensor",
                             "tryon.runtime does not use torch: pass numpy/PIL, or use the torch pipeline")
        if kind == "tensor":
            a = np.asarray(item, dtype=np.float32)
            arrays.append(a if a.ndim == len(spec["shape"]) - 1 else a[0])
            sizes.append((H, W))
            boxes.append((0, 0, H, W))
            continue
        if isinstance(item, np.ndarray) and item.dtype.kind == "f" and kind == "image":
            raise InputError(label, "a numpy H×W×3 uint8 image", f"a float array {item.dtype} {tuple(item.shape)}",
                             "pre-normalised float arrays go to session.run_arrays()")
        if kind == "mask":
            m = load_mask(item, name=label)[..., None]
            v, box = letterbox_array(m, (H, W), fill=0.0, nearest=True)
            per = (manifest["normalisation"].get("per_tensor") or {}).get(name, {})
            x = normalise_unit(v, per) if ("range" in per or "mean" in per) else v  # {0, 1}, 1 = edit
            sizes.append(m.shape[:2])
        else:
            rgb = load_image(item, name=label)
            v, box = letterbox_array(rgb.astype(np.float32) / 255.0, (H, W), fill=1.0)  # white padding
            if norm.get("color", "RGB").upper() == "BGR":
                v = v[..., ::-1]
            x = normalise_unit(v, norm)
            sizes.append(rgb.shape[:2])
        boxes.append(box)
        arrays.append(x if norm.get("layout", "NCHW").upper() == "NHWC" else x.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(arrays, 0), dtype=np.float32), sizes, boxes, next(iter(kinds))


def restore_output(
    out: np.ndarray, sizes: list[tuple[int, int]], boxes: list[tuple[int, int, int, int]], kind: str,
    manifest: dict[str, Any], name: str,
) -> list[Any]:
    """One model output ``B×C×H×W`` → per item: crop the letterbox box, resize back to the original size,
    then an image (uint8 numpy or PIL, per ``kind``) for 3-channel outputs, else ``C×h×w`` float32."""
    norm = input_norm(manifest["normalisation"], name)
    H, W = manifest["resolution"]
    nhwc = norm.get("layout", "NCHW").upper() == "NHWC"
    results = []
    for i in range(out.shape[0]):
        o = out[i]
        if o.ndim != 3:
            results.append(o.astype(np.float32, copy=False))
            continue
        hwc = o if nhwc else o.transpose(1, 2, 0)
        if hwc.shape[:2] == (H, W):
            top, left, h, w = boxes[i]
            hwc = hwc[top : top + h, left : left + w]
            hwc = _resize_float(np.ascontiguousarray(hwc, dtype=np.float32), tuple(sizes[i]))
        if hwc.shape[2] == 3:
            if norm.get("color", "RGB").upper() == "BGR":
                hwc = hwc[..., ::-1]
            u8 = to_uint8_image(hwc, norm)
            results.append(u8 if kind == "numpy" else Image.fromarray(u8))
        else:
            results.append(np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32))
    return results


# ------------------------------------------------------------------------------------------------
# sessions
# ------------------------------------------------------------------------------------------------
def bind_inputs(input_names: Sequence[str], images: Sequence[Any],
                named: dict[str, Any]) -> tuple[dict[str, Any], int, bool]:
    """Bind a call's inputs to a model's ``input_names``: positionally in that order and/or by name.

    Returns ``(values, count, is_list)``: the value of every input, the batch size (the common length of the
    inputs given as lists or tuples, else 1) and whether any input was a list (results are then lists). One
    :class:`InputError` for too many positional inputs, an unknown name, an input given both ways, a missing
    input, lists of different lengths or an empty list. Shared by :class:`ImageModelSession` and
    :class:`tryon.catalogue.CatalogueSession`."""
    names = list(input_names)
    if len(images) > len(names):
        raise InputError("inputs", f"at most {len(names)} images ({', '.join(names)})", f"{len(images)}")
    values = dict(zip(names, images))
    for k, v in named.items():
        if k not in names:
            raise InputError(k, f"one of the model inputs {names}", f"an unknown input {k!r}")
        if k in values:
            raise InputError(k, "one value", "the input given both positionally and by name")
        values[k] = v
    missing = [n for n in names if values.get(n) is None]
    if missing:
        raise InputError("inputs", f"all of {names}", f"missing {missing}")
    lengths = {n: len(v) for n, v in values.items() if isinstance(v, (list, tuple))}
    if len(set(lengths.values())) > 1:
        raise InputError("inputs", "batches of equal length", ", ".join(f"{n}: {k}" for n, k in lengths.items()))
    count = next(iter(lengths.values()), 1)
    if count == 0:
        raise InputError("inputs", "at least one image", "an empty list")
    return values, count, bool(lengths)


class ImageModelSession:
    """An ONNX Runtime session over a ``tryon export`` folder, taking and returning images.

    ``providers``: ``None`` = CPU; names or short names (``"cuda"``, ``"trt"``) or ``(name, options)``;
    the CPU provider is appended as the per-node fallback for ops a GPU provider lacks.
    ``intra_op_threads``: ``None`` = number of physical cores. ``graph_optimization``: ``"all"`` (default),
    ``"extended"``, ``"basic"``, ``"disable"``. ``model``: ``"fp32"`` (default), ``"fp16"`` (meant for the
    CUDA provider) or ``"int8"`` (QDQ, CPU) when the export folder has it.

    ``backend``: ``"ort"`` (onnxruntime, default) or ``"openvino"`` (optional extra, CPU; see
    :mod:`tryon.runtime_openvino`). ``precision``: ``"fp32"``, ``"bf16"`` (OpenVINO on a CPU with bf16 only,
    refused with one line elsewhere), ``"int8"`` (ORT: the QDQ model; OpenVINO: the NNCF model) or ``"fp16"``
    (ORT); when given it picks the model variant and replaces ``model``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        providers: Any = None,
        intra_op_threads: int | None = None,
        graph_optimization: str = "all",
        model: str = "fp32",
        *,
        inter_op_threads: int | None = None,
        allow_fallback: bool = False,
        log_severity: int | None = None,
        backend: str = "ort",
        precision: str | None = None,
    ):
        if backend not in BACKENDS:
            raise TryonError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        if precision is not None:
            model = precision
        self.precision = model
        self.export_dir, self.manifest = read_manifest(path)
        models = self.manifest["models"]
        if backend == "openvino":
            self._init_openvino(providers, intra_op_threads)
            return
        if model == "bf16":
            raise TryonError("precision 'bf16' is offered by backend 'openvino' only (onnxruntime's CPU provider has no "
                             "bf16 kernels for these graphs): use backend='openvino' or precision 'fp32'/'int8'")
        _ort()  # fail early, with the install hint, when onnxruntime is missing
        if model not in models:
            raise TryonError(
                f"export {self.export_dir}: no {model!r} model (available: {', '.join(sorted(models))})"
                + ("; create it with tryon.export.quantize_int8" if model == "int8" else "")
                + ("; export with fp16=True (`tryon export --fp16`)" if model == "fp16" else "")
            )
        self.model = model
        self.model_path = self.export_dir / models[model]["file"]
        if not self.model_path.is_file():
            raise TryonError(f"export {self.export_dir}: {self.model_path.name} is listed in the manifest but missing")
        self.input_specs: list[dict[str, Any]] = list(self.manifest["inputs"])
        self.output_specs: list[dict[str, Any]] = list(self.manifest["outputs"])
        self.input_names = [i["name"] for i in self.input_specs]
        self.output_names = [o["name"] for o in self.output_specs]
        self.resolution = tuple(int(v) for v in self.manifest["resolution"])
        self.normalisation = dict(self.manifest["normalisation"])

        requested = normalise_providers(providers)
        names = [_provider_name(p) for p in requested]
        if "CPUExecutionProvider" not in names:
            requested.append("CPUExecutionProvider")  # per-node fallback for ops the GPU EP lacks
        self.providers_requested = [_provider_name(p) for p in requested]
        wanted = [p for p in self.providers_requested if p != "CPUExecutionProvider"]
        avail = available_providers()
        missing = [p for p in wanted if p not in avail]
        if missing and not allow_fallback:
            hint = ""
            if any(p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") for p in missing):
                hint = ("; for CUDA/TensorRT install onnxruntime-gpu *instead of* onnxruntime (they overwrite each "
                        "other): pip uninstall -y onnxruntime && pip install onnxruntime-gpu")
            raise ProviderError(
                f"requested execution provider(s) {', '.join(missing)} but the installed onnxruntime "
                f"({onnxruntime_distribution()}) offers only {', '.join(avail)}{hint}"
            )
        if missing:
            requested = [p for p in requested if _provider_name(p) not in missing]

        self.intra_op_threads = int(intra_op_threads) if intra_op_threads else physical_cores()
        self.inter_op_threads = inter_op_threads
        if graph_optimization not in _OPT_LEVELS:
            raise TryonError(f"graph_optimization: expected one of {sorted(_OPT_LEVELS)}, got {graph_optimization!r}")
        self.graph_optimization = graph_optimization
        self.log_severity = log_severity
        self._providers_arg = requested
        self.session = self._make_session()
        self.providers_used = list(self.session.get_providers())
        inactive = [p for p in wanted if p not in self.providers_used]
        if inactive:
            msg = (
                f"requested execution provider(s) {', '.join(self.providers_requested)} but the session runs on "
                f"{', '.join(self.providers_used)}: onnxruntime fell back silently for {', '.join(inactive)} "
                "(typically CUDA/cuDNN/TensorRT libraries missing or of the wrong version; see the onnxruntime log)"
            )
            if not allow_fallback:
                raise ProviderError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        self._node_providers: dict[str, Any] | None = None
        sess_inputs = [i.name for i in self.session.get_inputs()]
        if sess_inputs != self.input_names:
            raise TryonError(f"{self.model_path}: graph inputs {sess_inputs} do not match the manifest {self.input_names}")

    def _init_openvino(self, providers: Any, intra_op_threads: int | None) -> None:
        from .runtime_openvino import OpenVINOSession, check_precision, model_file

        if providers is not None and normalise_providers(providers) != ["CPUExecutionProvider"]:
            raise ProviderError(f"backend 'openvino' runs on the CPU; providers {providers!r} apply to backend 'ort' only")
        check_precision(self.precision)
        self.model = self.precision
        self.model_path = model_file(self.export_dir, self.manifest, self.precision)
        self.input_specs = list(self.manifest["inputs"])
        self.output_specs = list(self.manifest["outputs"])
        self.input_names = [i["name"] for i in self.input_specs]
        self.output_names = [o["name"] for o in self.output_specs]
        self.resolution = tuple(int(v) for v in self.manifest["resolution"])
        self.normalisation = dict(self.manifest["normalisation"])
        self.intra_op_threads = int(intra_op_threads) if intra_op_threads else physical_cores()
        self.inter_op_threads = None
        self.graph_optimization = "openvino"
        self.providers_requested = ["OpenVINO-CPU"]
        self.session = OpenVINOSession(self.model_path, self.precision, self.intra_op_threads)
        self.providers_used = self.session.get_providers()
        self._node_providers = {"source": "session", "note": "OpenVINO runs the whole graph on the CPU plugin",
                                "providers": self.providers_used}
        if self.session.input_names != self.input_names:
            raise TryonError(f"{self.model_path}: graph inputs {self.session.input_names} do not match the manifest {self.input_names}")

    # -- session --------------------------------------------------------------------------------
    def _options(self, profile_prefix: str | None = None):
        ort = _ort()
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[self.graph_optimization])
        so.intra_op_num_threads = self.intra_op_threads
        if self.inter_op_threads:
            so.inter_op_num_threads = int(self.inter_op_threads)
        if self.log_severity is not None:
            so.log_severity_level = int(self.log_severity)
        if profile_prefix:
            so.enable_profiling = True
            so.profile_file_prefix = profile_prefix
        return so

    def _make_session(self, profile_prefix: str | None = None):
        ort = _ort()
        try:
            return ort.InferenceSession(str(self.model_path), sess_options=self._options(profile_prefix), providers=self._providers_arg)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise TryonError(f"onnxruntime could not load {self.model_path}: {str(exc).strip().splitlines()[0]}") from None

    @property
    def is_gpu(self) -> bool:
        return any(p != "CPUExecutionProvider" for p in self.providers_used)

    def describe(self) -> dict[str, Any]:
        return {
            "export": str(self.export_dir),
            "backend": self.backend,
            "precision": self.precision,
            "model": self.model,
            "providers_requested": self.providers_requested,
            "providers_used": self.providers_used,
            "intra_op_threads": self.intra_op_threads,
            "graph_optimization": self.graph_optimization,
            "io_binding": False,
        }

    def dummy_feeds(self, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
        """Random inputs in the manifest's input range at ``batch`` (for warm-up, profiling, benchmarks)."""
        rng = np.random.default_rng(seed)
        feeds = {}
        for spec in self.input_specs:
            shape = [batch if not isinstance(d, int) else d for d in spec["shape"]]
            norm = input_norm(self.normalisation, spec["name"])
            lo, hi = _range(norm) if "mean" not in norm else (-2.0, 2.0)
            feeds[spec["name"]] = rng.uniform(lo, hi, size=shape).astype(np.float32)
        return feeds

    def node_providers(self) -> dict[str, Any]:
        """Which execution provider runs each node (of the *optimised* graph).

        Obtained from an ONNX Runtime profiling run (one batch-1 run of a second, profiling session; the
        trace's node events carry ``args.provider``). When that is not obtainable the per-session
        providers are reported instead, with ``source: "session"`` and the reason.
        """
        if self._node_providers is not None:
            return self._node_providers
        try:
            with tempfile.TemporaryDirectory(prefix="tryon-ort-profile-") as tmp:
                sess = self._make_session(profile_prefix=os.path.join(tmp, "profile"))
                sess.run(None, self.dummy_feeds(1))
                trace = sess.end_profiling()
                events = json.loads(Path(trace).read_text())
            nodes: dict[str, dict[str, str]] = {}
            for ev in events:
                args = ev.get("args", {}) if isinstance(ev, dict) else {}
                if ev.get("cat") != "Node" or "provider" not in args:
                    continue
                name = ev.get("name", "")
                for suffix in ("_kernel_time", "_fence_before", "_fence_after"):
                    if name.endswith(suffix):
                        name = name[: -len(suffix)]
                nodes[name] = {"op": args.get("op_name", "?"), "provider": args["provider"]}
            if not nodes:
                raise RuntimeError("the profile has no node events")
            by_provider: dict[str, int] = {}
            by_op: dict[str, dict[str, int]] = {}
            for info in nodes.values():
                by_provider[info["provider"]] = by_provider.get(info["provider"], 0) + 1
                ops = by_op.setdefault(info["op"], {})
                ops[info["provider"]] = ops.get(info["provider"], 0) + 1
            result: dict[str, Any] = {
                "source": "profiling",
                "note": "nodes of the optimised graph (fused/reordered nodes appear under ORT's names)",
                "providers": self.providers_used,
                "by_provider": by_provider,
                "by_op": by_op,
                "nodes": nodes,
            }
        except Exception as exc:  # noqa: BLE001 - report what we can
            result = {
                "source": "session",
                "note": f"per-node assignment not obtainable ({type(exc).__name__}: {exc}); per-session providers only",
                "providers": self.providers_used,
            }
        self._node_providers = result
        return result

    # -- running --------------------------------------------------------------------------------
    def run_arrays(self, feeds: dict[str, np.ndarray] | None = None, **arrays: np.ndarray) -> dict[str, np.ndarray]:
        """Run on pre-normalised float arrays (``{input name: N×C×H×W float32}``) → ``{output name: array}``."""
        feeds = {**(feeds or {}), **arrays}
        unknown = sorted(set(feeds) - set(self.input_names))
        missing = [n for n in self.input_names if n not in feeds]
        if unknown or missing:
            raise InputError("inputs", f"exactly {self.input_names}", f"missing {missing}, unknown {unknown}")
        clean = {}
        for spec in self.input_specs:
            a = feeds[spec["name"]]
            if _is_torch(a):
                raise InputError(spec["name"], "a numpy array", "a torch tensor", "call .numpy() first")
            a = np.ascontiguousarray(a, dtype=np.float32)
            exp = spec["shape"]
            if a.ndim != len(exp) or any(isinstance(d, int) and d != s for d, s in zip(exp, a.shape)):
                raise InputError(spec["name"], f"an array of shape {exp}", f"shape {list(a.shape)}")
            clean[spec["name"]] = a
        batch = clean[self.input_names[0]].shape[0]
        static = isinstance(self.input_specs[0]["shape"][0], int)
        if static and batch != self.input_specs[0]["shape"][0]:  # fixed-batch export: run item by item
            b0 = self.input_specs[0]["shape"][0]
            parts = [self.session.run(None, {k: v[i : i + b0] for k, v in clean.items()}) for i in range(0, batch, b0)]
            outs = [np.concatenate([p[j] for p in parts], 0) for j in range(len(self.output_names))]
        else:
            outs = self.session.run(None, clean)
        return dict(zip(self.output_names, outs))

    def __call__(self, *images: Any, return_all: bool = False, **named: Any) -> Any:
        """Images in (positionally in manifest order, or by input name) → the main output (or all, as a dict).

        A list for an input is a batch; a single image next to lists is used for every item.
        """
        values, n, is_list = bind_inputs(self.input_names, images, named)
        feeds, meta = {}, {}
        for spec in self.input_specs:
            v = values[spec["name"]]
            items = list(v) if isinstance(v, (list, tuple)) else [v] * n
            feeds[spec["name"]], *meta[spec["name"]] = prepare_input(items, spec, self.manifest)
        sizes, boxes, kind = meta[self.input_names[0]]  # outputs follow the first input
        outs = self.run_arrays(feeds)
        restored = {name: restore_output(arr, sizes, boxes, kind, self.manifest, name) for name, arr in outs.items()}
        if not is_list:
            restored = {k: v[0] for k, v in restored.items()}
        return restored if return_all else restored[self.output_names[0]]


class TryOnSession(ImageModelSession):
    """:class:`ImageModelSession` for try-on exports (inputs ``person`` and ``garment``).

    ``sess(person, garment)`` → the try-on image, the size and kind of ``person``.
    """

    def __init__(self, path: str | os.PathLike, providers: Any = None, **kwargs: Any):
        super().__init__(path, providers, **kwargs)
        if not {"person", "garment"} <= set(self.input_names):
            raise TryonError(f"export {self.export_dir}: a try-on model takes inputs person and garment, this one takes {self.input_names}")

    def __call__(self, person: Any = None, garment: Any = None, *, return_all: bool = False, **named: Any) -> Any:  # type: ignore[override]
        return super().__call__(person=person, garment=garment, return_all=return_all, **named)


def list_models(export_dir: str | os.PathLike) -> dict[str, Any]:
    """The model variants of an export folder (``fp32`` always; ``fp16``/``int8`` when written)."""
    return read_manifest(export_dir)[1]["models"]


def iter_export_dirs(root: str | os.PathLike = "exports") -> Iterable[Path]:
    """Export folders under ``root`` (those with a manifest)."""
    root = Path(root)
    if root.is_dir():
        yield from sorted(p for p in root.iterdir() if (p / MANIFEST_NAME).is_file())


__all__ = [
    "ImageModelSession",
    "TryOnSession",
    "read_manifest",
    "write_manifest",
    "available_providers",
    "normalise_providers",
    "physical_cores",
    "onnxruntime_distribution",
    "letterbox_array",
    "prepare_input",
    "restore_output",
    "list_models",
    "iter_export_dirs",
    "MANIFEST_NAME",
    "EXPORT_FORMAT",
]


def __getattr__(name: str) -> Any:
    """Lazy re-export of :class:`tryon.catalogue.CatalogueSession` (that module imports this one)."""
    if name == "CatalogueSession":
        from .catalogue import CatalogueSession

        return CatalogueSession
    raise AttributeError(f"module 'tryon.runtime' has no attribute {name!r}")
