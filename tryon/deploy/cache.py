"""The deploy wing's one in-memory cache: a least-recently-used map bounded in **bytes** (no torch).

Used by :class:`tryon.deploy.catalogue.CatalogueSession` for branch features and by ``tryon serve``'s
person-cache endpoints (:mod:`tryon.serve.catalogue_routes`) for uploaded persons and garments. Built on
``cachetools.LRUCache(maxsize=bytes, getsizeof=...)``; on top of it:

* an item larger than the whole bound is not kept (:meth:`ByteLRUCache.put` returns ``False``; an older value
  under the same key is dropped);
* optional sliding expiry (``ttl_s``): an entry expires ``ttl_s`` after its last use (a ``get`` renews it);
* counters ``hits`` / ``misses`` / ``evictions`` (entries dropped to make room; expiries and deletions are not
  evictions) and ``expirations``.

Not thread-safe (like the sessions and the event loop that use it): one cache per thread, or a lock around it.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Callable, Hashable

import cachetools


def nbytes_of(value: Any) -> int:
    """The default size of a value: its ``nbytes`` (numpy arrays, :class:`tryon.deploy.features.Features`)."""
    return int(value.nbytes)


class _LRUStore(cachetools.LRUCache):
    """``cachetools.LRUCache`` that reports the keys it evicts to make room."""

    def __init__(self, maxsize: int, getsizeof: Callable[[Any], int], on_evict: Callable[[Hashable], None]):
        super().__init__(maxsize, getsizeof=getsizeof)
        self._on_evict = on_evict

    def popitem(self) -> tuple[Hashable, Any]:
        key, value = super().popitem()
        self._on_evict(key)
        return key, value


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` holding the instance's lock (the cache is shared by a batch job's worker threads)."""
    @functools.wraps(method)
    def wrapper(self: "ByteLRUCache", *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class ByteLRUCache:
    """Key → value, at most ``max_bytes`` bytes of values (sizes from ``sizeof``, default ``value.nbytes``);
    the least recently used entries are dropped first. ``ttl_s``: entries expire that long after their last
    use (``None``: never); ``clock``: the time source (seconds, monotonic), replaceable in tests. Thread-safe:
    every public method holds one lock."""

    def __init__(self, max_bytes: int, *, sizeof: Callable[[Any], int] = nbytes_of, ttl_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.max_bytes = int(max_bytes)
        self.ttl_s = ttl_s
        self.clock = clock
        self.hits = self.misses = self.evictions = self.expirations = 0
        self._lock = threading.RLock()
        self._expires: dict[Hashable, float] = {}
        self._lru = _LRUStore(max(0, self.max_bytes), lambda v: int(sizeof(v)), self._evicted)

    def _evicted(self, key: Hashable) -> None:
        self.evictions += 1
        self._expires.pop(key, None)

    def _expire(self) -> None:
        if self.ttl_s is None:
            return
        now = self.clock()
        for key in [k for k, t in self._expires.items() if t <= now]:
            self._remove(key)
            self.expirations += 1

    def _remove(self, key: Hashable) -> bool:
        self._expires.pop(key, None)
        if key in self._lru:
            del self._lru[key]
            return True
        return False

    @property
    def bytes(self) -> int:
        """Bytes held now (the sum of the kept values' sizes)."""
        return int(self._lru.currsize)

    @_locked
    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value under ``key`` (now the most recently used; its expiry renewed), else ``default``."""
        self._expire()
        if key not in self._lru:
            self.misses += 1
            return default
        self.hits += 1
        if self.ttl_s is not None:
            self._expires[key] = self.clock() + self.ttl_s
        return self._lru[key]

    @_locked
    def put(self, key: Hashable, value: Any) -> bool:
        """Keep ``value`` under ``key``, dropping least recently used entries until the bound holds. ``False``
        (and nothing kept, an older value under ``key`` dropped) when ``value`` alone exceeds the bound."""
        self._expire()
        self._remove(key)
        try:
            self._lru[key] = value
        except ValueError:  # cachetools: "value too large"
            return False
        if self.ttl_s is not None:
            self._expires[key] = self.clock() + self.ttl_s
        return True

    @_locked
    def delete(self, key: Hashable) -> bool:
        """Drop ``key``; whether it was there."""
        self._expire()
        return self._remove(key)

    @_locked
    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        self._lru.clear()
        self._expires.clear()

    @_locked
    def __contains__(self, key: Hashable) -> bool:
        self._expire()
        return key in self._lru

    @_locked
    def __len__(self) -> int:
        self._expire()
        return len(self._lru)

    @_locked
    def stats(self) -> dict[str, int]:
        """``items``, ``bytes``, ``max_bytes``, ``hits``, ``misses``, ``evictions``, ``expirations``."""
        return {"items": len(self), "bytes": self.bytes, "max_bytes": self.max_bytes, "hits": self.hits,
                "misses": self.misses, "evictions": self.evictions, "expirations": self.expirations}


__all__ = ["ByteLRUCache", "nbytes_of"]
