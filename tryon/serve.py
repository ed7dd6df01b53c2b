"""HTTP service over ONNX exports: ``tryon serve`` (FastAPI; the ``serve`` extra). No torch.

For e-commerce back ends that render catalogues of people × garments: each request uploads one image per
model input (``person``, ``garment`` for a try-on export) and gets the output image back. The models are
``tryon export`` folders (format: ``exports/README.md``) run by :class:`tryon.runtime.ImageModelSession`
(onnxruntime, numpy, PIL — the service runs without torch)::

    tryon serve --model exports/wuton-student --port 8000
    curl -F person=@person.jpg -F garment=@shirt.jpg http://127.0.0.1:8000/v1/models/wuton-student/infer -o out.png

    from tryon.serve import create_app
    app = create_app({"student": "exports/wuton-student"}, max_concurrency=2)   # an ASGI app (uvicorn, ...)

Endpoints:

* ``GET /healthz`` → ``{"status": "ok", "models": [names]}``.
* ``GET /v1/models`` (and ``/v1/models/{name}``) → manifest summaries: task, component, inputs,
  outputs, resolution, opset, sha256, which variants (fp32/fp16/int8) the folder has, what is served.
* ``POST /v1/models/{name}/infer`` — ``multipart/form-data`` with one *file* field per manifest input and
  an optional ``format`` field (``png`` default, or ``jpeg``) → the first output as image bytes, the size
  of the first input (the person), with ``X-Latency-Ms`` / ``X-Inference-Ms`` / ``X-Queue-Ms`` and a
  ``Server-Timing`` header. Errors are JSON ``{"detail": "one line"}``: unknown model 404; not multipart
  415; a missing/duplicated/non-file field or a bad ``format`` 422 (naming the expected fields); an
  unreadable image, one over ``max_pixels`` or in an unconvertible mode 400 with the
  :class:`tryon.errors.InputError` message; a body over ``max_upload_bytes`` 413 (checked on
  ``Content-Length`` *and* while reading, so chunked uploads are bounded too); no free inference slot
  within ``queue_timeout_s`` 503 with ``Retry-After``.
* ``GET /metrics`` → Prometheus text format, hand-written (no client library): requests by route and
  status, inference requests by model and status, model-run / queue / request latency sums and counts,
  in-flight, running and waiting gauges.

Design choices: sessions are created (and warmed up with one dummy run) once, in :func:`create_app`, not
per request; all models share one concurrency gate (``max_concurrency`` inferences at a time, since they
share the CPU/GPU) — decoding, the model run and encoding happen in the thread pool inside the gate, so
the event loop stays free for health checks and uploads. A request waits for a slot for at most
``queue_timeout_s`` (bounded queueing: a back end sees a fast 503 instead of piling up timeouts). Each
onnxruntime session gets ``threads`` intra-op threads (default: physical cores / ``max_concurrency``, so
concurrent runs do not oversubscribe the CPU).

FastAPI is imported only inside :func:`create_app` and the CLI's ``run`` (never at module import), so
``import tryon.serve`` and ``tryon --help`` work without the extra.
"""

# No ``from __future__ import annotations`` here: FastAPI resolves endpoint annotations (``request: Request``)
# at route creation, and ``Request`` is imported inside create_app, not at module level.
import argparse
import asyncio
import io as _io
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from .errors import InputError, TryonError

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_QUEUE_TIMEOUT_S = 30.0
OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "jpg": ("JPEG", "image/jpeg")}
JPEG_QUALITY = 92
PNG_COMPRESS_LEVEL = 4  # zlib level: ~2x faster than PIL's default 6 for a few % larger files
UNKNOWN_MODEL_LABEL = "_unknown"  # metrics label for 404s (model names must start alphanumeric)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EXTRA_HINT = "pip install 'tryon[serve]'"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "error"


