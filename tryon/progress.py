"""One progress display for the SDK (training, data generation, batch jobs) that also suits a log file.

:func:`progress` picks one of three displays:

* **rich** — the stream is a terminal: a rich bar with the description, bar, ``M/N``, rate in ``unit/s``,
  elapsed time, ETA and the fields (``loss=0.12``);
* **plain** — anything else (CI, ``make demo > log``, a container): one line per 5 % crossed, plus the first
  and the last update, e.g. ``train: 120/1000 (12%) 35.2 step/s eta 25s loss=0.12``; never a ``\\r``. With
  ``total=None`` a line every :data:`PLAIN_INTERVAL_S` seconds;
* **off** — ``enabled=False``: nothing is written.

``TRYON_PROGRESS=plain|rich|off`` overrides the terminal detection (``enabled=False`` still wins).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["ENV_VAR", "PLAIN_INTERVAL_S", "PLAIN_STEPS", "Progress", "open_progress", "progress", "resolve_mode"]

log = logging.getLogger(__name__)

#: Environment variable that forces the display: ``plain``, ``rich`` or ``off`` (``auto`` or empty: detect).
ENV_VAR = "TRYON_PROGRESS"
#: Plain mode writes a line each time another ``1 / PLAIN_STEPS`` of the total is crossed (5 %).
PLAIN_STEPS = 20
#: Plain mode with an unknown total writes a line at most every this many seconds.
PLAIN_INTERVAL_S = 10.0
MODES = ("plain", "rich", "off")


def resolve_mode(enabled: bool = True, stream: TextIO | None = None) -> str:
    """``"off"``, ``"plain"`` or ``"rich"``: off when not ``enabled``, else :data:`ENV_VAR`, else rich when
    ``stream`` (default ``sys.stderr``) is a terminal, plain otherwise."""
    if not enabled:
        return "off"
    forced = os.environ.get(ENV_VAR, "").strip().lower()
    if forced in MODES:
        return forced
    if forced not in ("", "auto"):
        log.warning("%s=%r is not one of plain, rich, off, auto: detecting the terminal", ENV_VAR, forced)
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        tty = False
    return "rich" if tty else "plain"


def _fmt_value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt_rate(rate: float) -> str:
    return f"{rate:.1f}" if rate >= 1.0 else f"{rate:.3g}"


def _fmt_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """A progress display; this base class shows nothing (``enabled=False``) but keeps the counts.

    Attributes:
        total: the number of units of the whole task, or ``None`` if unknown.
        completed: units done so far (starts at ``completed=`` of :func:`progress`, e.g. a resumed step).
        fields: shown after the bar / at the end of each line; :meth:`advance` updates them, and a caller may
            also change the dict directly (shown at the next update).
    """

    mode = "off"

    def __init__(self, total: int | None, desc: str, *, completed: int = 0, unit: str = "it") -> None:
        self.total = None if total is None else int(total)
        self.completed = int(completed)
        self.desc, self.unit = desc, unit
        self.fields: dict[str, Any] = {}
        self._initial, self._t0, self._closed = self.completed, time.perf_counter(), False

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Add ``n`` units done and update the shown ``fields`` (``loss=0.12``, ``failed=1``)."""
        self.completed += int(n)
        self.fields.update(fields)
        self._show()

    @property
    def elapsed(self) -> float:
        """Seconds since the display was opened."""
        return time.perf_counter() - self._t0

    @property
    def rate(self) -> float | None:
        """Units per second over the units done since the display was opened (``None`` before any)."""
        done, dt = self.completed - self._initial, self.elapsed
        return done / dt if done > 0 and dt > 0 else None

    def close(self) -> None:
        """End the display (idempotent)."""
        if not self._closed:
            self._closed = True
            self._finish()

    def _show(self) -> None:
        pass

    def _finish(self) -> None:
        pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Plain(Progress):
    """Whole lines, written when another 1/:data:`PLAIN_STEPS` of the total is crossed (or every
    :data:`PLAIN_INTERVAL_S` seconds with no total), on the first update and at the end."""

    mode = "plain"

    def __init__(self, total: int | None, desc: str, *, stream: TextIO, **kw: Any) -> None:
        super().__init__(total, desc, **kw)
        self._stream = stream
        self._bucket = self._last_line_t = None
        self._pending = False

    def _bucket_of(self, completed: int) -> int:
        return PLAIN_STEPS if not self.total or self.total <= 0 else completed * PLAIN_STEPS // self.total

    def _show(self) -> None:
        self._pending = True
        now = time.perf_counter()
        if self._bucket is None:  # the first update
            due = True
        elif self.total is not None:
            due = self._bucket_of(self.completed) > self._bucket
        else:
            due = now - self._last_line_t >= PLAIN_INTERVAL_S
        if due:
            self._write(now)

    def _finish(self) -> None:
        if self._pending:  # the last update was not written yet (e.g. a run stopped early)
            self._write(time.perf_counter())

    def line(self) -> str:
        """The current state as one line (no newline)."""
        rate = self.rate
        parts = [f"{self.desc}:"]
        if self.total is not None:
            pct = 100 if self.total <= 0 else math.floor(100 * self.completed / self.total)
            parts.append(f"{self.completed}/{self.total} ({pct}%)")
        else:
            parts.append(f"{self.completed}")
        if rate is not None:
            parts.append(f"{_fmt_rate(rate)} {self.unit}/s")
        if self.total is not None and self.completed < self.total:
            if rate is not None:
                parts.append(f"eta {_fmt_seconds((self.total - self.completed) / rate)}")
        else:
            parts.append(f"elapsed {_fmt_seconds(self.elapsed)}")
        parts += [f"{k}={_fmt_value(v)}" for k, v in self.fields.items()]
        return " ".join(parts)

    def _write(self, now: float) -> None:
        self._bucket, self._last_line_t, self._pending = self._bucket_of(self.completed), now, False
        try:
            self._stream.write(self.line() + "\n")
            self._stream.flush()
        except (ValueError, OSError):  # a closed or broken stream must not stop the work
            pass


