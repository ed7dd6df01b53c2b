"""The ASGI app of ``tryon serve``: :func:`create_app` (FastAPI over :class:`~.models.ServedModel` sessions).

Routes (errors are JSON ``{"detail": "one line", ...}`` everywhere, each response has ``X-Request-Id``):

* ``GET /healthz`` → ``{"status": "ok", "models": [...]}``; liveness ``GET /livez`` and ``GET /v2/health/live``
  → ``{"live": true}``; readiness ``GET /readyz`` and ``GET /v2/health/ready`` (Open Inference Protocol v2
  paths, so existing probes work) → ``{"ready": true}``, or 503 ``{"ready": false}`` once a graceful
  shutdown has started. Health paths need no API key.
* ``GET /v1/models`` (and ``/v1/models/{name}``) → manifest summaries and serving limits.
* ``POST /v1/models/{name}/infer`` — ``multipart/form-data``: one file field per manifest input, optional
  ``format`` (``png``/``jpeg``) and ``size`` (``input``/``model``, see :mod:`.models`) → the image, with
  ``X-Latency-Ms`` / ``X-Inference-Ms`` / ``X-Queue-Ms`` / ``Server-Timing``. Refusals: unknown model 404;
  not multipart 415; missing/duplicated/unknown fields or bad values 422; unreadable or too-large images and
  unencodable outputs 400 (before a slot is taken); body over the limit 413; body not read in time 408;
  server busy (slots, waiting requests or buffered bytes) 503 with ``Retry-After``; shutting down 503.
* ``GET /metrics`` → Prometheus text (:mod:`.metrics`).
* The person-cache endpoints (:mod:`.catalogue_routes`) when ``catalogue=`` is given.
* The Open Inference Protocol v2 (:mod:`.oip_routes`): ``GET /v2``, ``GET /v2/models``, ``GET /v2/models/{name}``,
  ``GET /v2/models/{name}/ready``, ``POST /v2/models/{name}/infer`` for every export and every ``pipelines=``
  model, errors ``{"error": "one line"}``, in the same frame (limits, slot, keys, metrics) as ``/v1``.

Design: sessions are created (and warmed up) once here; all models share one concurrency gate, since they
share the CPU/GPU. Headers are read and the cost fixed on the event loop's thread pool *before* a slot is
taken; decode, model run and encode happen in the thread pool inside the gate, so the event loop stays free
for health checks and uploads.
"""

# No ``from __future__ import annotations``: FastAPI resolves endpoint annotations (``request: Request``) at
# route creation, and ``Request`` is imported inside create_app, not at module level.
import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import time
import uuid
from typing import Any, Iterable, Mapping

from ..errors import TryonError
from .auth import ApiKeys, AuthMiddleware, RateLimiter
from .handling import (HTTPError, ServeState, check_form_conditions, error_key, inference_frame, json_error, observe_success, read_form,
                       run_in_slot, timing_headers)
from .limits import ByteBudget, ConcurrencyGate, ServeLimits
from .metrics import MetricsMiddleware, ServeMetrics
from .models import OUTPUT_FORMATS, OUTPUT_SIZES, ServedModel, check_name, encode_image

log = logging.getLogger("tryon.serve")
_EXTRA_HINT = "pip install 'tryon[serve]'"
_RID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def require_fastapi():
    try:
        import fastapi
    except ModuleNotFoundError as exc:
        raise TryonError(f"tryon serve needs FastAPI ({exc.name} is not installed): {_EXTRA_HINT}") from None
    needs = (("prometheus_client", "prometheus-client for /metrics"), ("python_multipart", "python-multipart"))
    for mod, what in needs:
        try:
            __import__(mod)
        except ModuleNotFoundError:
            raise TryonError(f"tryon serve needs {what}: {_EXTRA_HINT}") from None
    return fastapi


