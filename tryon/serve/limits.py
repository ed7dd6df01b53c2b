"""Every bound of ``tryon serve`` in one place: bodies, buffered bytes, waiting, slots, connections, time.

A service an e-commerce back end can expose must keep the cost of any request bounded whatever the client
does (slow, stalled, huge, abandoned). :class:`ServeLimits` holds the numbers (documented defaults, CLI flags
in :mod:`tryon.serve.cli`); :class:`ConcurrencyGate`, :class:`ByteBudget` and :class:`GuardedReceive` enforce
the ones that live in the app, :mod:`tryon.serve.server` the ones that live in the HTTP server (connection
cap, request-head deadline, bounded graceful shutdown).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..errors import TryonError

MiB = 2**20


@dataclass(frozen=True)
class ServeLimits:
    """The bounds of one service. ``None`` pixel limits are sized to each model (see :mod:`.models`)."""

    max_upload_bytes: int = 20 * MiB  # one request body, all files together (413 beyond)
    max_pixels: int | None = None  # pixels an upload's decoder may produce (400 beyond); None = 64× the model's
    max_output_pixels: int | None = None  # output cap for size=input; None = 16× the model's pixels
    max_concurrency: int = 2  # inferences at a time over all models
    queue_timeout_s: float | None = 30.0  # wait for a slot at most this long (503 beyond)
    max_waiting: int = 64  # requests waiting for a slot (503 beyond, at once)
    max_buffered_bytes: int | None = None  # upload bytes held by all requests together; None = 8× max_upload_bytes
    body_timeout_s: float = 30.0  # deadline for reading a whole request body (408 beyond)
    # enforced by the HTTP server (tryon.serve.server), not by the ASGI app:
    header_timeout_s: float = 10.0  # deadline for a request head, from connect or the previous response (408)
    max_connections: int = 128  # open connections served; a request on one more gets 503
    keep_alive_s: float = 5.0  # idle keep-alive connections are closed after this
    shutdown_timeout_s: float = 10.0  # graceful shutdown: in-flight requests get this long, then are cancelled
    max_header_bytes: int = 16 * 1024  # request line + headers (h11 max_incomplete_event_size; 400 beyond)
    # enforced by the Open Inference Protocol routes (tryon.serve.oip_routes):
    max_batch: int = 8  # images per input in one v2 request (400 beyond)
    max_json_bytes: int = 8 * MiB  # the JSON part of a v2 request (413 beyond; parsed JSON takes several times this)
    # iterative torch pipelines (--pipeline; tryon.serve.pipelines):
    max_steps: int = 300  # a request's `steps` parameter (400 beyond)
    max_deadline_s: float = 60.0  # a request's deadline from arrival; its `timeout` parameter may only shorten it (504)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None and f.name in ("max_pixels", "max_output_pixels", "queue_timeout_s", "max_buffered_bytes"):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise TryonError(f"{f.name}: expected a positive number, got {v!r}")
        if self.buffered_bytes < self.max_upload_bytes:
            raise TryonError(f"max_buffered_bytes={self.max_buffered_bytes} is below max_upload_bytes="
                             f"{self.max_upload_bytes}: no upload of the maximum size could ever be read")

    @property
    def buffered_bytes(self) -> int:
        return int(self.max_buffered_bytes or 8 * self.max_upload_bytes)


# ------------------------------------------------------------------------------------------------
class ConcurrencyGate:
    """At most ``limit`` inferences at a time; at most ``max_waiting`` requests wait, each for ``timeout_s``.

    :meth:`acquire` also watches the client: a request whose client has gone before it gets a slot is not
    run (``"gone"``). The asyncio semaphore is (re)created per event loop: an app served by uvicorn has one
    loop, but test clients may run successive requests on different loops.
    """

    OK, FULL, TIMEOUT, GONE = "ok", "full", "timeout", "gone"

    def __init__(self, limit: int, timeout_s: float | None, max_waiting: int = 64):
        if int(limit) < 1:
            raise TryonError(f"max_concurrency: expected an integer >= 1, got {limit!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise TryonError(f"queue_timeout_s: expected a positive number of seconds (or None), got {timeout_s!r}")
        self.limit = int(limit)
        self.timeout_s = timeout_s
        self.max_waiting = int(max_waiting)
        self.waiting = 0
        self.running = 0
        self._loop: Any = None
        self._sem: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._sem is None:
            self._loop, self._sem = loop, asyncio.Semaphore(self.limit)
        return self._sem

    async def acquire(self, gone: Callable[[], Awaitable[Any]] | None = None) -> str:
        """``"ok"`` (call :meth:`release` afterwards), ``"full"`` (too many waiting), ``"timeout"`` or ``"gone"``
        (``gone()`` returned first: the client disconnected, so its request is not run)."""
        sem = self._semaphore()
        if sem.locked() and self.waiting >= self.max_waiting:
            return self.FULL
        self.waiting += 1
        watcher = asyncio.ensure_future(gone()) if gone is not None else None
        getter: asyncio.Future | None = None
        try:
            if watcher is not None:
                await asyncio.sleep(0)  # a client already gone is seen even when a slot is free
                if watcher.done():
                    return self.GONE
            getter = asyncio.ensure_future(sem.acquire())
            waits = {getter} if watcher is None else {getter, watcher}
            done, _ = await asyncio.wait(waits, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED)
            left = watcher is not None and watcher in done
            if getter.done() and not getter.cancelled():
                getter = None  # the slot is ours
                if not left:
                    self.running += 1
                    return self.OK
                sem.release()
            return self.GONE if left else self.TIMEOUT
        finally:
            self.waiting -= 1
            if watcher is not None and not watcher.done():
                watcher.cancel()
            if getter is not None:  # not ours: never acquired, or we were cancelled while it won
                if not getter.done():
                    getter.cancel()  # asyncio.Semaphore hands a slot it was woken for to the next waiter
                elif not getter.cancelled() and getter.exception() is None:
                    sem.release()

    def release(self) -> None:
        self.running -= 1
        self._semaphore().release()


# ------------------------------------------------------------------------------------------------
class ByteBudget:
    """Bytes of request bodies held by all requests together (used from the event loop only, no lock)."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class BodyTooLarge(Exception):
    """More body bytes than ``max_upload_bytes`` (→ 413)."""


