"""``tryon.deploy.cache.ByteLRUCache``: the one byte-bounded LRU of the catalogue runtime and ``tryon serve``."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.deploy.cache import ByteLRUCache


class Blob:
    def __init__(self, nbytes: int):
        self.nbytes = nbytes


def test_the_byte_bound_holds_and_the_least_recently_used_go_first() -> None:
    cache = ByteLRUCache(1000)
    for k in "abc":
        assert cache.put(k, Blob(300))
    assert cache.bytes == 900 and len(cache) == 3
    assert cache.get("a") is not None  # "a" is now the most recently used: "b" goes first
    assert cache.put("d", Blob(300))
    assert "b" not in cache and {"a", "c", "d"} == {k for k in "abcd" if k in cache}
    assert cache.bytes == 900 and cache.evictions == 1
    assert cache.put("e", Blob(700))  # makes room by dropping "c" then "a" (least recently used first)
    assert [k for k in "abcde" if k in cache] == ["d", "e"] and cache.bytes == 1000 and cache.evictions == 3


def test_an_item_larger_than_the_bound_is_refused_and_drops_the_old_value() -> None:
    cache = ByteLRUCache(1000)
    assert cache.put("a", Blob(400)) and cache.put("b", Blob(400))
    assert not cache.put("a", Blob(1001))
    assert "a" not in cache and "b" in cache and cache.bytes == 400 and cache.evictions == 0
    assert cache.put("c", Blob(1000))  # exactly the bound fits (everything else dropped)
    assert len(cache) == 1 and cache.bytes == 1000


def test_replacing_a_value_counts_its_new_size() -> None:
    cache = ByteLRUCache(1000)
    cache.put("a", Blob(600))
    cache.put("a", Blob(100))
    assert cache.bytes == 100 and len(cache) == 1


def test_counters_and_numpy_values_by_default() -> None:
    cache = ByteLRUCache(64)
    assert cache.put("x", np.zeros(8, np.float32))  # 32 bytes: sized by .nbytes
    assert cache.get("x") is not None and cache.get("y") is None
    assert cache.stats() == {"items": 1, "bytes": 32, "max_bytes": 64, "hits": 1, "misses": 1, "evictions": 0,
                             "expirations": 0}
    assert cache.delete("x") and not cache.delete("x") and cache.bytes == 0
    cache.put("x", np.zeros(8, np.float32))
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_sliding_expiry() -> None:
    now = [0.0]
    cache = ByteLRUCache(1000, sizeof=lambda v: v.nbytes, ttl_s=10, clock=lambda: now[0])
    cache.put("a", Blob(1))
    cache.put("b", Blob(1))
    now[0] = 5
    assert cache.get("a") is not None  # a use renews the expiry
    now[0] = 12
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 1
    assert cache.expirations == 1 and cache.evictions == 0


@pytest.mark.parametrize("bound", [0, 1])
def test_tiny_bounds(bound: int) -> None:
    cache = ByteLRUCache(bound)
    assert not cache.put("a", Blob(2)) and len(cache) == 0


def test_threads_sharing_one_cache_keep_the_bound_and_every_count() -> None:
    """A batch job's worker threads share one cache: under concurrent puts and gets the byte bound holds and no hit,
    miss or eviction is lost (each public method holds the cache's lock)."""
    import threading

    cache = ByteLRUCache(10 * 100)
    barrier = threading.Barrier(4)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(2000):
            key = (t, i % 37)
            if cache.get(key) is None:
                cache.put(key, Blob(100))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert cache.bytes <= 1000 and len(cache) == cache.bytes // 100
    assert cache.hits + cache.misses == 4 * 2000  # every get counted once
    assert cache.evictions == cache.misses - len(cache)  # every miss put one entry; all but those kept were evicted
