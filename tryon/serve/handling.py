"""Handling one costly request under the limits: JSON errors, bounded multipart reading, the slot.

Shared by the full-model endpoint (:mod:`.app`) and the person-cache endpoints (:mod:`.catalogue_routes`):

* :func:`read_form` — ``multipart/form-data`` only (415), ``Content-Length`` checked before reading (413),
  the body's bytes reserved in the app-wide :class:`~.limits.ByteBudget` (503 when full), read under a
  deadline (408) and a size bound (413, also for chunked bodies), unknown/missing/duplicated fields refused
  (422 naming them); the parser spools files over 1 MiB to disk and the raw body is never kept.
* :func:`read_body` — the same bounds for a raw body (the Open Inference Protocol routes, :mod:`.oip_routes`):
  ``Content-Length`` (400/413), byte budget (503), deadline (408), size (413), shutdown (503);
* :func:`run_in_slot` — waits for an inference slot (503 when too many wait or none frees up in time),
  skips the work when the client has gone meanwhile (counted as abandoned, status 499), runs the work in
  the thread pool, and maps :class:`~tryon.errors.InputError` to 400 and anything else to a 500 whose body
  carries only the request id (the exception goes to the log with that id);
* :func:`inference_frame` — the frame of every inference route: unknown model 404, shutting down 503, the
  request's guards released, refusals answered as JSON, ``tryon_serve_infer_requests_total{model,status}``.

Errors are ``{"detail": "one line", ...}`` on our own routes and ``{"error": "one line", ...}`` under ``/v2/``
(the Open Inference Protocol's error body): :func:`error_key`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from ..errors import InputError, TryonError
from .limits import (BodyTimeout, BodyTooLarge, BudgetExhausted, ByteBudget, ConcurrencyGate, Draining, GuardedReceive,
                     ServeLimits)
from .metrics import UNKNOWN_MODEL_LABEL, ServeMetrics

log = logging.getLogger("tryon.serve")
VALUE_ALIASES = {"jpg": "jpeg"}
ABANDONED = 499  # nginx's "client closed request": logged and counted, never seen by a client


def one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "error"


def request_id(scope: dict) -> str:
    return str(scope.get("tryon.request_id", "-"))


class HTTPError(Exception):
    """A refusal with a status, a one-line detail and extra JSON fields / headers."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, reason: str | None = None,
                 **extra: Any):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, one_line(detail), headers
        self.reason, self.extra = reason, extra


OIP_PREFIX = "/v2/"


def error_key(path: str) -> str:
    """The key of the one-line error message: ``"error"`` under ``/v2/`` (Open Inference Protocol), else
    ``"detail"``."""
    return "error" if str(path).startswith(OIP_PREFIX) else "detail"


def json_error(status: int, detail: str, headers: dict[str, str] | None = None, *, key: str = "detail", **extra: Any):
    from starlette.responses import JSONResponse

    return JSONResponse({key: one_line(detail), **extra}, status_code=status, headers=headers)


@dataclass
class ServeState:
    """Everything the endpoints share (``app.state.tryon``)."""

    limits: ServeLimits
    gate: ConcurrencyGate
    budget: ByteBudget
    metrics: ServeMetrics
    models: dict[str, Any] = field(default_factory=dict)
    draining: bool = False  # set when a graceful shutdown starts: /readyz answers 503, new work is refused
    upload_cutoff: float | None = None  # loop time by which uploads in progress must be complete (shutdown)
    extras: dict[str, Any] = field(default_factory=dict)

    def start_draining(self) -> None:
        """A graceful shutdown begins: not ready, no new work, uploads in progress get half the shutdown time."""
        self.draining = True
        try:
            self.upload_cutoff = asyncio.get_running_loop().time() + self.limits.shutdown_timeout_s / 2
        except RuntimeError:  # no loop (called from outside the server): the body deadline stays
            pass

    def refuse(self, err: HTTPError, key: str = "detail"):
        if err.reason:
            self.metrics.rejected.labels(reason=err.reason).inc()
        return json_error(err.status, err.detail, err.headers, key=key, **err.extra)


