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

The manifest, providers and array helpers live in :mod:`tryon.runtime_base` (re-exported here, the public face).

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
from typing import Any, Iterable

import numpy as np

from .errors import InputError, ProviderError, TryonError
from .runtime_base import (  # noqa: F401 - re-exported: tryon.runtime is the public face of the runtime
    BACKENDS,
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    MANIFEST_NAME,
    MODEL_VARIANTS,
    PRECISIONS,
    PROVIDER_ALIASES,
    _OPT_LEVELS,
    _is_torch,
    _ort,
    _provider_name,
    _range,
    available_providers,
    bind_inputs,
    denormalise_unit,
    input_kind,
    input_norm,
    letterbox_array,
    normalise_providers,
    normalise_unit,
    onnxruntime_distribution,
    physical_cores,
    prepare_input,
    read_manifest,
    restore_output,
    to_uint8_image,
    write_manifest,
)

log = logging.getLogger(__name__)


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
    """Lazy re-export of :class:`tryon.catalogue.CatalogueSession` (which builds on :mod:`tryon.runtime_base`, not on
    this module, so the re-export makes no import circle; lazy so that ``import tryon.runtime`` stays light)."""
    if name == "CatalogueSession":
        from .catalogue import CatalogueSession

        return CatalogueSession
    raise AttributeError(f"module 'tryon.runtime' has no attribute {name!r}")
