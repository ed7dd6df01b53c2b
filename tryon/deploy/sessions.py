"""ONNX Runtime sessions over ``tryon export`` folders, taking and returning images — **no torch**.

:func:`open_ort_session` is the one place of the deploy wing that constructs an ``onnxruntime.InferenceSession``
(with :func:`session_options`); :class:`ImageModelSession` (and :class:`TryOnSession`) and
:class:`tryon.deploy.catalogue.CatalogueSession` go through it. Usage and conventions: :mod:`tryon.runtime`
(the public face).

Providers (``providers=``): CPU by default; a requested non-CPU provider that is not offered, or that the
session does not use (onnxruntime's silent CPU fallback), raises :class:`tryon.errors.ProviderError` naming
requested vs active providers (``allow_fallback=True`` turns the latter into a warning). IO binding on CUDA is
*not* implemented: inputs come from host memory, so host→device copies are inside the timed ``run``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ProviderError, TryonError
from .arrays import bind_inputs, input_norm, is_torch_tensor, prepare_input, restore_output, value_range
from .manifest import check_conditions, read_manifest
from .profiling import node_providers_from_trace
from .providers import (
    OPT_LEVELS,
    fallback_message,
    default_threads,
    normalise_providers,
    request_providers,
    require_onnxruntime,
)

#: inference backends of :class:`ImageModelSession` (``openvino``: optional extra, :mod:`tryon.deploy.openvino`)
BACKENDS = ("ort", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def session_options(graph_optimization: str = "all", intra_op_threads: int | None = None, *,
                    inter_op_threads: int | None = None, log_severity: int | None = None,
                    profile_prefix: str | None = None, spinning: bool | None = None) -> Any:
    """``onnxruntime.SessionOptions`` with our settings: graph optimisation level (a key of
    :data:`tryon.deploy.providers.OPT_LEVELS`), intra/inter-op threads, log severity, profiling to
    ``profile_prefix``; ``spinning=False`` stops the intra-op threads from spinning between runs
    (``session.intra_op.allow_spinning``: what a loop that does other work between runs wants, e.g. video decoding;
    ``None`` keeps onnxruntime's default)."""
    if graph_optimization not in OPT_LEVELS:
        raise TryonError(f"graph_optimization: expected one of {sorted(OPT_LEVELS)}, got {graph_optimization!r}")
    ort = require_onnxruntime()
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPT_LEVELS[graph_optimization])
    if intra_op_threads:
        so.intra_op_num_threads = int(intra_op_threads)
    if inter_op_threads:
        so.inter_op_num_threads = int(inter_op_threads)
    if log_severity is not None:
        so.log_severity_level = int(log_severity)
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if spinning is not None:
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return so


