"""The HTTP server of ``tryon serve``: uvicorn (h11) with the limits that live below the ASGI app.

uvicorn alone leaves a fresh or trickling connection open forever (its keep-alive timer starts only after a
first response, and every received byte cancels it), waits for every connection before a graceful shutdown
ends, and answers protocol-level errors in plain text. :func:`make_server` configures it with
:class:`~.limits.ServeLimits` and a small protocol subclass:

* a deadline for each request head (``header_timeout_s``, from connect or the previous response): a
  partial head gets a JSON 408 and the connection is closed; a connection that sent nothing is closed;
* a connection cap (``max_connections``): a request arriving while more connections are open gets a JSON
  503 with ``Connection: close`` (uvicorn's ``limit_concurrency`` does the same in plain text); far beyond
  the cap (4×) a new connection is closed at once, so idle sockets cannot exhaust file descriptors;
* JSON bodies for malformed requests (400) instead of uvicorn's plain text; heads over ``max_header_bytes``
  get 431 (``h11`` bounds a head arriving in pieces, the protocol checks a complete one);
* bounded graceful shutdown (``shutdown_timeout_s`` → uvicorn's ``timeout_graceful_shutdown``): the listening
  socket closes (new connections are refused), idle connections close, in-flight requests get that long
  to finish and are then cancelled (answered by a JSON 503 when nothing was sent yet); the app's readiness
  turns 503 and new inference requests on open connections get 503 as soon as the shutdown starts, and an
  upload still arriving gets half the shutdown time to complete (then a JSON 503).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from .handling import error_key
from .limits import ServeLimits

log = logging.getLogger("tryon.serve")
HARD_CONNECTION_FACTOR = 4


def _json_response(detail: str, key: str = "detail") -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({key: detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return headers, body


async def _send_asgi(send: Any, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None,
                     key: str = "detail") -> None:
    headers, body = _json_response(detail, key)
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def protocol_class(limits: ServeLimits) -> type:
    """uvicorn's h11 protocol with the head deadline, the connection cap and JSON protocol errors."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TryonH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._head_timer: Any = None
            self._head_bytes = 0
            inner, connections = self.app, self.connections

            async def capped(scope: dict, receive: Any, send: Any) -> None:
                head = (sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
                        + len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")))
                key = error_key(scope.get("path", ""))  # "error" under /v2/ (Open Inference Protocol)
                if head > limits.max_header_bytes:  # h11 bounds only heads that arrive in pieces
                    await _send_asgi(send, 431, f"request head: expected at most {limits.max_header_bytes} bytes, "
                                                f"got {head}", key=key)
                elif len(connections) > limits.max_connections:
                    await _send_asgi(send, 503, f"server busy: more than {limits.max_connections} open connections; "
                                                "retry later", [(b"retry-after", b"1")], key=key)
                else:
                    await inner(scope, receive, send)

            self.app = capped

        # -- request-head deadline ------------------------------------------------------------
        def _arm(self) -> None:
            self._disarm()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(limits.header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return  # a request is in progress: its body deadline belongs to the app
            if self._head_bytes and self.conn.our_state is h11.IDLE:
                self._send_json(408, b"Request Timeout",
                                f"request head: expected it complete within {limits.header_timeout_s:g} s")
            self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > HARD_CONNECTION_FACTOR * limits.max_connections:
                log.warning("tryon serve: %d open connections, closing a new one", len(self.connections))
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:
                self._head_bytes += len(data)
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        # -- JSON protocol errors -------------------------------------------------------------
        def _send_json(self, status: int, reason: bytes, detail: str) -> None:
            headers, body = _json_response(detail)
            try:
                for event in (h11.Response(status_code=status, headers=headers, reason=reason), h11.Data(data=body),
                              h11.EndOfMessage()):
                    self.transport.write(self.conn.send(event))
            except h11.LocalProtocolError:  # a response had already started: just close
                pass

        def send_400_response(self, msg: str) -> None:
            self._send_json(400, b"Bad Request", f"invalid HTTP request (malformed, or a head over "
                                                 f"{limits.max_header_bytes} bytes)")
            self.transport.close()

    return TryonH11Protocol


def make_server(app: Any, *, host: str = "127.0.0.1", port: int = 8000, limits: ServeLimits | None = None,
                log_level: str = "info", on_drain: Callable[[], None] | None = None, **config: Any):
    """A ``uvicorn.Server`` for ``app`` with the server-side limits; ``server.run()`` (or ``await serve()``).

    ``on_drain`` runs when a graceful shutdown starts (default: mark a :func:`create_app` app as draining).
    """
    import uvicorn

    state = getattr(getattr(app, "state", None), "tryon", None)  # set by create_app
    lim = limits or (state.limits if state is not None else ServeLimits())
    cfg = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol_class(lim),
                         timeout_keep_alive=lim.keep_alive_s, timeout_graceful_shutdown=lim.shutdown_timeout_s,
                         h11_max_incomplete_event_size=lim.max_header_bytes, lifespan="off", **config)
    drain = on_drain if on_drain is not None else (state.start_draining if state is not None else None)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            if drain is not None:
                drain()
            await super().shutdown(sockets)

    return Server(cfg)


__all__ = ["make_server", "protocol_class"]