@dataclass
class Form:
    files: dict[str, bytes]
    fields: dict[str, str]


BODY_ERRORS = (BudgetExhausted, BodyTooLarge, BodyTimeout, Draining)


def open_body(request: Any, state: ServeState, guard_out: list) -> GuardedReceive:
    """The bounded ``receive`` of one request body: ``Content-Length`` checked first (400 not an integer, 413
    over ``max_upload_bytes``), the declared bytes reserved in the app-wide budget (503 when full). The guard is
    appended to ``guard_out`` so that the caller releases its bytes at the end; reading through it raises one
    of :data:`BODY_ERRORS` (→ :func:`body_error`)."""
    lim = state.limits
    declared = request.headers.get("content-length")
    declared_n = 0
    if declared is not None:
        try:
            declared_n = int(declared)
        except ValueError:
            raise HTTPError(400, f"Content-Length: expected an integer, got {declared[:40]!r}") from None
        if declared_n > lim.max_upload_bytes:
            raise HTTPError(413, f"request body: expected at most {_limit_text(lim)}, got Content-Length {declared_n}",
                            reason="too_large")
    loop = asyncio.get_running_loop()
    guard = GuardedReceive(request.receive, max_bytes=lim.max_upload_bytes, deadline=loop.time() + lim.body_timeout_s,
                           budget=state.budget, cutoff=lambda: state.upload_cutoff)
    guard_out.append(guard)
    try:
        guard.reserve(declared_n)
    except BudgetExhausted as exc:
        raise body_error(exc, state) from None
    return guard


def _limit_text(lim: ServeLimits) -> str:
    return f"{lim.max_upload_bytes} bytes ({lim.max_upload_bytes / 2**20:.3g} MiB)"


def body_error(exc: Exception, state: ServeState) -> HTTPError:
    """One of :data:`BODY_ERRORS` → the refusal (503 budget, 413 size, 408 deadline, 503 shutting down)."""
    lim = state.limits
    if isinstance(exc, BudgetExhausted):
        return HTTPError(503, f"server busy: uploads in progress hold {state.budget.used} of {state.budget.limit} "
                              "bytes; retry later", {"Retry-After": "1", "Connection": "close"}, reason="body_budget")
    if isinstance(exc, BodyTooLarge):
        return HTTPError(413, f"request body: expected at most {_limit_text(lim)}, got more ({exc.args[0]} bytes read "
                              "so far)", {"Connection": "close"}, reason="too_large")
    if isinstance(exc, BodyTimeout):
        return HTTPError(408, f"request body: expected it complete within {lim.body_timeout_s:g} s, got "
                              f"{exc.args[0]} bytes by then", {"Connection": "close"}, reason="body_timeout")
    return HTTPError(503, f"shutting down: the upload was not complete ({exc.args[0]} bytes received)",
                     {"Connection": "close"}, reason="draining")


async def read_body(request: Any, state: ServeState, guard_out: list) -> bytearray:
    """The whole raw body under the same bounds as :func:`read_form` (size, deadline, byte budget, shutdown);
    a client that leaves during the upload → :data:`ABANDONED`."""
    guard = open_body(request, state, guard_out)
    body = bytearray()
    try:
        while True:
            message = await guard()
            if message.get("type") == "http.disconnect":
                raise HTTPError(ABANDONED, "client disconnected during the upload")
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return body
    except BODY_ERRORS as exc:
        raise body_error(exc, state) from None