class _Rich(Progress):
    """A rich bar: description, bar, M/N, rate, elapsed, ETA, fields."""

    mode = "rich"

    def __init__(self, total: int | None, desc: str, *, stream: TextIO, force_terminal: bool, **kw: Any) -> None:
        super().__init__(total, desc, **kw)
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        unit = self.unit

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{_fmt_rate(speed)} {unit}/s", style="progress.data.speed")

        console = Console(file=stream, force_terminal=True if force_terminal else None)
        self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                  TextColumn("{task.fields[shown]}"), console=console, transient=False)
        self._task = self._rich.add_task(desc, total=self.total, completed=self.completed, shown="")
        self._rich.start()

    def _show(self) -> None:
        shown = " ".join(f"{k}={_fmt_value(v)}" for k, v in self.fields.items())
        self._rich.update(self._task, completed=self.completed, shown=shown)

    def _finish(self) -> None:
        self._rich.stop()


def open_progress(total: int | None, desc: str, *, completed: int = 0, unit: str = "it", enabled: bool = True,
                  stream: TextIO | None = None) -> Progress:
    """The display :func:`progress` yields, for code that closes it itself (:meth:`Progress.close`)."""
    mode = resolve_mode(enabled, stream)
    stream = sys.stderr if stream is None else stream
    if mode == "plain":
        return _Plain(total, desc, completed=completed, unit=unit, stream=stream)
    if mode == "rich":
        return _Rich(total, desc, completed=completed, unit=unit, stream=stream,
                     force_terminal=os.environ.get(ENV_VAR, "").strip().lower() == "rich")
    return Progress(total, desc, completed=completed, unit=unit)


@contextmanager
def progress(total: int | None, desc: str, *, completed: int = 0, unit: str = "it", enabled: bool = True,
             stream: TextIO | None = None) -> Iterator[Progress]:
    """Show the progress of ``total`` units (``None``: unknown) on ``stream`` (default ``sys.stderr``).

    Args:
        total: units of the whole task, or ``None`` if unknown.
        desc: the label (``"train run1"``, ``"synth"``).
        completed: units already done (a resumed run starts its bar there; its rate counts new units only).
        unit: the unit's name in the rate (``step/s``).
        enabled: ``False`` shows nothing (e.g. a non-main DDP rank).
        stream: where to write; a terminal gets a rich bar, anything else plain lines.

    Yields:
        a :class:`Progress`: call ``.advance(n=1, **fields)``; ``.total`` and ``.completed`` hold the counts.

    Example (plain mode, e.g. output redirected to a file)::

        with progress(1000, "train run1", unit="step") as bar:
            for step in range(1000):
                bar.advance(loss=train_step())
        # train run1: 1/1000 (0%) 41.0 step/s eta 24s loss=0.6931
        # train run1: 50/1000 (5%) 35.2 step/s eta 27s loss=0.4127
        # ... one line per 5 % ...
        # train run1: 1000/1000 (100%) 35.9 step/s elapsed 28s loss=0.1203
    """
    bar = open_progress(total, desc, completed=completed, unit=unit, enabled=enabled, stream=stream)
    try:
        yield bar
    finally:
        bar.close()
