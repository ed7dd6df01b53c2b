"""Models behind the Open Inference Protocol: a v2 request bound to a model before it takes a slot, run inside it.

:class:`OIPModel` holds what every v2 model shares — input names and kinds (image / mask), the v2 metadata,
:meth:`OIPModel.bind` (everything a request may get wrong, refused with one line before any pixel is decoded)
and :meth:`OIPModel.respond` (the output tensors). :class:`ExportModel` serves a ``tryon export`` folder
through the app's :class:`~.models.ServedModel` (onnxruntime / OpenVINO, no torch); the iterative torch
pipelines are :class:`tryon.serve.pipelines.PipelineModel`. The KServe model (:mod:`.kserve`) binds its
requests with the same code.

**Inputs** (one tensor per model input, named as the export manifest / ``TaskSpec.inputs``), ``B`` images each
(1 ≤ B ≤ ``max_batch``):

* ``BYTES`` shape ``[B]`` — encoded images (PNG, JPEG, …): the header is read and the pixels its decoder
  will produce are checked against the pixel limit before a slot is taken, then decoded by the server's
  bounded decoder (:func:`tryon.io.load_image`, JPEG at reduced scale where the model allows);
* ``UINT8`` ``[B, H, W, 3]`` (images) / ``[B, H, W]`` or ``[B, H, W, 1]`` (masks, 0 / 255) — pixels;
* ``FP32`` with the same shapes — pixels in [0, 1] (rounded to 8 bits, as a decoded image would be).

**Output** (the model's first output, e.g. ``image``): ``BYTES`` ``[B]`` PNG images by default (``format``
``jpeg`` on request), or ``UINT8`` / ``FP32`` ``[B, H, W, 3]`` (FP32 = the same 8-bit pixels / 255) with the
request parameter ``output_datatype`` or the output's parameter ``datatype``. Binary (the extension) when the
output's ``binary_data`` or the request's ``binary_data_output`` is true, else JSON. Exports also take ``size``
(``input``/``model``, as ``/v1``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, TryonError
from .oip import InferRequest, OIPError, Tensor, flag

INPUT_DATATYPES = ("BYTES", "UINT8", "FP32")
OUTPUT_DATATYPES = ("BYTES", "UINT8", "FP32")
#: request parameters a client may send: ours, plus Triton/KServe ones accepted and ignored (``timeout`` is honoured
#: by the iterative pipelines; an export runs one forward, its wait bounded by --queue-timeout)
COMMON_PARAMETERS = ("binary_data_output", "output_datatype", "format")
IGNORED_PARAMETERS = ("priority", "sequence_id", "sequence_start", "sequence_end", "timeout")
#: parameters of one requested output (they override the request's)
OUTPUT_PARAMETERS = ("binary_data", "datatype", "format")
FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg"}


@dataclass
class Item:
    """One image of one input: ``blob`` (encoded, decoded in the slot) or ``array`` (pixels), its original size,
    and the size its decoder must produce at least (``None``: full)."""

    label: str
    hw: tuple[int, int]
    blob: bytes | None = None
    array: np.ndarray | None = None
    min_size: tuple[int, int] | None = None


@dataclass
class Job:
    """A request bound to a model: every item checked, the output fixed; run by :meth:`OIPModel.run`."""

    batch: int
    items: dict[str, list[Item]]
    out_sizes: list[tuple[int, int]]
    output: str
    datatype: str = "BYTES"
    binary: bool = False
    fmt: str = "png"
    request_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # model-specific (steps, deadline, seed …)


def int_param(params: dict[str, Any], key: str, default: int, lo: int, hi: int | None, why: str = "") -> int:
    v = params.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        rng = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
        raise OIPError(f"parameters.{key}: expected {rng}{why}, got {v!r}")
    return v


class OIPModel:
    """What every v2 model shares; subclasses set the attributes and implement :meth:`run`."""

    name: str
    platform: str
    input_names: list[str]
    kinds: dict[str, str]  # input → "image" | "mask"
    output_name: str
    max_pixels: int
    max_batch: int = 8
    #: model-specific request parameters (besides :data:`COMMON_PARAMETERS`)
    parameters: tuple[str, ...] = ()

    # -- metadata ----------------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """``GET /v2/models/{name}``: inputs and outputs as encoded images (``BYTES``, ``[-1]``: any batch);
        ``parameters`` name the other datatypes and the request parameters (scalars, as the protocol asks)."""
        return {
            "name": self.name,
            "versions": ["1"],
            "platform": self.platform,
            "inputs": [{"name": n, "datatype": "BYTES", "shape": [-1]} for n in self.input_names],
            "outputs": [{"name": self.output_name, "datatype": "BYTES", "shape": [-1]}],
            "parameters": {
                "input_kinds": ",".join(f"{n}:{self.kinds[n]}" for n in self.input_names),
                "input_datatypes": "BYTES [-1] encoded images; UINT8 [-1,-1,-1,3] pixels (masks [-1,-1,-1]); "
                                   "FP32 same shapes in [0, 1]",
                "output_datatypes": "BYTES [-1] PNG (format=jpeg); UINT8 [-1,-1,-1,3]; FP32 [-1,-1,-1,3] in [0, 1]",
                "request_parameters": ",".join((*COMMON_PARAMETERS, *self.parameters)),
                "max_batch": self.max_batch,
                "max_pixels": self.max_pixels,
                **self.extra_metadata(),
            },
        }

    def extra_metadata(self) -> dict[str, Any]:
        return {}

    # -- binding: everything checked before a slot -----------------------------------------------------
    def bind(self, req: InferRequest, arrival: float | None = None) -> Job:
        """Check a request against this model and fix its cost: inputs (names, datatypes, shapes, batch), each
        image's header and pixel count, the output (name, datatype, format, size). Raises :class:`OIPError`
        (or :class:`~tryon.errors.InputError`, also a 400) naming the problem. ``arrival``: the request's
        arrival on :func:`time.monotonic` (deadlines count from it; default now)."""
        allowed = set(COMMON_PARAMETERS) | set(IGNORED_PARAMETERS) | set(self.parameters)
        unknown = sorted(set(req.parameters) - allowed)
        if unknown:
            raise OIPError(f"parameters: unknown {', '.join(map(repr, unknown))}; model {self.name!r} takes "
                           f"{', '.join(sorted(set(COMMON_PARAMETERS) | set(self.parameters)))}")
        given = {t.name: t for t in req.inputs}
        missing = [n for n in self.input_names if n not in given]
        extra = sorted(set(given) - set(self.input_names))
        if missing or extra:
            what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                         f"unknown {', '.join(extra)}" if extra else "") if x)
            raise OIPError(f"inputs: expected {', '.join(self.input_names)} (model {self.name!r}), got {what}")
        batches = {n: self._batch(given[n]) for n in self.input_names}
        if len(set(batches.values())) > 1:
            raise OIPError("batch: every input needs the same number of images, got "
                           + ", ".join(f"{n}: {b}" for n, b in batches.items()))
        b = batches[self.input_names[0]]
        if not 1 <= b <= self.max_batch:
            raise OIPError(f"batch: expected 1 to {self.max_batch} images per input (the server's --max-batch), got {b}")
        items = {n: self._items(given[n], b) for n in self.input_names}
        job = Job(batch=b, items=items, out_sizes=[], output=self.output_name, request_id=req.id,
                  options={"arrival": time.monotonic() if arrival is None else float(arrival)})
        self._bind_output(req, job)
        self.bind_options(req, job)
        return job

    def _batch(self, t: Tensor) -> int:
        kind = self.kinds[t.name]
        if t.datatype not in INPUT_DATATYPES:
            raise OIPError(f"input {t.name!r}: datatype {t.datatype}: expected BYTES (encoded PNG/JPEG images), UINT8 "
                           "or FP32 (pixels)")
        s = t.shape
        if t.datatype == "BYTES":
            ok = len(s) == 1
            want = "[batch] (one encoded image per element)"
        elif kind == "mask":
            ok = len(s) == 3 or (len(s) == 4 and s[3] == 1)
            want = "[batch, height, width] or [batch, height, width, 1] (a mask)"
        else:
            ok = len(s) == 4 and s[3] == 3
            want = "[batch, height, width, 3] (RGB pixels)"
        if not ok or (t.datatype != "BYTES" and min(s[1:3]) < 1):
            raise OIPError(f"input {t.name!r}: shape {list(s)}: expected {want} for {t.datatype}")
        return int(s[0])

    def _items(self, t: Tensor, b: int) -> list[Item]:
        out = []
        for i in range(b):
            label = f"{t.name}[{i}]" if b > 1 else t.name
            if t.datatype == "BYTES":
                blob = t.data[i]
                hw, need, _ = self.probe(t.name, blob, label)
                out.append(Item(label, hw, blob=blob, min_size=need))
                continue
            a = np.asarray(t.data[i])
            a = a[..., 0] if a.ndim == 3 and self.kinds[t.name] == "mask" else a
            h, w = a.shape[:2]
            if h * w > self.max_pixels:
                raise InputError(label, f"at most {self.max_pixels} pixels (the serving limit)", f"{w}×{h} = {w * h}")
            if t.datatype == "FP32":
                if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
                    raise InputError(label, "FP32 pixels in [0, 1]",
                                     f"values from {float(np.nanmin(a)):.4g} to {float(np.nanmax(a)):.4g}"
                                     if np.isfinite(a).any() else "no finite value")
                if self.kinds[t.name] == "image":
                    a = np.rint(a * 255.0).astype(np.uint8)  # as a decoded 8-bit image
                else:
                    a = np.ascontiguousarray(a, dtype=np.float32)
            out.append(Item(label, (h, w), array=a))
        return out

    def probe(self, name: str, blob: bytes, label: str) -> tuple[tuple[int, int], tuple[int, int] | None, int]:
        """An encoded image's header → ``(original (H, W), min_size for decoding, decoded pixels)``; refused over
        ``max_pixels``. Subclasses may decode at reduced size (exports)."""
        from ..errors import ImageSizeError
        from ..io import probe_image

        header = probe_image(blob, name=label)
        dh, dw = header.decode_size(None)
        if dh * dw > self.max_pixels:
            raise ImageSizeError(label, f"an image of at most {self.max_pixels} pixels (the serving limit)",
                                 f"{header.format} {header.width}×{header.height}")
        return (header.height, header.width), None, dh * dw

    def _bind_output(self, req: InferRequest, job: Job) -> None:
        params = dict(req.parameters)
        if req.outputs:
            for o in req.outputs:
                if o.name != self.output_name:
                    raise OIPError(f"output {o.name!r}: model {self.name!r} returns {self.output_name!r}")
                bad = sorted(set(o.parameters) - set(OUTPUT_PARAMETERS))
                if bad:
                    raise OIPError(f"output {o.name!r}: unknown parameter(s) {', '.join(map(repr, bad))}; an output "
                                   f"takes {', '.join(OUTPUT_PARAMETERS)}")
                params.update(o.parameters)
            if "binary_data" in params:
                params["binary_data_output"] = params["binary_data"]
        job.binary = flag(params, "binary_data_output", False)
        dt = str(params.get("datatype", params.get("output_datatype", "BYTES"))).upper()
        if dt not in OUTPUT_DATATYPES:
            raise OIPError(f"output datatype {dt!r}: expected {', '.join(OUTPUT_DATATYPES)} (BYTES = encoded images)")
        job.datatype = dt
        fmt = str(params.get("format", "png")).lower()
        if fmt not in FORMATS:
            raise OIPError(f"parameters.format: expected png or jpeg, got {params.get('format')!r}")
        job.fmt = FORMATS[fmt]
        first = job.items[self.input_names[0]]
        job.out_sizes = [self.output_size(it.hw, job.fmt, req.parameters) for it in first]
        sizes = sorted(set(job.out_sizes))
        if dt != "BYTES" and len(sizes) > 1:
            raise OIPError(f"output datatype {dt}: the images of this batch give outputs of different sizes "
                           f"({', '.join(f'{w}×{h}' for h, w in sizes)}); send images of one size, or ask for BYTES")

    def output_size(self, hw: tuple[int, int], fmt: str, params: dict[str, Any]) -> tuple[int, int]:
        """The output (H, W) of an item whose first input is ``hw``."""
        return hw

    def bind_options(self, req: InferRequest, job: Job) -> None:
        """Model-specific request parameters (steps, deadline …) into ``job.options``."""

    # -- the work inside a slot --------------------------------------------------------------------------
    def decode(self, job: Job) -> dict[str, list[np.ndarray]]:
        """Every item → pixels (``H×W×3`` uint8 images, masks as :meth:`decode_mask` returns them); each blob is
        dropped once decoded."""
        from ..io import load_image, load_mask

        out: dict[str, list[np.ndarray]] = {}
        for name in self.input_names:
            arrays = []
            for it in job.items[name]:
                src, it.blob = (it.blob if it.blob is not None else it.array), None
                if self.kinds[name] == "mask":
                    arrays.append(self.decode_mask(load_mask(src, name=it.label)))
                else:
                    arrays.append(load_image(src, name=it.label, min_size=it.min_size) if it.array is None else src)
            out[name] = arrays
        return out

    def decode_mask(self, mask: np.ndarray) -> np.ndarray:
        """A validated ``H×W`` float {0, 1} mask → what the model takes (uint8 {0, 255}, as an 8-bit mask file)."""
        return (mask * 255).astype(np.uint8)

    def run(self, job: Job) -> tuple[list[np.ndarray], dict[str, float]]:
        """Decode and run → per item ``H×W×3`` uint8, and seconds per phase (``decode``, ``infer``)."""
        raise NotImplementedError

    def respond(self, job: Job, images: list[np.ndarray]) -> list[tuple[Tensor, bool]]:
        """The output tensor (encoded images or pixels) and whether it goes binary."""
        from .models import encode_image

        if job.datatype == "BYTES":
            data: Any = [encode_image(img, job.fmt) for img in images]
            t = Tensor(job.output, "BYTES", (len(data),), data)
        else:
            arr = np.stack(images)
            if job.datatype == "FP32":
                arr = arr.astype(np.float32) / np.float32(255.0)
            t = Tensor(job.output, job.datatype, tuple(arr.shape), arr)
        return [(t, job.binary)]

    def work(self, job: Job) -> tuple[list[tuple[Tensor, bool]], dict[str, float]]:
        """:meth:`run` then :meth:`respond`, timed (what a slot runs)."""
        images, timing = self.run(job)
        t = time.perf_counter()
        outputs = self.respond(job, images)
        return outputs, {**timing, "encode": time.perf_counter() - t}


class ExportModel(OIPModel):
    """A ``tryon export`` folder served by the app's :class:`~.models.ServedModel` (same session, limits).
    ``parameters.category`` (a try-on garment's category) is checked against the export's conditions."""

    parameters = ("size", "category")

    def __init__(self, served: Any, max_batch: int = 8):
        self.served = served
        s = served.session
        self.name = served.name
        self.platform = "openvino" if s.backend == "openvino" else "onnxruntime_onnx"
        self.input_names = list(served.input_names)
        self.kinds = dict(served.kinds)
        self.output_name = s.output_names[0]
        self.max_batch = int(max_batch)

    @property
    def max_pixels(self) -> int:  # type: ignore[override]
        return self.served.max_pixels

    def extra_metadata(self) -> dict[str, Any]:
        s = self.served.session
        h, w = s.resolution
        return {"task": str(s.manifest.get("task")), "resolution": f"{h}x{w}", "max_output_pixels":
                self.served.max_output_pixels, "variant": s.model}

    def probe(self, name: str, blob: bytes, label: str) -> tuple[tuple[int, int], tuple[int, int] | None, int]:
        return self.served.probe(name, blob, label)

    def bind_options(self, req: InferRequest, job: Job) -> None:
        from ..deploy.manifest import check_conditions

        try:
            check_conditions(self.served.session.manifest, f"of model {self.name!r}", category=req.parameters.get("category"))
        except TryonError as exc:
            raise OIPError(f"parameters.{exc}", status=422) from None

    def output_size(self, hw: tuple[int, int], fmt: str, params: dict[str, Any]) -> tuple[int, int]:
        from .models import OUTPUT_SIZES

        size = params.get("size", "input")
        if size not in OUTPUT_SIZES:
            raise OIPError(f"parameters.size: expected {' or '.join(OUTPUT_SIZES)}, got {size!r}")
        return self.served.output_size(hw, fmt, size)  # the policy of /v1; refuses what the format cannot encode

    def run(self, job: Job) -> tuple[list[np.ndarray], dict[str, float]]:
        a = time.perf_counter()
        arrays = self.decode(job)
        b = time.perf_counter()
        images = self.served.infer_batch(arrays, list(job.out_sizes))
        return images, {"decode": b - a, "infer": time.perf_counter() - b}


__all__ = ["int_param", "OIPModel", "ExportModel", "Job", "Item", "INPUT_DATATYPES", "OUTPUT_DATATYPES", "COMMON_PARAMETERS",
           "OUTPUT_PARAMETERS", "IGNORED_PARAMETERS"]
