"""API keys, per-key rate limits and the public-bind check of ``tryon serve``.

* Keys come from a file (one per line; blank lines and ``#`` comments ignored) and/or the environment
  variable ``TRYON_API_KEYS`` (comma-separated). A client sends one as ``Authorization: Bearer KEY`` or
  ``X-API-Key: KEY``. The presented key is compared with **every** configured key by
  :func:`hmac.compare_digest` over SHA-256 digests (constant time in the key's content and length, and no
  early exit), so response timing does not reveal how much of a key was right.
* Without a key: 401 with a one-line JSON body and ``WWW-Authenticate: Bearer``. The health paths
  (``/healthz``, ``/livez``, ``/readyz``, ``/v2/health/live``, ``/v2/health/ready``) stay open for probes.
* Optional rate limit per key (per client address when no keys are configured): a token bucket of
  ``rate`` requests per second with ``burst`` tokens, applied to ``POST`` requests (the costly ones); beyond
  it 429 with ``Retry-After``. Buckets of at most :data:`MAX_BUCKETS` identities are kept (least recently
  seen dropped first), so the table cannot grow without bound.
* :func:`check_bind`: a non-loopback ``--host`` without keys is refused unless ``insecure`` (then a loud
  warning): inference, docs and metrics would otherwise be open to anyone who can reach the port.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import re
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from ..errors import TryonError
from .handling import error_key

ENV_KEYS = "TRYON_API_KEYS"
MIN_KEY_LENGTH = 16
MAX_BUCKETS = 10_000
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/v2/health/live", "/v2/health/ready"})
_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.I)
_UNIT_S = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeys:
    """A set of API keys; :meth:`match` names the key a request presented (never the key itself)."""

    def __init__(self, keys: Iterable[str]):
        self._digests: list[tuple[str, bytes]] = []
        for i, key in enumerate(keys):
            key = key.strip()
            if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
                raise TryonError(f"API key #{i + 1}: expected at least {MIN_KEY_LENGTH} characters without spaces, got "
                                 f"{len(key)} characters (make one with: python -c 'import secrets; "
                                 "print(secrets.token_urlsafe(32))')")
            self._digests.append((f"key{i + 1}", _digest(key)))

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, env: str = ENV_KEYS) -> ApiKeys:
        """Keys from ``path`` (one per line) and the environment variable ``env`` (comma-separated)."""
        keys: list[str] = []
        if path is not None:
            p = Path(path)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as exc:
                raise TryonError(f"--api-key-file {p}: cannot read it ({exc.strerror or exc})") from None
            keys += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            if not keys:
                raise TryonError(f"--api-key-file {p}: expected one key per line, found none")
        keys += [k.strip() for k in os.environ.get(env, "").split(",") if k.strip()]
        return cls(keys)

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str | None) -> str | None:
        """The label (``key1`` …) of the key ``presented`` equals, else ``None``; constant time per key."""
        if not presented:
            return None
        d = _digest(presented)
        found = None
        for label, ref in self._digests:  # every key is compared: no early exit
            if hmac.compare_digest(d, ref) and found is None:
                found = label
        return found


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The key in ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (ASGI headers, lower-case names)."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


def parse_rate(text: str) -> float:
    """``"5"``, ``"5/s"``, ``"120/min"``, ``"1000/h"`` → requests per second (> 0)."""
    m = _RATE_RE.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"expected a rate like 5/s, 120/min or 1000/h, got {text!r}")
    return float(m.group(1)) / _UNIT_S[(m.group(2) or "s").lower()]


class RateLimiter:
    """Token buckets per identity: ``rate`` tokens per second, at most ``burst`` (default ``max(1, rate)``)."""

    def __init__(self, rate: float, burst: int | None = None, clock: Any = time.monotonic):
        if not rate > 0:
            raise TryonError(f"rate limit: expected a positive rate, got {rate!r}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, math.ceil(rate)))
        if self.burst < 1:
            raise TryonError(f"rate burst: expected at least 1, got {burst!r}")
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # identity -> (tokens, time)

    def hit(self, identity: str) -> float:
        """Spend a token: 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        tokens, last = self._buckets.pop(identity, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[identity] = (tokens, now)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost``; any other address or name counts as reachable from outside."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: ApiKeys | None, insecure: bool) -> str | None:
    """Refuse a non-loopback bind without API keys unless ``insecure``; returns the warning to print, if any."""
    if is_loopback(host) or (keys is not None and len(keys) > 0):
        return None
    msg = (f"binding {host} (not loopback) with no API key: inference, /docs and /metrics are open to anyone "
           f"who can reach this port")
    if not insecure:
        raise TryonError(f"tryon serve: {msg}. Set keys with --api-key-file FILE or {ENV_KEYS}, or pass "
                         "--insecure to accept that")
    return f"WARNING: {msg} (--insecure)."


async def _json(send: Any, status: int, body: dict, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": data})


class AuthMiddleware:
    """Pure ASGI: 401 without a valid key (when keys are set), 429 over the rate limit; health paths open.

    The matched key's label is put in ``scope["tryon.key"]``; ``on_reject(reason)`` counts refusals.
    """

    def __init__(self, app: Any, keys: ApiKeys | None, limiter: RateLimiter | None, on_reject: Any = None):
        self.app, self.keys, self.limiter = app, (keys if keys is not None and len(keys) else None), limiter
        self.on_reject = on_reject or (lambda reason: None)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = error_key(scope.get("path", ""))  # "error" under /v2/ (Open Inference Protocol), else "detail"
        identity = None
        if self.keys is not None:
            identity = self.keys.match(presented_key(headers))
            if identity is None:
                self.on_reject("unauthorized")
                has = presented_key(headers) is not None
                await _json(send, 401, {key: "invalid API key" if has else
                                        "missing API key: send Authorization: Bearer KEY or X-API-Key: KEY"},
                            [(b"www-authenticate", b'Bearer realm="tryon"')])
                return
            scope["tryon.key"] = identity
        if self.limiter is not None and scope.get("method") == "POST":
            who = identity or f"addr:{(scope.get('client') or ('?', 0))[0]}"
            wait = self.limiter.hit(who)
            if wait > 0:
                self.on_reject("rate_limited")
                retry = max(1, math.ceil(wait))
                await _json(send, 429, {key: f"rate limit: at most {self.limiter.rate:g} requests/s "
                                                  f"(burst {self.limiter.burst:g}); retry in {retry} s"},
                            [(b"retry-after", str(retry).encode())])
                return
        await self.app(scope, receive, send)


__all__ = ["ApiKeys", "RateLimiter", "AuthMiddleware", "parse_rate", "check_bind", "is_loopback", "presented_key",
           "OPEN_PATHS", "ENV_KEYS"]
