"""The live metrics log of a training run: ``out_dir/metrics.csv`` (one flushed row per log step, cut back to a
resumed checkpoint, widened when a new loss appears) and, when asked and importable, TensorBoard events."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Mapping

from .logs import RESERVED_COLUMNS, fmt_cell, read_csv, row_step, write_csv_atomic

log = logging.getLogger("tryon.train")


class MetricsLog:
    """Rows ``step, wall_time, <loss means>`` to ``out_dir/metrics.csv`` and, if ``tensorboard``, to
    ``out_dir/tensorboard`` (skipped with a logged note when tensorboard is not importable)."""

    def __init__(self, out_dir: str | Path, tensorboard: bool = True):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.csv"
        self.tensorboard = bool(tensorboard)
        self._fields: list[str] | None = None
        self._tb: Any = None

    def open(self, resumed_step: int | None) -> None:
        """Start logging: keep the CSV rows up to ``resumed_step`` (none for a fresh run) and hide TensorBoard
        events past it."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._fields = None
        if self.path.is_file():
            keep = resumed_step if resumed_step is not None else 0
            fieldnames, rows = read_csv(self.path)
            kept = [r for r in rows if row_step(r) is not None and row_step(r) <= keep]
            if fieldnames and kept:
                self._fields = fieldnames
                if len(kept) != len(rows):
                    log.info("metrics.csv: dropping %d row(s) logged after step %d", len(rows) - len(kept), keep)
                    write_csv_atomic(self.path, fieldnames, kept)
            else:
                if rows:
                    log.info("metrics.csv: starting a fresh log (no checkpoint covers its %d row(s))", len(rows))
                self.path.unlink()
        self._tb = None
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except Exception as e:  # tensorboard is an optional dependency
                log.info("TensorBoard logging skipped: tensorboard is not importable (%s); metrics.csv still written", e)
            else:
                # purge_step hides events a killed run logged after the checkpoint we resume from
                self._tb = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"), purge_step=(resumed_step or 0) + 1)

    def write(self, step: int, wall_time: float, means: Mapping[str, float]) -> dict[str, float]:
        """Log one row; returns it (``step``, ``wall_time``, then the means)."""
        row = {"step": step, "wall_time": wall_time, **means}
        self._write_csv_row(row)
        if self._tb is not None:
            for k, v in means.items():
                self._tb.add_scalar(k, v, step)
            self._tb.flush()
        return row

    def _write_csv_row(self, row: Mapping[str, Any]) -> None:
        keys = [k for k in row if k not in RESERVED_COLUMNS]
        if self._fields is None:
            self._fields = list(RESERVED_COLUMNS) + keys
            with open(self.path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(self._fields)
        elif any(k not in self._fields for k in keys):
            # a loss appeared that the header lacks: rewrite the file with the wider header
            fieldnames, rows = read_csv(self.path)
            self._fields = list(fieldnames or self._fields) + [k for k in keys if k not in (fieldnames or self._fields)]
            write_csv_atomic(self.path, self._fields, rows)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=self._fields, restval="").writerow({k: fmt_cell(v) for k, v in row.items()})
            f.flush()  # a killed process must not lose (or half-write) logged rows

    def close(self) -> None:
        """Close the TensorBoard writer (the CSV is closed after every row)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


__all__ = ["MetricsLog"]