async def read_form(request: Any, state: ServeState, files: list[str], fields: dict[str, tuple[str, ...] | None],
                    guard_out: list, optional_files: tuple[str, ...] = ()) -> Form:
    """Read a multipart request with exactly the file fields ``files`` (and maybe ``optional_files``) and
    optional text ``fields`` (``{name: allowed values or None}``; each value also accepted as a query
    parameter). The :class:`GuardedReceive` is appended to ``guard_out`` so that the caller releases its
    bytes at the end."""
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect, Request

    expected = ", ".join(files)
    opt = [*(f"{n} (file)" for n in optional_files), *(f"{n}={'|'.join(v) if v else '...'}" for n, v in fields.items())]
    optional = f" (optional: {', '.join(opt)})" if opt else ""
    ctype = request.headers.get("content-type", "")
    kinds = ("multipart/form-data",) if files else ("multipart/form-data", "application/x-www-form-urlencoded")
    if not ctype.lower().startswith(kinds):
        what = f"file fields {expected}" if files else "fields"
        raise HTTPError(415, f"expected a {' or '.join(kinds)} request with {what}{optional}, got content type "
                             f"{ctype or 'none'!r}", expected_fields=files)
    guard = open_body(request, state, guard_out)
    try:
        form = await Request(request.scope, receive=guard).form(max_files=len(files) + 4, max_fields=16,
                                                                max_part_size=64 * 1024)
    except BODY_ERRORS as exc:
        raise body_error(exc, state) from None
    except ClientDisconnect:
        raise HTTPError(ABANDONED, "client disconnected during the upload") from None
    except StarletteHTTPException as exc:  # MultiPartException, re-raised by Starlette as a 400
        raise HTTPError(400, f"malformed multipart body: {exc.detail}") from None
    except Exception as exc:  # noqa: BLE001 - parser errors of python-multipart
        raise HTTPError(400, f"malformed multipart body: {exc}") from None
    try:
        known = set(files) | set(optional_files) | set(fields)
        unknown = sorted(k for k in form.keys() if k not in known)
        if unknown:
            raise HTTPError(422, f"unknown field(s) {', '.join(unknown)}: expected file fields {expected}{optional}",
                            expected_fields=files, unknown=unknown)
        missing = [n for n in files if not form.getlist(n)]
        if missing:
            raise HTTPError(422, f"missing file field(s) {', '.join(missing)}: expected multipart file fields "
                                 f"{expected}", expected_fields=files, missing=missing)
        blobs: dict[str, bytes] = {}
        for n in [*files, *(f for f in optional_files if form.getlist(f))]:
            values = form.getlist(n)
            if len(values) > 1:
                raise HTTPError(422, f"field {n}: expected one file, got {len(values)}", expected_fields=files)
            if not isinstance(values[0], UploadFile):
                raise HTTPError(422, f"field {n}: expected a file upload, got a text value", expected_fields=files)
            blobs[n] = await values[0].read()
        texts: dict[str, str] = {}
        for n, allowed in fields.items():
            values = form.getlist(n)
            if len(values) > 1:
                raise HTTPError(422, f"field {n}: expected one value, got {len(values)}")
            raw = values[0] if values else request.query_params.get(n)
            if raw is None:
                continue
            if isinstance(raw, UploadFile):
                raise HTTPError(422, f"{n}: expected a text value, got a file")
            value = str(raw).strip()
            if allowed is not None:
                value = VALUE_ALIASES.get(value.lower(), value.lower())
                if value not in allowed:
                    raise HTTPError(422, f"{n}: expected {' or '.join(allowed)}, got {str(raw)[:40]!r}")
            texts[n] = value
        return Form(blobs, texts)
    finally:
        await form.close()  # spooled files are deleted here; the bytes live on in blobs only


async def run_in_slot(request: Any, state: ServeState, model: str, work: Callable[[], Any]) -> tuple[Any, float]:
    """Wait for a slot (watching the client), run ``work`` in the thread pool, give the slot back.

    Returns ``(result, queue seconds)``; raises :class:`HTTPError` for 503/499/400/500 outcomes."""
    from starlette.concurrency import run_in_threadpool

    m = state.metrics
    receive = request.receive

    async def gone() -> None:  # returns once the client has disconnected (the body is read by now)
        while (await receive()).get("type") != "http.disconnect":
            pass

    loop = asyncio.get_running_loop()
    t_wait = loop.time()
    outcome = await state.gate.acquire(gone)
    queue_s = loop.time() - t_wait
    m.queue_wait.labels(model=model).observe(queue_s)
    gate = state.gate
    if outcome == gate.FULL:
        raise HTTPError(503, f"server busy: {gate.max_waiting} requests already wait for the {gate.limit} inference "
                             "slots; retry later", {"Retry-After": "1"}, reason="queue_full")
    if outcome == gate.TIMEOUT:
        raise HTTPError(503, f"server busy: all {gate.limit} inference slots stayed taken for {gate.timeout_s:g} s; "
                             "retry later", {"Retry-After": "1"}, reason="busy")
    if outcome == gate.GONE:
        m.abandoned.labels(model=model).inc()
        raise HTTPError(ABANDONED, "client disconnected while waiting for a slot; not run")
    try:
        return await run_in_threadpool(work), queue_s
    except HTTPError:
        raise
    except InputError as exc:
        raise HTTPError(400, str(exc)) from None
    except Exception:
        rid = request_id(request.scope)
        log.exception("tryon serve: request %s on %s failed", rid, model)
        raise HTTPError(500, f"internal error; the server log has the details under request id {rid}",
                        request_id=rid) from None
    finally:
        gate.release()