class BodyTimeout(Exception):
    """The body was not read completely within ``body_timeout_s`` (→ 408)."""


class BudgetExhausted(Exception):
    """Reading the body would hold more than ``max_buffered_bytes`` over all requests (→ 503)."""


class Draining(Exception):
    """A graceful shutdown started and the body was not complete by its cut-off (→ 503)."""


class GuardedReceive:
    """An ASGI ``receive`` that bounds one request body: size (``max_bytes``), time (until ``deadline`` on the
    loop's clock, or an earlier ``cutoff()`` once a shutdown has set one) and the bytes all requests hold
    together (``budget``). Raises :class:`BodyTooLarge`, :class:`BodyTimeout`, :class:`Draining` or
    :class:`BudgetExhausted`; :meth:`release` gives the bytes back to the budget.

    The wrapped ``receive`` is awaited as one pending task across short polls (never cancelled mid-wait), so
    a cut-off set while a client is stalled takes effect within :data:`POLL_S`.
    """

    POLL_S = 0.25

    def __init__(self, receive: Callable[[], Awaitable[dict]], *, max_bytes: int, deadline: float, budget: ByteBudget,
                 cutoff: Callable[[], float | None] | None = None):
        self._receive = receive
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.budget = budget
        self.cutoff = cutoff or (lambda: None)
        self.size = 0  # body bytes received
        self.held = 0  # bytes taken from the budget
        self._pending: asyncio.Future | None = None

    def reserve(self, n: int) -> None:
        """Take ``n`` bytes up front (a declared ``Content-Length``) so that a busy server refuses at once."""
        if n > self.held:
            if not self.budget.take(n - self.held):
                raise BudgetExhausted(n)
            self.held = n

    async def __call__(self) -> dict:
        loop = asyncio.get_running_loop()
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._receive())
        while not self._pending.done():
            cut = self.cutoff()
            end = self.deadline if cut is None else min(cut, self.deadline)
            left = end - loop.time()
            if left <= 0:
                self.abandon()
                raise (Draining if cut is not None and cut < self.deadline else BodyTimeout)(self.size)
            await asyncio.wait({self._pending}, timeout=min(left, self.POLL_S))
        message, self._pending = self._pending.result(), None
        if message.get("type") == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.max_bytes:
                raise BodyTooLarge(self.size)
            self.reserve(self.size)
        return message

    def abandon(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = None

    def release(self) -> None:
        self.abandon()
        self.budget.give(self.held)
        self.held = 0


__all__ = ["ServeLimits", "ConcurrencyGate", "ByteBudget", "GuardedReceive", "BodyTooLarge", "BodyTimeout",
           "BudgetExhausted", "Draining", "MiB"]
