"""Loss curves: ``metrics.csv`` → series → SVG line charts (smoothing, log axis, one chart or one per series); and
mean ± spread bands over a parameter (:func:`band_chart`).

Plain SVG built here on purpose: matplotlib is not a core dependency and would cost ~1 s of import for a few
polylines.
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from .values import format_value

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac")
_NON_SERIES_COLUMNS = {"step", "wall_time", "epoch", "time"}
_MAX_POINTS = 1500  # per polyline; longer series are decimated (after smoothing)


def _axis_label(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    return f"{v:.4g}"


def read_curves(path: str | os.PathLike) -> dict[str, list[tuple[float, float]]]:
    """A ``metrics.csv`` (``step`` column + one column per loss) → ``{name: [(step, value), ...]}``.

    ``wall_time``/``epoch``/``time`` columns are not curves; empty or non-numeric cells are skipped, and
    so is a last line cut short by a killed writer.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("curves source", "a metrics.csv file", f"{path} (missing)")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]
    reader = csv.DictReader(io.StringIO("".join(lines)))
    names = [n for n in (reader.fieldnames or []) if n and n not in _NON_SERIES_COLUMNS]
    if "step" not in (reader.fieldnames or []):
        raise InputError("curves source", "a CSV with a 'step' column", f"{path} with columns {reader.fieldnames}")
    out: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for row in reader:
        try:
            step = float(row["step"])
        except (TypeError, ValueError):
            continue
        for n in names:
            v = row.get(n)
            if v in (None, ""):
                continue
            try:
                out[n].append((step, float(v)))
            except ValueError:
                continue
    return out


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average over ``window`` points (the first points average what exists so far)."""
    window = int(window)
    if window <= 1:
        return [float(v) for v in values]
    out, acc, buf = [], 0.0, []
    for v in values:
        buf.append(float(v))
        acc += float(v)
        if len(buf) > window:
            acc -= buf.pop(0)
        out.append(acc / len(buf))
    return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _decimate(points: list[tuple[float, float]], limit: int = _MAX_POINTS) -> list[tuple[float, float]]:
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else kept + [points[-1]]


@dataclass
class _Series:
    name: str
    points: list[tuple[float, float]]  # plotted (smoothed, log-filtered) in data units
    raw: list[tuple[float, float]] | None  # unsmoothed, when smoothing is on
    dropped: int = 0


def _prepare_series(data: Mapping[str, Sequence[tuple[float, float]]], smooth: int, log_scale: bool) -> list[_Series]:
    out = []
    for name, pts in data.items():
        clean = sorted((float(s), float(v)) for s, v in pts if math.isfinite(float(v)) and math.isfinite(float(s)))
        dropped = 0
        if log_scale:
            n0 = len(clean)
            clean = [(s, v) for s, v in clean if v > 0]
            dropped = n0 - len(clean)
        if not clean:
            continue
        raw = None
        if smooth and smooth > 1:
            sm = moving_average([v for _, v in clean], smooth)
            raw = clean
            clean = [(s, v) for (s, _), v in zip(clean, sm)]
        out.append(_Series(str(name), clean, raw, dropped))
    return out


def _svg_chart(series: list[_Series], title: str, log_scale: bool, width: int, height: int, colors: Sequence[str],
               smooth: int) -> str:
    """One SVG chart; each series is exactly one ``<polyline class="curve">`` (plus a faint
    ``class="raw"`` one under it when smoothing)."""
    e = html.escape
    ml, mr, mt, mb = 62, 14, 12, 34
    legend_rows, row, x_cursor = [], [], 0
    for k, s in enumerate(series):  # legend wraps under the plot
        w = 22 + 7 * len(s.name) + 14
        if row and x_cursor + w > width - ml - mr:
            legend_rows.append(row)
            row, x_cursor = [], 0
        row.append((k, s, x_cursor))
        x_cursor += w
    if row:
        legend_rows.append(row)
    total_h = height + 18 * len(legend_rows)
    pw, ph = width - ml - mr, height - mt - mb

    def ty(v: float) -> float:
        return math.log10(v) if log_scale else v

    xs = [p[0] for s in series for p in s.points]
    ys = [ty(p[1]) for s in series for p in (s.raw or s.points)] + [ty(p[1]) for s in series for p in s.points]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_lo, y_hi = min(ys), max(ys)
    if y_hi == y_lo:
        d = abs(y_lo) * 0.1 or 1.0
        y_lo, y_hi = y_lo - d, y_hi + d
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def X(v: float) -> float:
        return ml + (v - x_lo) / (x_hi - x_lo) * pw

    def Y(v: float) -> float:
        return mt + (1 - (ty(v) - y_lo) / (y_hi - y_lo)) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{total_h}" '
             f'viewBox="0 0 {width} {total_h}" role="img" aria-label="{e(title)}" font-family="system-ui, sans-serif" '
             f'font-size="11">', f"<title>{e(title)}</title>",
             f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccc"/>']
    # y grid + labels
    if log_scale:
        lo_e, hi_e = math.floor(y_lo), math.ceil(y_hi)
        yticks = [10.0 ** k for k in range(lo_e, hi_e + 1) if y_lo <= k <= y_hi]
        if len(yticks) < 2:
            yticks = [10 ** t for t in nice_ticks(y_lo, y_hi, 4)]
    else:
        yticks = nice_ticks(y_lo, y_hi, 5)
    for t in yticks:
        yy = Y(t)
        if mt - 0.5 <= yy <= mt + ph + 0.5:
            parts.append(f'<line x1="{ml}" y1="{yy:.1f}" x2="{ml + pw}" y2="{yy:.1f}" stroke="#eee"/>')
            parts.append(f'<text x="{ml - 6}" y="{yy + 3.5:.1f}" text-anchor="end" fill="#555">{e(_axis_label(t))}</text>')
    for t in nice_ticks(x_lo, x_hi, 6):
        xx = X(t)
        if ml - 0.5 <= xx <= ml + pw + 0.5:
            parts.append(f'<line x1="{xx:.1f}" y1="{mt}" x2="{xx:.1f}" y2="{mt + ph}" stroke="#f3f3f3"/>')
            parts.append(f'<text x="{xx:.1f}" y="{mt + ph + 14}" text-anchor="middle" fill="#555">{e(_axis_label(t))}</text>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{mt + ph + 28}" text-anchor="middle" fill="#333">step</text>')
    parts.append(f'<text x="12" y="{mt + ph / 2:.1f}" text-anchor="middle" fill="#333" '
                 f'transform="rotate(-90 12 {mt + ph / 2:.1f})">{"value (log scale)" if log_scale else "value"}</text>')
    for k, s in enumerate(series):
        color = colors[k % len(colors)]
        if s.raw is not None:
            pts = " ".join(f"{X(a):.1f},{Y(b):.1f}" for a, b in _decimate(s.raw))
            parts.append(f'<polyline class="raw" fill="none" stroke="{color}" stroke-opacity="0.25" stroke-width="1" points="{pts}"/>')
        pts = " ".join(f"{X(a):.1f},{Y(b):.1f}" for a, b in _decimate(s.points))
        last = (s.raw or s.points)[-1]
        tip = f"{s.name}: {len(s.points)} points, last {format_value(last[1])} at step {format_value(last[0])}"
        if smooth and smooth > 1:
            tip += f" (curve smoothed over {smooth} points)"
        parts.append(f'<polyline class="curve" data-name="{e(s.name)}" fill="none" stroke="{color}" stroke-width="1.8" '
                     f'stroke-linejoin="round" points="{pts}"><title>{e(tip)}</title></polyline>')
    for r, items in enumerate(legend_rows):
        ly = height + 18 * r + 2
        for k, s, lx in items:
            color = colors[k % len(colors)]
            parts.append(f'<line x1="{ml + lx}" y1="{ly}" x2="{ml + lx + 16}" y2="{ly}" stroke="{color}" stroke-width="3"/>')
            parts.append(f'<text x="{ml + lx + 20}" y="{ly + 4}" fill="#333">{e(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)



def curve_charts(
    title: str,
    data: Mapping[str, Sequence[tuple[float, float]]],
    smooth: int = 0,
    log_scale: bool = False,
    separate: bool | None = None,
    width: int = 720,
    height: int = 300,
) -> tuple[list[tuple[str, str]], list[str]]:
    """``{name: [(step, value), ...]}`` → ``([(series name or "", svg), ...], notes)``.

    ``smooth=k``: trailing moving average over k points (raw curve faint underneath); ``log_scale``: log10 y
    axis (non-positive values omitted, and noted). ``separate``: one small chart per series; None decides —
    overlaid unless the series' magnitudes differ by more than 20x on a linear axis.
    """
    series = _prepare_series(data, int(smooth), bool(log_scale))
    notes = []
    if smooth and int(smooth) > 1:
        notes.append(f"moving average over {int(smooth)} points (raw values faint)")
    if log_scale:
        notes.append("log scale")
        dropped = {s.name: s.dropped for s in series if s.dropped}
        if dropped:
            notes.append("non-positive values omitted: " + ", ".join(f"{k} ({v})" for k, v in dropped.items()))
    empty = [n for n in data if n not in {s.name for s in series}]
    if empty:
        notes.append("no plottable values: " + ", ".join(empty))
    if separate is None:
        mags = [np.median([abs(v) for _, v in s.points]) for s in series]
        mags = [m for m in mags if m > 0]
        separate = (not log_scale and len(mags) > 1 and max(mags) / min(mags) > 20)
    svgs: list[tuple[str, str]] = []
    if not series:
        pass
    elif separate:
        w = max(240, (width - 16) // 2)
        for k, s in enumerate(series):
            color = [PALETTE[k % len(PALETTE)]]
            svgs.append((s.name, _svg_chart([s], f"{title} — {s.name}", bool(log_scale), w, int(height * 0.8), color, int(smooth))))
    else:
        svgs.append(("", _svg_chart(series, str(title), bool(log_scale), int(width), int(height), PALETTE, int(smooth))))
    return svgs, notes


def band_chart(title: str, curves: Mapping[str, Sequence[tuple[float, float, float]]], x_label: str = "",
               y_range: tuple[float, float] | None = None, width: int = 640, height: int = 320) -> str:
    """``{name: [(x, mean, spread), ...]}`` → one SVG: per series a line through the means and a faint band of
    ``mean ± spread`` (e.g. a measured factor against a latent coordinate, its std at each point). ``y_range``
    fixes the axis (values outside are clipped to it); by default it spans every band."""
    pts = [p for c in curves.values() for p in c]
    if not pts:
        raise InputError("band chart", "at least one point", "no points")
    xs = [float(p[0]) for p in pts]
    lo, hi = y_range if y_range is not None else (min(m - s for _, m, s in pts), max(m + s for _, m, s in pts))
    lo, hi = float(lo), float(hi) if hi > lo else float(lo) + 1.0
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1.0
    ml, mr, mt, mb = 52, 120, 24, 36
    pw, ph = width - ml - mr, height - mt - mb

    def X(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return mt + (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<text x="{ml}" y="14">{html.escape(title)}</text>',
             f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccc"/>']
    for v in nice_ticks(lo, hi):
        if lo <= v <= hi:
            parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#eee"/>'
                         f'<text x="{ml - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{_axis_label(v)}</text>')
    for x in nice_ticks(x0, x1):
        if x0 <= x <= x1:
            parts.append(f'<text x="{X(x):.1f}" y="{mt + ph + 14}" text-anchor="middle">{_axis_label(x)}</text>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    for k, (name, c_pts) in enumerate(curves.items()):
        c = PALETTE[k % len(PALETTE)]
        band = [(X(x), Y(m + sp)) for x, m, sp in c_pts] + [(X(x), Y(m - sp)) for x, m, sp in reversed(c_pts)]
        parts.append(f'<polygon fill="{c}" fill-opacity="0.15" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in band)}"/>')
        line = " ".join(f"{X(x):.1f},{Y(m):.1f}" for x, m, _ in c_pts)
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{line}"/>')
        parts.append(f'<line x1="{ml + pw + 10}" x2="{ml + pw + 28}" y1="{mt + 12 + 16 * k}" y2="{mt + 12 + 16 * k}" '
                     f'stroke="{c}" stroke-width="3"/><text x="{ml + pw + 32}" y="{mt + 16 + 16 * k}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["PALETTE", "band_chart", "curve_charts", "moving_average", "nice_ticks", "read_curves"]
