"""In-memory cache of decoded dataset items, so a training loop decodes each image file once.

Training on a small data set for many epochs spends a large share of a CPU step decoding the same PNG/JPEG
files again (about a third of a T-WUTON step at 128x96 on 2 cores). :class:`CachedDataset`
keeps what ``base[i]`` returned the first time and hands it out again. It is only correct for datasets whose
``__getitem__`` is deterministic (no random augmentation inside) and it lives in one process: with
DataLoader workers each worker would hold its own copy, so the Trainer uses it only with ``num_workers=0``.
Written here rather than taken from a library because torch offers no such wrapper and the memory bound
(``max_bytes``) matters on a shared machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["CachedDataset", "item_nbytes"]


def item_nbytes(item: Any) -> int:
    """Bytes held by the tensors / numpy arrays of a (nested) item; other leaves count 64 bytes."""
    if isinstance(item, torch.Tensor):
        return int(item.numel() * item.element_size())
    if hasattr(item, "nbytes") and hasattr(item, "dtype"):  # numpy arrays
        return int(item.nbytes)
    if isinstance(item, Mapping):
        return sum(item_nbytes(v) for v in item.values())
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
        return sum(item_nbytes(v) for v in item)
    return 64


class CachedDataset(torch.utils.data.Dataset):
    """``base`` with each item memoised on first access, up to ``max_bytes`` (later items are not kept).

    Items are returned as stored: callers must not modify them in place (collating copies them into a
    batch, which is what a training loop does). ``hits`` / ``misses`` count the accesses. Every other
    attribute is looked up on ``base``.
    """

    def __init__(self, base: Any, max_bytes: int = 2 << 30):
        self.base = base
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> Any:
        index = int(index)
        if index < 0:
            index += len(self)
        found = self._items.get(index)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        item = self.base[index]
        size = item_nbytes(item)
        if self.nbytes + size <= self.max_bytes:
            self._items[index] = item
            self.nbytes += size
        return item

    def __getattr__(self, name: str) -> Any:
        if name in ("base", "_items"):  # not set yet (e.g. during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)