class RequestContextMiddleware:
    """Pure ASGI, outermost: a request id for every request (the client's ``X-Request-Id`` when sane, else a
    new one) in ``scope["tryon.request_id"]`` and the response header; an exception that escapes the app is
    logged with that id and answered by a JSON 500 that carries only the id."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _RID_RE.match(given) else uuid.uuid4().hex
        scope["tryon.request_id"] = rid
        started = False

        async def send_with_id(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        key = error_key(scope.get("path", ""))
        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:  # the graceful-shutdown timeout cancelled this request
            if not started:
                with contextlib.suppress(Exception):
                    await json_error(503, "shutting down: the request was cancelled at the shutdown timeout",
                                     {"Connection": "close"}, key=key)(scope, receive, send_with_id)
            raise
        except Exception:
            log.exception("tryon serve: request %s %s %s failed", rid, scope.get("method"), scope.get("path"))
            if not started:
                response = json_error(500, f"internal error; the server log has the details under request id {rid}",
                                      key=key, request_id=rid)
                await response(scope, receive, send_with_id)


def _limits(limits: ServeLimits | None, overrides: dict[str, Any]) -> ServeLimits:
    names = {f.name for f in dataclasses.fields(ServeLimits)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TryonError(f"create_app: unknown option(s) {unknown}; limits are {sorted(names)}")
    return dataclasses.replace(limits or ServeLimits(), **overrides)


def create_app(
    models: Mapping[str, str | os.PathLike],
    *,
    limits: ServeLimits | None = None,
    api_keys: ApiKeys | Iterable[str] | None = None,
    rate_limit: float | None = None,
    rate_burst: int | None = None,
    providers: Any = None,
    threads: int | None = None,
    precision: str = "fp32",
    warmup: bool = True,
    catalogue: Any = None,
    backend: str = "ort",
    pipelines: Mapping[str, Any] | None = None,
    device: str = "cpu",
    **limit_overrides: Any,
):
    """A FastAPI app serving the export folders ``models`` (``{name: export dir}``) on ``/v1`` and ``/v2`` (the
    Open Inference Protocol, :mod:`.oip_routes`), and the iterative torch ``pipelines`` (``{name:
    "TASK:WEIGHTS_DIR"}`` or ``{name: Pipeline}``, on ``device``; :mod:`.pipelines`) on ``/v2`` — torch is
    imported only when ``pipelines`` are given.

    ``limits`` (:class:`~.limits.ServeLimits`) or its fields as keywords (``max_upload_bytes=``,
    ``max_pixels=``, ``max_concurrency=``, ``queue_timeout_s=``, ``body_timeout_s=`` …) bound every request.
    ``api_keys``: keys (or an :class:`~.auth.ApiKeys`) required on every route but the health paths;
    ``rate_limit`` requests/s per key (``rate_burst`` tokens) on POST routes. ``backend`` (``ort``/``openvino``) /
    ``providers`` / ``precision`` (``fp32``/``fp16``/``bf16``/``int8``) / ``threads`` (intra-op threads per session;
    default physical cores // ``max_concurrency``) go to :class:`tryon.runtime.ImageModelSession`. ``catalogue``: the person-cache
    endpoints for models with a split export — ``None`` (default options), a dict / :class:`CatalogueOptions`,
    or ``False`` (off).
    """
    fastapi = require_fastapi()
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .. import __version__
    from ..io import max_pixels as io_max_pixels
    from ..hardware import physical_cores

    if not models and not pipelines:
        raise TryonError("create_app: expected at least one model {name: export dir} or pipeline, got none")
    lim = _limits(limits, limit_overrides)
    if lim.max_pixels is not None and lim.max_pixels > io_max_pixels():
        raise TryonError(f"max_pixels={lim.max_pixels} is above tryon.io's limit {io_max_pixels()}: "
                         "raise TRYON_MAX_PIXELS as well")
    keys = api_keys if (api_keys is None or isinstance(api_keys, ApiKeys)) else ApiKeys(api_keys)
    limiter = RateLimiter(rate_limit, rate_burst) if rate_limit else None
    gate = ConcurrencyGate(lim.max_concurrency, lim.queue_timeout_s, lim.max_waiting)
    budget = ByteBudget(lim.buffered_bytes)
    if threads is None:
        threads = max(1, physical_cores() // gate.limit)
    served: dict[str, ServedModel] = {}
    for name, path in models.items():
        m = served[str(name)] = ServedModel(str(name), path, providers=providers, threads=threads,
                                            precision=precision, warmup=warmup, backend=backend)
        m.set_limits(lim.max_pixels, lim.max_output_pixels)
        log.info("tryon serve: model %s <- %s (%s, %s)", name, path, precision, ", ".join(m.session.providers_used))
    pipes: dict[str, Any] = {}
    for name, spec in (pipelines or {}).items():
        from .pipelines import PipelineModel

        check_name(str(name), "--pipeline NAME=TASK:WEIGHTS_DIR")
        if name in served or name in pipes:
            raise TryonError(f"model name {name!r} is used by an export and a pipeline: name them apart")
        pipes[str(name)] = PipelineModel(str(name), spec, max_pixels=lim.max_pixels, max_batch=lim.max_batch,
                                         max_steps=lim.max_steps, max_deadline_s=lim.max_deadline_s, device=device)
        log.info("tryon serve: pipeline %s (%s) on %s", name, pipes[str(name)].task, device)
    names = [*served, *pipes]
    metrics = ServeMetrics(names, gate.limit, running=lambda: gate.running, waiting=lambda: gate.waiting,
                           buffered=lambda: budget.used)
    state = ServeState(limits=lim, gate=gate, budget=budget, metrics=metrics, models=served)
    state.extras.update(api_keys=keys, rate_limiter=limiter)

    app = fastapi.FastAPI(title="tryon serve", version=__version__,
                          description="Virtual try-on / image models from `tryon export` folders (onnxruntime).")
    app.state.tryon = state
    # added innermost first: the request id wraps metrics, which wrap authentication
    app.add_middleware(AuthMiddleware, keys=keys, limiter=limiter,
                       on_reject=lambda r: metrics.rejected.labels(reason=r).inc())
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router.routes)
    app.add_middleware(RequestContextMiddleware)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # 404 unknown path, 405 ...
        return json_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None),
                          key=error_key(request.url.path))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return json_error(422, "; ".join(parts) or "invalid request", key=error_key(request.url.path))

    # -- health ----------------------------------------------------------------------------------
    def ready_response():
        if state.draining:
            return json_error(503, "shutting down", ready=False)
        return {"ready": True, "models": names}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": names}

    @app.get("/livez")
    async def livez() -> dict[str, Any]:
        return {"live": True}

    @app.get("/v2/health/live")
    async def v2_live() -> dict[str, Any]:
        return {"live": True}

    @app.get("/readyz")
    async def readyz():
        return ready_response()

    @app.get("/v2/health/ready")
    async def v2_ready():
        return ready_response()

    # -- models and metrics ----------------------------------------------------------------------
    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [m.summary() for m in served.values()]}

    @app.get("/v1/models/{name}")
    async def get_model(name: str):
        if name not in served:
            return json_error(404, f"unknown model {name!r}: this server has {', '.join(served)}")
        return served[name].summary()

    @app.get("/metrics")
    async def get_metrics():
        body, ctype = metrics.render()
        return Response(content=body, media_type=ctype)

    # -- inference -------------------------------------------------------------------------------
    all_inputs = sorted({n for m in served.values() for n in m.input_names})
    openapi_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "description": "one file field per input of the model (see GET /v1/models: inputs)",
        "properties": {**{n: {"type": "string", "format": "binary"} for n in all_inputs},
                       "format": {"type": "string", "enum": ["png", "jpeg"], "default": "png"},
                       "size": {"type": "string", "enum": list(OUTPUT_SIZES), "default": "input"},
                       "category": {"type": "string", "description": "the garment's category (upper, lower, dress); "
                                    "422 when the model was not trained on it (GET /v1/models/NAME: conditions)"}},
    }}}}, "responses": {"200": {"content": {"image/png": {}, "image/jpeg": {}}, "description": "the output image"}}}

    async def do_infer(model: ServedModel, request: Request, guards: list):
        t0 = time.perf_counter()
        form = await read_form(request, state, model.input_names,
                               {"format": ("png", "jpeg"), "size": OUTPUT_SIZES, "category": None}, guards)
        check_form_conditions(model.session.manifest, model.name, form.fields)
        fmt, size = form.fields.get("format", "png"), form.fields.get("size", "input")
        blobs: dict[str, Any] = form.files
        del form
        try:
            plan = await run_in_threadpool(model.plan, blobs, fmt, size)  # headers only, before a slot
        except TryonError as exc:
            raise HTTPError(400, str(exc)) from None

        def work() -> tuple[bytes, tuple[int, int], dict[str, float]]:
            a = time.perf_counter()
            arrays = model.decode(blobs, plan)
            b = time.perf_counter()
            out = model.infer(arrays, plan)
            c = time.perf_counter()
            data = encode_image(out, fmt)
            d = time.perf_counter()
            return data, out.shape[:2], {"decode": b - a, "infer": c - b, "encode": d - c}

        (data, (h, w), timing), queue_s = await run_in_slot(request, state, model.name, work)
        total = time.perf_counter() - t0
        observe_success(state, model.name, timing["infer"], total)
        headers = {"X-Tryon-Model": model.name, "X-Tryon-Variant": model.session.model, "X-Image-Size": f"{w}x{h}",
                   **timing_headers(queue_s, timing, total)}
        return Response(content=data, media_type=OUTPUT_FORMATS[fmt][1], headers=headers)

    @app.post("/v1/models/{name}/infer", openapi_extra=openapi_body, response_class=Response)
    async def infer(name: str, request: Request):
        return await inference_frame(state, served, name, lambda model, guards: do_infer(model, request, guards))

    from .oip_models import ExportModel
    from .oip_routes import register as register_oip

    register_oip(app, state, {**{n: ExportModel(m, lim.max_batch) for n, m in served.items()}, **pipes})

    if catalogue is not False:
        from .catalogue_routes import register

        split = register(app, state, catalogue)
        if split:
            log.info("tryon serve: person-cache endpoints for %s", ", ".join(split))
    return app


__all__ = ["create_app", "require_fastapi", "RequestContextMiddleware"]