def open_ort_session(model_path: str | os.PathLike, providers: list[Any], graph_optimization: str = "all",
                     intra_op_threads: int | None = None, *, inter_op_threads: int | None = None,
                     log_severity: int | None = None, profile_prefix: str | None = None,
                     spinning: bool | None = None) -> Any:
    """The deploy wing's one constructor of ``onnxruntime.InferenceSession``: ``model_path`` with
    :func:`session_options` on ``providers`` (the list handed to onnxruntime, e.g.
    ``ProviderRequest.session_providers``). A load failure is one :class:`TryonError` line."""
    so = session_options(graph_optimization, intra_op_threads, inter_op_threads=inter_op_threads,
                         log_severity=log_severity, profile_prefix=profile_prefix, spinning=spinning)
    try:
        return require_onnxruntime().InferenceSession(str(model_path), sess_options=so, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise TryonError(f"onnxruntime could not load {model_path}: {str(exc).strip().splitlines()[0]}") from None


class ImageModelSession:
    """An ONNX Runtime session over a ``tryon export`` folder, taking and returning images.

    ``providers``: ``None`` = CPU; names or short names (``"cuda"``, ``"trt"``) or ``(name, options)``;
    the CPU provider is appended as the per-node fallback for ops a GPU provider lacks.
    ``intra_op_threads``: ``None`` = number of physical cores. ``graph_optimization``: ``"all"`` (default),
    ``"extended"``, ``"basic"``, ``"disable"``. ``model``: ``"fp32"`` (default), ``"fp16"`` (meant for the
    CUDA provider) or ``"int8"`` (QDQ, CPU) when the export folder has it.

    ``backend``: ``"ort"`` (onnxruntime, default) or ``"openvino"`` (optional extra, CPU; see
    :mod:`tryon.deploy.openvino`). ``precision``: ``"fp32"``, ``"bf16"`` (OpenVINO on a CPU with bf16 only,
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
        self.input_specs: list[dict[str, Any]] = list(self.manifest["inputs"])
        self.output_specs: list[dict[str, Any]] = list(self.manifest["outputs"])
        self.input_names = [i["name"] for i in self.input_specs]
        self.output_names = [o["name"] for o in self.output_specs]
        self.resolution = tuple(int(v) for v in self.manifest["resolution"])
        self.normalisation = dict(self.manifest["normalisation"])
        self._node_providers: dict[str, Any] | None = None
        if backend == "openvino":
            self._init_openvino(providers, intra_op_threads)
        else:
            self._init_ort(providers, intra_op_threads, graph_optimization, inter_op_threads, allow_fallback, log_severity)
        graph_inputs = self.session.input_names if backend == "openvino" else [i.name for i in self.session.get_inputs()]
        if graph_inputs != self.input_names:
            raise TryonError(f"{self.model_path}: graph inputs {graph_inputs} do not match the manifest {self.input_names}")

    def _init_ort(self, providers: Any, threads: int | None, graph_optimization: str, inter_op_threads: int | None,
                  allow_fallback: bool, log_severity: int | None) -> None:
        model, models = self.precision, self.manifest["models"]
        if model == "bf16":
            raise TryonError("precision 'bf16' is offered by backend 'openvino' only (onnxruntime's CPU provider has no "
                             "bf16 kernels for these graphs): use backend='openvino' or precision 'fp32'/'int8'")
        require_onnxruntime()  # fail early, with the install hint, when onnxruntime is missing
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
        request = request_providers(providers, allow_fallback)
        self.providers_requested = request.requested
        self.intra_op_threads = default_threads(threads)
        self.inter_op_threads = inter_op_threads
        if graph_optimization not in OPT_LEVELS:
            raise TryonError(f"graph_optimization: expected one of {sorted(OPT_LEVELS)}, got {graph_optimization!r}")
        self.graph_optimization = graph_optimization
        self.log_severity = log_severity
        self._session_providers = request.session_providers
        self.session = self._open()
        self.providers_used = list(self.session.get_providers())
        msg = fallback_message(request, self.providers_used)
        if msg:
            if not allow_fallback:
                raise ProviderError(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def _init_openvino(self, providers: Any, threads: int | None) -> None:
        from .openvino import OpenVINOSession, check_precision, model_file

        if providers is not None and normalise_providers(providers) != ["CPUExecutionProvider"]:
            raise ProviderError(f"backend 'openvino' runs on the CPU; providers {providers!r} apply to backend 'ort' only")
        check_precision(self.precision)
        self.model = self.precision
        self.model_path = model_file(self.export_dir, self.manifest, self.precision)
        self.intra_op_threads = default_threads(threads)
        self.inter_op_threads = None
        self.graph_optimization = "openvino"
        self.providers_requested = ["OpenVINO-CPU"]
        self.session = OpenVINOSession(self.model_path, self.precision, self.intra_op_threads)
        self.providers_used = self.session.get_providers()
        self._node_providers = {"source": "session", "note": "OpenVINO runs the whole graph on the CPU plugin",
                                "providers": self.providers_used}

    # -- session --------------------------------------------------------------------------------
    def _open(self, profile_prefix: str | None = None) -> Any:
        return open_ort_session(self.model_path, self._session_providers, self.graph_optimization,
                                self.intra_op_threads, inter_op_threads=self.inter_op_threads,
                                log_severity=self.log_severity, profile_prefix=profile_prefix)

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
        """Random float32 inputs in the manifest's input range at ``batch`` (warm-up, profiling, benchmarks)."""
        rng = np.random.default_rng(seed)
        feeds = {}
        for spec in self.input_specs:
            shape = [batch if not isinstance(d, int) else d for d in spec["shape"]]
            norm = input_norm(self.normalisation, spec["name"])
            lo, hi = value_range(norm) if "mean" not in norm else (-2.0, 2.0)
            feeds[spec["name"]] = rng.uniform(lo, hi, size=shape).astype(np.float32)
        return feeds

    def node_providers(self) -> dict[str, Any]:
        """Which execution provider runs each node (of the *optimised* graph).

        Obtained from an ONNX Runtime profiling run (one batch-1 run of a second, profiling session; see
        :func:`tryon.deploy.profiling.node_providers_from_trace`). When that is not obtainable the per-session
        providers are reported instead, with ``source: "session"`` and the reason.
        """
        if self._node_providers is not None:
            return self._node_providers
        try:
            with tempfile.TemporaryDirectory(prefix="tryon-ort-profile-") as tmp:
                sess = self._open(profile_prefix=os.path.join(tmp, "profile"))
                sess.run(None, self.dummy_feeds(1))
                trace = sess.end_profiling()
                events = json.loads(Path(trace).read_text())
            result = node_providers_from_trace(events, self.providers_used)
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
        """Run on pre-normalised float arrays (``{input name: N×C×H×W float32}``) → ``{output name: N×… float32}``."""
        feeds = {**(feeds or {}), **arrays}
        unknown = sorted(set(feeds) - set(self.input_names))
        missing = [n for n in self.input_names if n not in feeds]
        if unknown or missing:
            raise InputError("inputs", f"exactly {self.input_names}", f"missing {missing}, unknown {unknown}")
        clean = {}
        for spec in self.input_specs:
            a = feeds[spec["name"]]
            if is_torch_tensor(a):
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

        Images: paths, bytes, PIL images or numpy ``H×W×3`` uint8 arrays; a list for an input is a batch, a single
        image next to lists is used for every item. Outputs have the size of the first input and its kind
        (numpy in → ``H×W×3`` uint8 numpy out; otherwise PIL); non-image outputs are ``C×H×W`` float32.
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

    ``sess(person, garment, category=None)`` → the try-on image, the size and kind of ``person``. ``category`` names
    the garment's category (``upper``, ``lower``, ``dress``): the model reads the garment from its image, so the
    category is not an input of the graph, but a category the weights were not trained on (``conditions`` in the
    manifest) is refused with one line before anything runs. Person and garment categories need not match.
    """

    def __init__(self, path: str | os.PathLike, providers: Any = None, **kwargs: Any):
        super().__init__(path, providers, **kwargs)
        if not {"person", "garment"} <= set(self.input_names):
            raise TryonError(f"export {self.export_dir}: a try-on model takes inputs person and garment, this one takes {self.input_names}")

    def __call__(self, person: Any = None, garment: Any = None, *, return_all: bool = False,  # type: ignore[override]
                 category: str | None = None, **named: Any) -> Any:
        check_conditions(self.manifest, self.export_dir, category=category)
        return super().__call__(person=person, garment=garment, return_all=return_all, **named)


__all__ = ["BACKENDS", "PRECISIONS", "session_options", "open_ort_session", "ImageModelSession", "TryOnSession"]