def _require_fastapi():
    try:
        import fastapi
    except ModuleNotFoundError as exc:
        raise TryonError(f"tryon serve needs FastAPI ({exc.name} is not installed): {_EXTRA_HINT}") from None
    try:
        import python_multipart  # noqa: F401  (Starlette's multipart parser)
    except ModuleNotFoundError:
        try:
            import multipart  # noqa: F401  (older python-multipart releases)
        except ModuleNotFoundError:
            raise TryonError(f"tryon serve needs python-multipart to read uploads: {_EXTRA_HINT}") from None
    return fastapi


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------
def parse_model_specs(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """CLI ``--model`` values → ``{name: export dir}``. ``NAME=DIR`` names a model; a bare ``DIR`` is named
    after its folder. Names are URL-safe (letters, digits, ``. _ -``) and unique."""
    models: dict[str, str] = {}
    for spec in specs:
        name, eq, path = str(spec).partition("=")
        if not eq or os.path.exists(spec):  # a bare folder (even one whose path contains "=")
            path = str(spec)
            name = Path(path.rstrip("/\\")).name or path
        name = name.strip()
        if name in models:
            raise TryonError(f"--model: the name {name!r} is used twice (name them: --model NAME=EXPORT_DIR)")
        models[name] = path
    if not models:
        raise TryonError("tryon serve: expected at least one --model EXPORT_DIR, got none")
    return models


class ServedModel:
    """One export folder behind the service: its session, input kinds and summary."""

    def __init__(self, name: str, path: str | os.PathLike, *, providers: Any = None, threads: int | None = None,
                 precision: str = "fp32", warmup: bool = True):
        from .runtime import ImageModelSession, input_kind

        if not _NAME_RE.match(name):
            raise TryonError(f"model name {name!r}: expected letters, digits, '.', '_' or '-' (at most 64, starting "
                             "with a letter or digit); name it with --model NAME=EXPORT_DIR")
        self.name = name
        self.session = ImageModelSession(path, providers=providers, intra_op_threads=threads, model=precision)
        m = self.session.manifest
        self.input_names: list[str] = list(self.session.input_names)
        self.kinds = {s["name"]: input_kind(s, m["normalisation"]) for s in self.session.input_specs}
        bad = [n for n, k in self.kinds.items() if k not in ("image", "mask")]
        if bad:
            raise TryonError(f"model {name!r} ({self.session.export_dir}): inputs {bad} are not images or masks; "
                             "tryon serve takes image uploads only")
        if "format" in self.input_names:
            raise TryonError(f"model {name!r}: an input named 'format' clashes with the output format field")
        out0 = m["outputs"][0]
        nhwc = str(m["normalisation"].get("layout", "NCHW")).upper() == "NHWC"
        shape = out0.get("shape", [])
        channels = shape[3] if (nhwc and len(shape) == 4) else (shape[1] if len(shape) == 4 else None)
        if channels != 3:
            raise TryonError(f"model {name!r}: the first output {out0['name']!r} has shape {shape}; "
                             "tryon serve returns images (B×3×H×W outputs)")
        if warmup:  # first-run allocations happen here, not in the first customer request
            self.session.run_arrays(self.session.dummy_feeds(1))

    def summary(self) -> dict[str, Any]:
        from .runtime import MODEL_VARIANTS

        s, m = self.session, self.session.manifest
        variants = {v: bool(v in m["models"] and (s.export_dir / m["models"][v]["file"]).is_file()) for v in MODEL_VARIANTS}
        return {
            "name": self.name,
            "task": m.get("task"),
            "component": m.get("component"),
            "inputs": [{"name": i["name"], "shape": i.get("shape"), "dtype": i.get("dtype"), "kind": self.kinds[i["name"]]}
                       for i in s.input_specs],
            "outputs": [{"name": o["name"], "shape": o.get("shape"), "dtype": o.get("dtype")} for o in s.output_specs],
            "returns": s.output_names[0],
            "resolution": list(s.resolution),
            "normalisation": {k: v for k, v in m["normalisation"].items() if k != "per_tensor"},
            "opset": m.get("opset"),
            "sha256": m.get("sha256"),
            "variants": variants,
            "parity_max_abs_error": (m.get("parity") or {}).get("max_abs_error"),
            "random_weights": m.get("weights") is None,
            "exported": m.get("date"),
            "serving": {"variant": s.model, "providers": list(s.providers_used), "intra_op_threads": s.intra_op_threads},
        }

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        """Decoded images → the first output, numpy ``H×W×3`` uint8 of the first input's size."""
        return self.session(**inputs)


def decode_inputs(model: ServedModel, blobs: Mapping[str, bytes], max_pixels: int | None) -> dict[str, np.ndarray]:
    """Uploaded bytes → decoded arrays (all validation of :mod:`tryon.io`; raises ``InputError``)."""
    from .io import load_image, load_mask

    out: dict[str, np.ndarray] = {}
    for name in model.input_names:
        if model.kinds[name] == "mask":
            # validated here (pixel limit); re-thresholded losslessly by the session from {0, 255}
            out[name] = (load_mask(blobs[name], name=name, max_pixels=max_pixels) * 255).astype(np.uint8)
        else:
            out[name] = load_image(blobs[name], name=name, max_pixels=max_pixels)
    return out


def encode_image(image: Any, fmt: str) -> bytes:
    """A uint8 ``H×W×3`` array (or PIL image) → PNG/JPEG bytes."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    pil_format = OUTPUT_FORMATS[fmt][0]
    buf = _io.BytesIO()
    if pil_format == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# concurrency gate and metrics (plain Python: no FastAPI needed)
# ------------------------------------------------------------------------------------------------
class ConcurrencyGate:
    """At most ``limit`` inferences at a time; a waiter gives up after ``timeout_s`` (``None`` = forever).

    The asyncio semaphore is (re)created per event loop: an app served by uvicorn has one loop, but test
    clients may run successive requests on different loops, and an asyncio primitive must not cross loops.
    """

    def __init__(self, limit: int, timeout_s: float | None):
        if int(limit) < 1:
            raise TryonError(f"max_concurrency: expected an integer >= 1, got {limit!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise TryonError(f"queue_timeout_s: expected a positive number of seconds (or None), got {timeout_s!r}")
        self.limit = int(limit)
        self.timeout_s = timeout_s
        self._loop: Any = None
        self._sem: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._sem is None:
            self._loop, self._sem = loop, asyncio.Semaphore(self.limit)
        return self._sem

    async def acquire(self) -> asyncio.Semaphore | None:
        """The semaphore to release afterwards, or ``None`` when no slot freed up in time."""
        sem = self._semaphore()
        try:
            await asyncio.wait_for(sem.acquire(), self.timeout_s)
        except asyncio.TimeoutError:
            return None
        return sem


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))


class ServeMetrics:
    """Counters and gauges of the service, rendered in the Prometheus text format (version 0.0.4)."""

    def __init__(self, models: list[str], max_concurrency: int):
        self._lock = threading.Lock()
        self.models = list(models)
        self.max_concurrency = max_concurrency
        self.start_time = time.time()
        self.requests: dict[tuple[str, int], int] = {}        # (route template, status) -> n
        self.infer_requests: dict[tuple[str, int], int] = {}  # (model, status) -> n
        self.summaries: dict[str, dict[str, list[float]]] = {k: {m: [0.0, 0] for m in self.models}
                                                              for k in ("inference", "queue_wait", "request")}
        self.in_flight = 0  # HTTP requests being handled (every route)
        self.running = 0    # inferences holding a slot
        self.waiting = 0    # inference requests waiting for a slot

    def count_request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] = self.requests.get((route, status), 0) + 1

    def count_infer(self, model: str, status: int) -> None:
        with self._lock:
            self.infer_requests[(model, status)] = self.infer_requests.get((model, status), 0) + 1

    def observe(self, kind: str, model: str, seconds: float) -> None:
        with self._lock:
            s = self.summaries[kind].setdefault(model, [0.0, 0])
            s[0] += seconds
            s[1] += 1

    def add(self, gauge: str, delta: int) -> None:
        with self._lock:
            setattr(self, gauge, getattr(self, gauge) + delta)

    def render(self) -> str:
        with self._lock:
            lines: list[str] = []

            def block(name: str, kind: str, help_: str, samples: list[tuple[str, dict[str, Any], float]]) -> None:
                lines.append(f"# HELP {name} {help_}")
                lines.append(f"# TYPE {name} {kind}")
                for suffix, labels, value in samples:
                    lab = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
                    lines.append(f"{name}{suffix}{{{lab}}} {_num(value)}" if lab else f"{name}{suffix} {_num(value)}")

            block("tryon_serve_requests_total", "counter", "HTTP requests handled, by route template and status code.",
                  [("", {"route": r, "status": s}, n) for (r, s), n in sorted(self.requests.items())])
            block("tryon_serve_infer_requests_total", "counter",
                  f"Inference requests, by model and status code ({UNKNOWN_MODEL_LABEL} = unknown model name).",
                  [("", {"model": m, "status": s}, n) for (m, s), n in sorted(self.infer_requests.items())])
            for kind, help_ in (
                ("inference", "Model run time of successful inferences in seconds (decode and encode excluded)."),
                ("queue_wait", "Time inference requests waited for a free slot, in seconds."),
                ("request", "End-to-end time of successful inference requests in seconds (upload read included)."),
            ):
                samples = []
                for m, (total, count) in sorted(self.summaries[kind].items()):
                    samples += [("_sum", {"model": m}, total), ("_count", {"model": m}, count)]
                block(f"tryon_serve_{kind}_seconds", "summary", help_, samples)
            block("tryon_serve_requests_in_flight", "gauge", "HTTP requests being handled now (this scrape included).",
                  [("", {}, self.in_flight)])
            block("tryon_serve_inferences_running", "gauge", "Inferences holding a concurrency slot now.", [("", {}, self.running)])
            block("tryon_serve_inferences_waiting", "gauge", "Inference requests waiting for a slot now.", [("", {}, self.waiting)])
            block("tryon_serve_max_concurrency", "gauge", "Concurrency slots (max_concurrency).", [("", {}, self.max_concurrency)])
            block("tryon_serve_start_time_seconds", "gauge", "Unix time the service started.", [("", {}, round(self.start_time, 3))])
        return "\n".join(lines) + "\n"


class _MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request by route template and status, tracks in-flight."""

    def __init__(self, app: Any, metrics: ServeMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response started becomes a 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.add("in_flight", 1)
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.add("in_flight", -1)
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # templates only: bounded labels
            self.metrics.count_request(route, status)


class _BodyTooLarge(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# the app
# ------------------------------------------------------------------------------------------------
def create_app(
    models: Mapping[str, str | os.PathLike],
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int | None = None,
    max_concurrency: int = 2,
    providers: Any = None,
    threads: int | None = None,
    precision: str = "fp32",
    queue_timeout_s: float | None = DEFAULT_QUEUE_TIMEOUT_S,
    warmup: bool = True,
):
    """A FastAPI app serving the export folders ``models`` (``{name: export dir}``).

    ``max_upload_bytes``: largest request body (all files together; 413 beyond). ``max_pixels``: largest
    decoded image (400 beyond; ``None`` = :func:`tryon.io.max_pixels`, 40 MP unless ``TRYON_MAX_PIXELS``).
    ``max_concurrency``: inferences at a time over all models; a request waits at most ``queue_timeout_s``
    for a slot (503 beyond). ``providers`` / ``precision`` (``fp32``/``fp16``/``int8``) / ``threads``
    (onnxruntime intra-op threads per session; default physical cores // ``max_concurrency``) go to
    :class:`tryon.runtime.ImageModelSession`. Sessions are created (and warmed up) here, once.
    """
    fastapi = _require_fastapi()
    from fastapi import Request
    from fastapi.responses import JSONResponse, PlainTextResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from . import __version__
    from .io import max_pixels as default_max_pixels
    from .runtime import physical_cores

    if not models:
        raise TryonError("create_app: expected at least one model {name: export dir}, got none")
    if int(max_upload_bytes) < 1:
        raise TryonError(f"max_upload_bytes: expected a positive number of bytes, got {max_upload_bytes!r}")
    if max_pixels is not None and int(max_pixels) > default_max_pixels():
        # the session re-validates decoded arrays against tryon.io's global limit
        raise TryonError(f"max_pixels={max_pixels} is above tryon.io's limit {default_max_pixels()}: "
                         "raise TRYON_MAX_PIXELS as well")
    gate = ConcurrencyGate(max_concurrency, queue_timeout_s)
    if threads is None:
        threads = max(1, physical_cores() // gate.limit)
    served: dict[str, ServedModel] = {}
    for name, path in models.items():
        served[str(name)] = ServedModel(str(name), path, providers=providers, threads=threads, precision=precision,
                                        warmup=warmup)
        log.info("tryon serve: model %s <- %s (%s, %s)", name, path, precision, ", ".join(served[str(name)].session.providers_used))
    metrics = ServeMetrics(list(served), gate.limit)
    max_upload_bytes = int(max_upload_bytes)
    limit_text = f"{max_upload_bytes} bytes ({max_upload_bytes / 2**20:.3g} MiB)"

    app = fastapi.FastAPI(title="tryon serve", version=__version__,
                          description="Virtual try-on / image models from `tryon export` folders (onnxruntime).")
    app.state.tryon = type("ServeState", (), {})()
    app.state.tryon.models = served
    app.state.tryon.metrics = metrics
    app.state.tryon.gate = gate
    app.state.tryon.max_upload_bytes = max_upload_bytes
    app.state.tryon.max_pixels = max_pixels
    app.add_middleware(_MetricsMiddleware, metrics=metrics)

    def error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        return JSONResponse({"detail": _one_line(detail), **extra}, status_code=status, headers=headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": list(served)}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [m.summary() for m in served.values()]}

    @app.get("/v1/models/{name}")
    async def get_model(name: str):
        if name not in served:
            return error(404, f"unknown model {name!r}: this server has {', '.join(served)}")
        return served[name].summary()

    @app.get("/metrics")
    async def get_metrics():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    all_inputs = sorted({n for m in served.values() for n in m.input_names})
    openapi_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "description": "one file field per input of the model (see GET /v1/models: inputs)",
        "properties": {**{n: {"type": "string", "format": "binary"} for n in all_inputs},
                       "format": {"type": "string", "enum": ["png", "jpeg"], "default": "png"}},
    }}}}, "responses": {"200": {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the output image"}}}

    async def read_body(request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_upload_bytes:
                raise _BodyTooLarge(size)
            chunks.append(chunk)
        return b"".join(chunks)

    async def do_infer(model: ServedModel, request: Request, t0: float):
        fields = ", ".join(model.input_names)
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            return error(415, f"expected a multipart/form-data request with file fields {fields} (and optional "
                              f"format=png|jpeg), got content type {ctype or 'none'!r}", expected_fields=model.input_names)
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                declared_n = int(declared)
            except ValueError:
                return error(400, f"Content-Length: expected an integer, got {declared!r}")
            if declared_n > max_upload_bytes:
                return error(413, f"request body: expected at most {limit_text}, got Content-Length {declared_n}")
        try:
            body = await read_body(request)
        except _BodyTooLarge as exc:
            return error(413, f"request body: expected at most {limit_text}, got more ({exc.args[0]} bytes read so far)")
        except ClientDisconnect:  # nobody will read the answer; counted, not logged as a server error
            return error(400, "client disconnected during the upload")

        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await request.receive()

        form_request = Request(request.scope, receive=replay)
        try:
            form = await form_request.form(max_files=len(model.input_names) + 4, max_fields=16, max_part_size=64 * 1024)
        except StarletteHTTPException as exc:  # MultiPartException, re-raised by Starlette as a 400
            return error(400, f"malformed multipart body: {exc.detail}")
        except Exception as exc:  # noqa: BLE001 - parser errors of python-multipart
            return error(400, f"malformed multipart body: {exc}")
        try:
            missing = [n for n in model.input_names if not form.getlist(n)]
            if missing:
                return error(422, f"missing file field(s) {', '.join(missing)}: model {model.name!r} expects multipart "
                                  f"file fields {fields}", expected_fields=model.input_names, missing=missing)
            blobs: dict[str, bytes] = {}
            for n in model.input_names:
                values = form.getlist(n)
                if len(values) > 1:
                    return error(422, f"field {n}: expected one file, got {len(values)}", expected_fields=model.input_names)
                if not isinstance(values[0], UploadFile):
                    return error(422, f"field {n}: expected a file upload, got a text value", expected_fields=model.input_names)
                blobs[n] = await values[0].read()
            fmt_values = form.getlist("format")  # a form field, else ?format=, else png
            raw = fmt_values[0] if fmt_values else request.query_params.get("format", "png")
            if isinstance(raw, UploadFile) or str(raw).strip().lower() not in OUTPUT_FORMATS:
                shown = "a file" if isinstance(raw, UploadFile) else repr(str(raw)[:40])
                return error(422, f"format: expected png or jpeg, got {shown}")
            fmt = str(raw).strip().lower()
        finally:
            await form.close()

        metrics.add("waiting", 1)
        t_wait = time.perf_counter()
        try:
            sem = await gate.acquire()
        finally:
            metrics.add("waiting", -1)
        queue_s = time.perf_counter() - t_wait
        metrics.observe("queue_wait", model.name, queue_s)
        if sem is None:
            return error(503, f"server busy: all {gate.limit} inference slots stayed taken for {gate.timeout_s:g} s; "
                              "retry later", headers={"Retry-After": "1"})

        def work() -> tuple[bytes, tuple[int, int], dict[str, float]]:
            a = time.perf_counter()
            arrays = decode_inputs(model, blobs, max_pixels)
            b = time.perf_counter()
            out = model.run(arrays)
            c = time.perf_counter()
            data = encode_image(out, fmt)
            d = time.perf_counter()
            hw = tuple(np.asarray(out).shape[:2]) if not isinstance(out, Image.Image) else (out.height, out.width)
            return data, hw, {"decode": b - a, "infer": c - b, "encode": d - c}

        metrics.add("running", 1)
        try:
            data, (h, w), timing = await run_in_threadpool(work)
        except InputError as exc:
            return error(400, str(exc))
        except TryonError as exc:
            log.error("tryon serve: model %s failed: %s", model.name, exc)
            return error(500, f"model {model.name!r} failed: {exc}")
        finally:
            metrics.add("running", -1)
            sem.release()
        total = time.perf_counter() - t0
        metrics.observe("inference", model.name, timing["infer"])
        metrics.observe("request", model.name, total)
        ms = {k: v * 1000 for k, v in timing.items()}
        headers = {
            "X-Tryon-Model": model.name,
            "X-Tryon-Variant": model.session.model,
            "X-Image-Size": f"{w}x{h}",
            "X-Latency-Ms": f"{total * 1000:.2f}",
            "X-Inference-Ms": f"{ms['infer']:.2f}",
            "X-Queue-Ms": f"{queue_s * 1000:.2f}",
            "Server-Timing": ", ".join([f"queue;dur={queue_s * 1000:.2f}"] + [f"{k};dur={v:.2f}" for k, v in ms.items()]
                                       + [f"total;dur={total * 1000:.2f}"]),
        }
        return Response(content=data, media_type=OUTPUT_FORMATS[fmt][1], headers=headers)

    @app.post("/v1/models/{name}/infer", openapi_extra=openapi_body, response_class=Response)
    async def infer(name: str, request: Request):
        t0 = time.perf_counter()
        model = served.get(name)
        if model is None:
            metrics.count_infer(UNKNOWN_MODEL_LABEL, 404)
            return error(404, f"unknown model {name!r}: this server has {', '.join(served)}")
        status = 500
        try:
            response = await do_infer(model, request, t0)
            status = response.status_code
            return response
        except Exception as exc:  # noqa: BLE001 - one line to the client, the traceback to the log
            log.exception("tryon serve: unexpected error on model %s", name)
            return error(500, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            metrics.count_infer(model.name, status)

    return app


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _configure(p: argparse.ArgumentParser) -> None:  # no torch, no fastapi here
    p.add_argument("--model", action="append", required=True, metavar="[NAME=]EXPORT_DIR",
                   help="export folder to serve (repeat for several); named after its folder unless NAME= is given")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; 0.0.0.0 = all)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="onnxruntime intra-op threads per session (default: physical cores / --max-concurrency)")
    p.add_argument("--max-upload-mb", type=_positive_float, default=DEFAULT_MAX_UPLOAD_BYTES / 2**20,
                   help="largest request body in MiB, all files together (default 20; 413 beyond)")
    p.add_argument("--max-pixels", type=_positive_int, default=None,
                   help="largest decoded image in pixels (default: tryon.io's limit, TRYON_MAX_PIXELS or 40M; 400 beyond)")
    p.add_argument("--max-concurrency", type=_positive_int, default=2,
                   help="inferences at a time over all models (default 2); more requests wait")
    p.add_argument("--queue-timeout", type=_positive_float, default=DEFAULT_QUEUE_TIMEOUT_S,
                   help=f"seconds a request may wait for a slot before a 503 (default {DEFAULT_QUEUE_TIMEOUT_S:g})")
    p.add_argument("--providers", default="cpu", help="execution providers, comma-separated (cpu, cuda, trt; default cpu)")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32", help="model variant (default fp32)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn log level (default info)")


def _run(args: argparse.Namespace) -> int:
    _require_fastapi()
    try:
        import uvicorn
    except ModuleNotFoundError:
        raise TryonError(f"tryon serve needs uvicorn to listen on a port: {_EXTRA_HINT}") from None
    models = parse_model_specs(args.model)
    app = create_app(models, max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                     max_concurrency=args.max_concurrency, providers=args.providers, threads=args.threads,
                     precision=args.precision, queue_timeout_s=args.queue_timeout)
    for name, m in app.state.tryon.models.items():
        s = m.session
        print(f"tryon serve: {name} <- {s.export_dir} ({s.model}, {', '.join(s.providers_used)}, "
              f"{s.intra_op_threads} threads, inputs {', '.join(s.input_names)})")
    print(f"tryon serve: POST http://{args.host}:{args.port}/v1/models/<name>/infer  (max {args.max_concurrency} "
          "concurrent inferences)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register_cli(app: Any) -> None:
    app.add_command("serve", help="serve ONNX exports over HTTP (FastAPI + uvicorn; no torch)",
                    configure=_configure, run=_run)


__all__ = ["create_app", "register_cli", "parse_model_specs", "ServedModel", "ServeMetrics", "ConcurrencyGate",
           "decode_inputs", "encode_image", "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_QUEUE_TIMEOUT_S", "OUTPUT_FORMATS"]
