"""The metrics log of a run (``metrics.csv``): cells, complete rows after a kill, atomic rewrites, reading back."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..fs import atomic_write_text
from ..errors import TryonError

RESERVED_COLUMNS = ("step", "wall_time")


def to_float(key: Any, v: Any) -> float:
    try:
        return float(v.detach().float().item()) if isinstance(v, torch.Tensor) else float(v)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TryonError(f"step_fn returned {key!r} = {type(v).__name__}: expected a number or a 1-element tensor") from e


def fmt_cell(v: Any) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return str(v)


def row_step(row: Mapping[str, str]) -> int | None:
    try:
        return int(float(row.get("step", "")))
    except (TypeError, ValueError):
        return None


def read_csv(path: Path) -> tuple[list[str] | None, list[dict[str, str]]]:
    """Header and complete rows (a last line cut short by a kill is dropped)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    rows = [r for r in reader if None not in r and all(v is not None for v in r.values())]
    return (list(reader.fieldnames) if reader.fieldnames else None), rows


def write_csv_atomic(path: Path, fieldnames: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fieldnames), restval="", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_metrics(path: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``metrics.csv`` → ``{loss: [(step, value), ...]}`` (empty cells skipped)."""
    fieldnames, rows = read_csv(Path(path))
    out: dict[str, list[tuple[int, float]]] = {k: [] for k in (fieldnames or []) if k not in RESERVED_COLUMNS}
    for r in rows:
        s = row_step(r)
        if s is None:
            continue
        for k in out:
            v = r.get(k)
            if v not in (None, ""):
                with contextlib.suppress(ValueError):
                    out[k].append((s, float(v)))
    return out




__all__ = ["RESERVED_COLUMNS", "fmt_cell", "read_csv", "read_metrics", "row_step", "to_float", "write_csv_atomic"]
