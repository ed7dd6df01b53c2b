"""The Open Inference Protocol v2 routes of ``tryon serve`` (KServe / Triton clients: ``tritonclient.http``, KServe's
``InferenceRESTClient``, ``curl``), beside the ``/v1`` API.

* ``GET /v2`` → ``{"name": "tryon", "version", "extensions": ["binary_tensor_data"]}``;
* ``GET /v2/models`` → ``{"models": [names]}``; ``POST /v2/repository/index`` → ``[{"name", "version", "state"}]``
  (Triton's repository index, what ``InferenceServerClient.get_model_repository_index`` reads);
* ``GET /v2/models/{name}`` → metadata (:meth:`~.oip_models.OIPModel.metadata`: inputs/outputs with datatype
  and shape, ``-1`` where dynamic); ``GET /v2/models/{name}/ready`` → ``{"name", "ready": true}``;
* ``POST /v2/models/{name}/infer`` → the inference (JSON tensors, or the binary tensor data extension:
  :mod:`.oip`). Every path also answers under ``/versions/1``.

Each inference goes through the same frame as ``/v1/models/{name}/infer`` (:func:`.handling.inference_frame`,
:func:`.handling.read_body`, :func:`.handling.run_in_slot`): the body limit (413), body deadline (408), byte budget,
the slot gate and its waiting bound (503 + ``Retry-After``), the client-gone check (499), API keys and rate limit
(middleware), the metrics. The request is parsed and bound to the model — every header probed, every size
checked — before it takes a slot; decode, run and encoding happen inside it. Errors are ``{"error": "one line"}``
(the protocol's body) with a 4xx status: malformed request, header length, datatype, shape, batch, oversized
image or unknown parameter 400; unknown model 404; compressed body 415.
"""

# No ``from __future__ import annotations``: FastAPI resolves endpoint annotations (``request: Request``) at
# route creation, and ``Request`` is imported inside register(), not at module level.
import time
from typing import Any

from ..errors import TryonError
from .handling import HTTPError, ServeState, inference_frame, json_error, observe_success, read_body, run_in_slot, \
    timing_headers
from .oip import BINARY_EXTENSION, HEADER_LENGTH, OIPError, encode_response, parse_request

VERSION = "1"


def register(app: Any, state: ServeState, models: dict[str, Any]) -> None:
    """Add the v2 routes for ``models`` (``{name: OIPModel}``) to ``app``."""
    from fastapi import Request
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool

    from .. import __version__

    state.extras["oip_models"] = models

    def unknown(name: str):
        return json_error(404, f"unknown model {name!r}: this server has {', '.join(models) or 'none'}", key="error")

    def version_error(name: str, version: str):
        if version != VERSION:
            return json_error(404, f"model {name!r} has version {VERSION} only, got {version[:20]!r}", key="error")
        return None

    @app.get("/v2")
    async def server_metadata() -> dict[str, Any]:
        return {"name": "tryon", "version": __version__, "extensions": [BINARY_EXTENSION]}

    @app.get("/v2/models")
    async def list_models() -> dict[str, Any]:
        return {"models": list(models)}

    @app.post("/v2/repository/index")
    async def repository_index() -> list[dict[str, Any]]:
        return [{"name": n, "version": VERSION, "state": "READY"} for n in models]

    async def metadata(name: str, version: str = VERSION):
        if name not in models:
            return unknown(name)
        return version_error(name, version) or models[name].metadata()

    async def ready(name: str, version: str = VERSION):
        if name not in models:
            return unknown(name)
        bad = version_error(name, version)
        if bad is not None:
            return bad
        if state.draining:
            return json_error(503, "shutting down", key="error", name=name, ready=False)
        return {"name": name, "ready": True}

    async def do_infer(model: Any, request: Any, guards: list) -> Any:
        t0 = time.perf_counter()
        arrival = time.monotonic()
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise HTTPError(415, f"Content-Encoding {encoding[:20]!r}: compressed requests are not accepted (their "
                                 "size is not bounded before inflating); send the body uncompressed")
        body = await read_body(request, state, guards)

        def bind() -> Any:
            req = parse_request(body, request.headers.get(HEADER_LENGTH), max_json_bytes=state.limits.max_json_bytes)
            return req, model.bind(req, arrival=arrival)

        try:
            req, job = await run_in_threadpool(bind)  # JSON, headers, sizes: before a slot
        except OIPError as exc:
            raise HTTPError(exc.status, exc.message) from None
        except TryonError as exc:
            raise HTTPError(400, str(exc)) from None

        def work() -> tuple[bytes, dict[str, str], dict[str, float]]:
            outputs, timing = model.work(job)
            t = time.perf_counter()
            data, headers = encode_response(model.name, outputs, request_id=req.id, model_version=VERSION)
            timing["encode"] += time.perf_counter() - t
            return data, headers, timing

        (data, headers, timing), queue_s = await run_in_slot(request, state, model.name, work)
        total = time.perf_counter() - t0
        observe_success(state, model.name, timing["infer"], total)
        return Response(content=data, headers={**headers, "X-Tryon-Model": model.name,
                                               **timing_headers(queue_s, timing, total)})

    async def infer(name: str, request: Request, version: str = VERSION):
        if name in models:
            bad = version_error(name, version)
            if bad is not None:
                return bad
        return await inference_frame(state, models, name, lambda m, guards: do_infer(m, request, guards), key="error")

    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.add_api_route(prefix, metadata, methods=["GET"])
        app.add_api_route(prefix + "/ready", ready, methods=["GET"])
        app.add_api_route(prefix + "/infer", infer, methods=["POST"], response_class=Response,
                          openapi_extra={"requestBody": {"required": True, "content": {
                              "application/json": {"schema": {"type": "object"}},
                              "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                              "description": "an Open Inference Protocol v2 request; binary tensors follow the JSON "
                                             f"when {HEADER_LENGTH} is given"}})


__all__ = ["register", "VERSION"]
