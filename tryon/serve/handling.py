"""Handling one costly request under the limits: JSON errors, bounded multipart reading, the slot.

Shared by the full-model endpoint (:mod:`.app`) and the person-cache endpoints (:mod:`.catalogue_routes`):

* :func:`read_form` — ``multipart/form-data`` only (415), ``Content-Length`` checked before reading (413),
  the body's bytes reserved in the app-wide :class:`~.limits.ByteBudget` (503 when full), read under a
  deadline (408) and a size bound (413, also for chunked bodies), unknown/missing/duplicated fields refused
  (422 naming them); the parser spools files over 1 MiB to disk and the raw body is never kept.
* :func:`run_in_slot` — waits for an inference slot (503 when too many wait or none frees up in time),
  skips the work when the client has gone meanwhile (counted as abandoned, status 499), runs the work in
  the thread pool, and maps :class:`~tryon.errors.InputError` to 400 and anything else to a 500 whose body
  carries only the request id (the exception goes to the log with that id).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InputError
from .limits import (BodyTimeout, BodyTooLarge, BudgetExhausted, ByteBudget, ConcurrencyGate, Draining, GuardedReceive,
                     ServeLimits)
from .metrics import ServeMetrics

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


def json_error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any):
    from starlette.responses import JSONResponse

    return JSONResponse({"detail": one_line(detail), **extra}, status_code=status, headers=headers)


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

    def refuse(self, err: HTTPError):
        if err.reason:
            self.metrics.rejected.labels(reason=err.reason).inc()
        return json_error(err.status, err.detail, err.headers, **err.extra)


@dataclass
class Form:
    files: dict[str, bytes]
    fields: dict[str, str]


async def read_form(request: Any, state: ServeState, files: list[str], fields: dict[str, tuple[str, ...] | None],
                    guard_out: list, optional_files: tuple[str, ...] = ()) -> Form:
    """Read a multipart request with exactly the file fields ``files`` (and maybe ``optional_files``) and
    optional text ``fields`` (``{name: allowed values or None}``; each value also accepted as a query
    parameter). The :class:`GuardedReceive` is appended to ``guard_out`` so that the caller releases its
    bytes at the end."""
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect, Request

    lim = state.limits
    expected = ", ".join(files)
    opt = [*(f"{n} (file)" for n in optional_files), *(f"{n}={'|'.join(v) if v else '...'}" for n, v in fields.items())]
    optional = f" (optional: {', '.join(opt)})" if opt else ""
    ctype = request.headers.get("content-type", "")
    kinds = ("multipart/form-data",) if files else ("multipart/form-data", "application/x-www-form-urlencoded")
    if not ctype.lower().startswith(kinds):
        what = f"file fields {expected}" if files else "fields"
        raise HTTPError(415, f"expected a {' or '.join(kinds)} request with {what}{optional}, got content type "
                             f"{ctype or 'none'!r}", expected_fields=files)
    limit_text = f"{lim.max_upload_bytes} bytes ({lim.max_upload_bytes / 2**20:.3g} MiB)"
    declared = request.headers.get("content-length")
    declared_n = 0
    if declared is not None:
        try:
            declared_n = int(declared)
        except ValueError:
            raise HTTPError(400, f"Content-Length: expected an integer, got {declared[:40]!r}") from None
        if declared_n > lim.max_upload_bytes:
            raise HTTPError(413, f"request body: expected at most {limit_text}, got Content-Length {declared_n}",
                            reason="too_large")
    loop = asyncio.get_running_loop()
    guard = GuardedReceive(request.receive, max_bytes=lim.max_upload_bytes, deadline=loop.time() + lim.body_timeout_s,
                           budget=state.budget, cutoff=lambda: state.upload_cutoff)
    guard_out.append(guard)
    busy = {"Retry-After": "1", "Connection": "close"}
    budget_text = (f"server busy: uploads in progress hold {state.budget.used} of {state.budget.limit} bytes; "
                   "retry later")
    try:
        guard.reserve(declared_n)
        form = await Request(request.scope, receive=guard).form(max_files=len(files) + 4, max_fields=16,
                                                                 max_part_size=64 * 1024)
    except BudgetExhausted:
        raise HTTPError(503, budget_text, busy, reason="body_budget") from None
    except BodyTooLarge as exc:
        raise HTTPError(413, f"request body: expected at most {limit_text}, got more ({exc.args[0]} bytes read so far)",
                        {"Connection": "close"}, reason="too_large") from None
    except BodyTimeout as exc:
        raise HTTPError(408, f"request body: expected it complete within {lim.body_timeout_s:g} s, got "
                             f"{exc.args[0]} bytes by then", {"Connection": "close"}, reason="body_timeout") from None
    except Draining as exc:
        raise HTTPError(503, f"shutting down: the upload was not complete ({exc.args[0]} bytes received)",
                        {"Connection": "close"}, reason="draining") from None
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


__all__ = ["HTTPError", "ServeState", "Form", "read_form", "run_in_slot", "json_error", "one_line", "ABANDONED"]
