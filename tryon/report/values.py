"""Numbers as a report shows them: table cells, chart tooltips (numpy / torch scalars unwrapped)."""

from __future__ import annotations

import math
from typing import Any


def scalar(v: Any) -> Any:
    """A 0-d numpy / torch value as its Python number; anything else as it is."""
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 0) == 0:
        return v.item()
    return v


def is_number(v: Any) -> bool:
    """Whether ``v`` (after :func:`scalar`) is an int or float, bools excluded."""
    v = scalar(v)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def format_value(v: Any) -> str:
    """Sensible text for a table cell: ints as is, floats with 4 significant digits (scientific when very
    large or small), thousands separators from 10 000, ``—`` for None/NaN, ``∞`` for infinities."""
    v = scalar(v)
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 100_000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e7 or a < 1e-3:
            return f"{v:.3e}"
        if a >= 1e4:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(v)


__all__ = ["format_value", "is_number", "scalar"]