async def inference_frame(state: ServeState, models: Mapping[str, Any], name: str,
                          handler: Callable[[Any, list], Awaitable[Any]], *, key: str = "detail") -> Any:
    """The frame of one inference request on model ``name`` of ``models``: unknown model → 404, shutting down →
    503; else ``await handler(model, guards)`` (it appends the :class:`GuardedReceive` of its body to ``guards``,
    released here whatever happens). An :class:`HTTPError` becomes the JSON refusal (message under ``key``);
    every request is counted in ``tryon_serve_infer_requests_total{model,status}``."""
    m = state.metrics
    model = models.get(name)
    if model is None:
        m.infer_requests.labels(model=UNKNOWN_MODEL_LABEL, status="404").inc()
        return json_error(404, f"unknown model {name!r}: this server has {', '.join(models) or 'none'}", key=key)
    status, guards = 500, []
    try:
        try:
            if state.draining:
                raise HTTPError(503, "shutting down: not taking new requests", {"Connection": "close"},
                                reason="draining")
            response = await handler(model, guards)
        except HTTPError as err:
            response = state.refuse(err, key)
        finally:
            for g in guards:
                g.release()
        status = response.status_code
        return response
    finally:
        m.infer_requests.labels(model=name, status=str(status)).inc()


def check_form_conditions(manifest: Mapping[str, Any], model: str, fields: Mapping[str, str]) -> None:
    """A form's ``category`` (the only condition so far) against the values the model was trained for: 422 naming
    them (:func:`tryon.deploy.manifest.check_conditions`)."""
    from ..deploy.manifest import check_conditions

    try:
        check_conditions(dict(manifest), f"of model {model!r}", category=fields.get("category"))
    except TryonError as exc:
        raise HTTPError(422, str(exc)) from None


def timing_headers(queue_s: float, timing: Mapping[str, float], total_s: float) -> dict[str, str]:
    """``X-Latency-Ms`` / ``X-Inference-Ms`` / ``X-Queue-Ms`` / ``Server-Timing`` of a successful inference
    (``timing``: seconds per phase, ``infer`` among them)."""
    ms = {k: v * 1000 for k, v in timing.items()}
    return {
        "X-Latency-Ms": f"{total_s * 1000:.2f}",
        "X-Inference-Ms": f"{ms['infer']:.2f}",
        "X-Queue-Ms": f"{queue_s * 1000:.2f}",
        "Server-Timing": ", ".join([f"queue;dur={queue_s * 1000:.2f}"] + [f"{k};dur={v:.2f}" for k, v in ms.items()]
                                   + [f"total;dur={total_s * 1000:.2f}"]),
    }


def observe_success(state: ServeState, model: str, infer_s: float, total_s: float) -> None:
    """The latency histograms of a successful inference request (model run, end to end)."""
    state.metrics.inference.labels(model=model).observe(infer_s)
    state.metrics.request.labels(model=model).observe(total_s)


__all__ = ["HTTPError", "ServeState", "Form", "read_form", "read_body", "open_body", "body_error", "BODY_ERRORS",
           "run_in_slot", "inference_frame", "observe_success", "timing_headers", "json_error", "check_form_conditions",
           "error_key", "one_line", "ABANDONED", "OIP_PREFIX"]
