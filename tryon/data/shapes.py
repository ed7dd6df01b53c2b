"""What a dataset's items are: points (``D``) or images (``C×H×W``), read from its first item."""

from __future__ import annotations

from typing import Any

from tryon.errors import DatasetError


def data_shape(ds: Any) -> tuple[str, tuple[int, ...]]:
    """``("points", (D,))`` or ``("images", (C, H, W))`` of a dataset's first item (of ``(item, label)`` pairs, the item);
    any other shape raises :class:`DatasetError` naming it."""
    item = ds[0]
    if isinstance(item, (tuple, list)):
        item = item[0]
    if item.dim() == 1:
        return "points", (int(item.shape[0]),)
    if item.dim() != 3:
        raise DatasetError("data", "items of shape D or C×H×W", f"shape {list(item.shape)}")
    return "images", tuple(int(s) for s in item.shape)


__all__ = ["data_shape"]
