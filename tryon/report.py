"""Reports a person would rather look at than read: tables, image grids and loss curves.

``Report(out_dir, title)`` collects blocks and ``write()`` renders them twice:

* ``report.html`` — self-contained apart from the PNG grids next to it: inline CSS, curves as inline SVG,
  a table of contents; every piece of user text is HTML-escaped;
* ``report.md`` — the same content for GitHub / terminals: tables in Markdown, grids and curves linked
  (each curve chart is also written as an ``.svg`` file for that purpose).

Used by the demo and the evaluation commands to show what the texts show: qualitative try-on grids
(000 Fig. 4.6-4.8, E.1), metric tables (000 Tables 4.3-4.5, E.1; 004 FID/precision/recall) and training
curves of the losses (000 eq. 4.3.4-4.3.10).

Hand-written renderers, on purpose: matplotlib is not a core dependency and would cost ~1 s of import for
a few polylines, so curves are plain SVG built here; likewise ``add_text`` takes a small, safe subset of
Markdown (headings, paragraphs, lists, code, bold/italic, links, images) rather than pulling a Markdown
package in — user text is escaped first, then the few constructs are turned into tags, and link targets
with a scheme other than http(s)/mailto are dropped. This module does not import torch (tensors passed
in are converted with :func:`tryon.io.to_uint8`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fs import atomic_write_text
from .errors import InputError

# ------------------------------------------------------------------------------------------------
# layout constants of the PNG grids (public: tests and callers can predict the size)
# ------------------------------------------------------------------------------------------------
GRID_PAD = 4  #: pixels between cells and around the grid
GRID_HEADER = 22  #: height of the column-title strip
GRID_FONT_SIZE = 13
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac")
_NON_SERIES_COLUMNS = {"step", "wall_time", "epoch", "time"}
_MAX_POINTS = 1500  # per polyline; longer series are decimated (after smoothing)


# ------------------------------------------------------------------------------------------------
# numbers
# ------------------------------------------------------------------------------------------------
def _scalar(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 0) == 0:
        return v.item()
    return v


def format_value(v: Any) -> str:
    """Sensible text for a table cell: ints as is, floats with 4 significant digits (scientific when very
    large or small), thousands separators from 10 000, ``—`` for None/NaN, ``∞`` for infinities."""
    v = _scalar(v)
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


def _is_number(v: Any) -> bool:
    v = _scalar(v)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _axis_label(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    return f"{v:.4g}"


# ------------------------------------------------------------------------------------------------
# images
# ------------------------------------------------------------------------------------------------
def _to_rgb_array(x: Any, where: str) -> np.ndarray:
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        from .io import to_uint8

        t = x
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise InputError(where, "one image (3xHxW or 1x3xHxW tensor)", f"a batch of {t.shape[0]}")
            t = t[0]
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise InputError(where, "a 3xHxW or 1x3xHxW tensor in [-1, 1]", f"shape {tuple(t.shape)}")
        if t.shape[0] == 1:
            t = t.expand(3, -1, -1)
        return to_uint8(t)
    if isinstance(x, Image.Image):
        return np.asarray(x.convert("RGB"))
    if isinstance(x, np.ndarray):
        a = x
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise InputError(where, "an HxWx3 uint8 array", f"shape {a.shape}")
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        a = a[..., :3]
        if a.dtype != np.uint8:
            if np.issubdtype(a.dtype, np.floating) and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
                a = np.round(np.nan_to_num(a) * 255)
            a = np.clip(a, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(a)
    raise InputError(where, "a tensor in [-1, 1], an HxWx3 uint8 array or a PIL image", type(x).__name__)


def _font(size: int = GRID_FONT_SIZE) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


# Pillow's bundled font (Aileron) has no Greek glyphs and draws a box instead; titles such as "λadv=0" or
# "θ" are written out. The report's HTML and markdown keep the real letters.
_GREEK_NAMES = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "θ": "theta", "λ": "lambda ",
                "μ": "mu", "σ": "sigma", "τ": "tau", "φ": "phi", "ω": "omega"}


def _drawable(text: Any) -> str:
    """``text`` as the grid font can draw it (Greek letters written out)."""
    return "".join(_GREEK_NAMES.get(ch, ch) for ch in str(text))


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: Any) -> int:
    box = draw.textbbox((0, 0), text, font=font)
    return int(box[2] - box[0])


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if _text_width(draw, text, font) <= width:
        return text
    while text and _text_width(draw, text + "…", font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def grid_image(
    rows: Sequence[Sequence[Any]],
    column_titles: Sequence[str] | None = None,
    row_titles: Sequence[str] | None = None,
    scale: int = 1,
) -> Image.Image:
    """One RGB PIL image: ``rows`` of images (None = empty cell) on white, column titles drawn on top.

    Cells are as large as the largest image (times ``scale``, nearest-neighbour), images centred in them.
    Size: width = row-title strip + n_cols·cell_w + (n_cols+1)·GRID_PAD, height = GRID_HEADER (when there
    are column titles) + n_rows·cell_h + (n_rows+1)·GRID_PAD.
    """
    if not rows or not all(isinstance(r, (list, tuple)) for r in rows):
        raise InputError("image grid rows", "a non-empty list of lists of images", type(rows).__name__)
    ncols = max(len(r) for r in rows)
    if column_titles is not None and len(column_titles) != ncols:
        raise InputError("column_titles", f"{ncols} titles (one per column)", f"{len(column_titles)}")
    if row_titles is not None and len(row_titles) != len(rows):
        raise InputError("row_titles", f"{len(rows)} titles (one per row)", f"{len(row_titles)}")
    scale = max(1, int(scale))
    cells = [[None if x is None else _to_rgb_array(x, f"image grid cell ({i}, {j})") for j, x in enumerate(r)]
             for i, r in enumerate(rows)]
    sizes = [c.shape[:2] for r in cells for c in r if c is not None]
    if not sizes:
        raise InputError("image grid rows", "at least one image", "only empty cells")
    cell_h = max(s[0] for s in sizes) * scale
    cell_w = max(s[1] for s in sizes) * scale
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_w = 0
    if row_titles is not None:
        row_w = max((_text_width(probe, _drawable(t), font) for t in row_titles), default=0) + 2 * GRID_PAD
    header = GRID_HEADER if column_titles is not None and any(str(t) for t in column_titles) else 0
    W = row_w + ncols * cell_w + (ncols + 1) * GRID_PAD
    H = header + len(rows) * cell_h + (len(rows) + 1) * GRID_PAD
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x0 = row_w + GRID_PAD
    if header:
        for j, t in enumerate(column_titles or ()):
            text = _fit(draw, _drawable(t), font, cell_w)
            cx = x0 + j * (cell_w + GRID_PAD) + cell_w // 2
            draw.text((cx, header // 2 + 1), text, fill=(32, 32, 32), font=font, anchor="mm")
    for i, r in enumerate(cells):
        y = header + GRID_PAD + i * (cell_h + GRID_PAD)
        if row_titles is not None:
            draw.text((GRID_PAD, y + cell_h // 2), _drawable(row_titles[i]), fill=(32, 32, 32), font=font,
                      anchor="lm")
        for j, c in enumerate(r):
            if c is None:
                continue
            img = Image.fromarray(c)
            if scale > 1:
                img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
            x = x0 + j * (cell_w + GRID_PAD)
            canvas.paste(img, (x + (cell_w - img.width) // 2, y + (cell_h - img.height) // 2))
    return canvas


# ------------------------------------------------------------------------------------------------
# curves
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# Markdown (markdown-it-py, the CommonMark parser rich already depends on)
# ------------------------------------------------------------------------------------------------
_SAFE_URL = re.compile(r"^(https?:|mailto:|[^:]*$|[^:/?#]*[/?#])", re.IGNORECASE)


def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    # "commonmark" with raw HTML off: tags in the text are escaped. Every link is parsed as a link (so an
    # unsafe one never shows as text) and its URL replaced by "#" unless relative, http(s) or mailto.
    # Headings move down two levels (the report title is h1, sections h2).
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = lambda url: True

    def heading(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        level = min(6, int(tokens[idx].tag[1]) + 2)
        return f"<h{level}>" if tokens[idx].nesting == 1 else f"</h{level}>\n"

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


def _neutralise_links(tokens: Any) -> None:
    for token in tokens:
        for attr in ("href", "src"):
            url = token.attrGet(attr) if token.attrs else None
            if url is not None and not _SAFE_URL.match(html.unescape(str(url)).strip()):
                token.attrSet(attr, "#")
        if token.children:
            _neutralise_links(token.children)


def markdown_to_html(md: str) -> str:
    """CommonMark to HTML, raw HTML escaped and unsafe link schemes dropped; ``#`` headings become ``<h3>``."""
    parser = _markdown_parser()
    tokens = parser.parse(str(md))
    _neutralise_links(tokens)
    return parser.renderer.render(tokens, parser.options, {}).strip()


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------
@dataclass
class _Block:
    kind: str
    title: str = ""
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    image: Image.Image | None = None
    svgs: list[tuple[str, str]] = field(default_factory=list)  # (name, svg)
    note: str = ""
    file: str = ""


def _slug(text: str, n: int) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return f"{n:02d}-{s}" if s else f"{n:02d}"


def _md_cell(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]],
                   numeric: Sequence[bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table; cells are formatted by :func:`format_value` (strings as they are),
    ``|`` escaped; ``numeric`` columns are right-aligned (default: columns whose cells are all numbers)."""
    columns = [str(c) for c in columns]
    body = [[r.get(c) for c in columns] if isinstance(r, Mapping) else list(r) for r in rows]
    if numeric is None:
        numeric = [bool(body) and all(_is_number(r[j]) or r[j] is None for r in body) for j in range(len(columns))]
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |",
             "|" + "|".join("---:" if numeric[j] else "---" for j in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(_md_cell(v if isinstance(v, str) else format_value(v)) for v in r) + " |" for r in body]
    return "\n".join(lines)


_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; max-width: 1100px;
       margin: 2rem auto; padding: 0 1.25rem; background: #fafafa; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
       border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #777; font-size: .85rem; margin-top: 0; }
nav ol { columns: 2; font-size: .9rem; color: #555; }
table { border-collapse: collapse; margin: .6rem 0 1rem; background: #fff; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .3rem .65rem; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; } td.num, th.num { text-align: right; }
tbody tr:nth-child(even) { background: #f8f9fb; }
figure { margin: .6rem 0 1.2rem; } figcaption { color: #666; font-size: .85rem; margin-top: .25rem; }
img.grid { max-width: 100%; height: auto; border: 1px solid #e3e3e3; background: #fff; image-rendering: auto; }
.charts { display: flex; flex-wrap: wrap; gap: .8rem; }
svg.chart { background: #fff; border: 1px solid #e3e3e3; max-width: 100%; height: auto; }
code { background: #eef0f3; padding: 0 .25rem; border-radius: 3px; } pre { background: #eef0f3; padding: .6rem; overflow: auto; }
"""


class Report:
    """An HTML + Markdown report in ``out_dir`` (see the module doc). Every ``add_*`` returns ``self``."""

    def __init__(self, out_dir: str | os.PathLike, title: str):
        self.out_dir = Path(out_dir)
        self.title = str(title)
        self.blocks: list[_Block] = []
        self.files: list[Path] = []

    # ---------------------------------------------------------------- content
    def add_text(self, markdown: str) -> "Report":
        """A paragraph (or several) of Markdown (safe subset, see :func:`markdown_to_html`)."""
        self.blocks.append(_Block("text", text=str(markdown)))
        return self

    def add_table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> "Report":
        """A table; rows are sequences (or dicts keyed by column). Numbers are formatted by
        :func:`format_value` and right-aligned."""
        columns = [str(c) for c in columns]
        body = []
        for k, r in enumerate(rows):
            r = [r.get(c) for c in columns] if isinstance(r, Mapping) else list(r)
            if len(r) != len(columns):
                raise InputError(f"table {title!r} row {k}", f"{len(columns)} cells", f"{len(r)}")
            body.append([_scalar(v) for v in r])
        self.blocks.append(_Block("table", title=str(title), columns=columns, rows=body))
        return self

    def add_image_grid(
        self,
        title: str,
        rows: Sequence[Sequence[Any]],
        column_titles: Sequence[str],
        row_titles: Sequence[str] | None = None,
        scale: int = 1,
    ) -> "Report":
        """A grid of images saved as one PNG (column titles drawn above the columns, see :func:`grid_image`).

        Images: tensors in [-1, 1] (3xHxW or 1x3xHxW), HxWx3 uint8 arrays or PIL images; None leaves a
        cell empty. ``scale`` enlarges small images (integer, nearest neighbour).
        """
        img = grid_image(rows, column_titles, row_titles, scale=scale)
        note = " | ".join(str(c) for c in column_titles)
        self.blocks.append(_Block("grid", title=str(title), image=img, note=note))
        return self

    def add_curves(
        self,
        title: str,
        source: str | os.PathLike | Mapping[str, Sequence[tuple[float, float]]],
        smooth: int = 0,
        log_scale: bool = False,
        separate: bool | None = None,
        names: Sequence[str] | None = None,
        width: int = 720,
        height: int = 300,
    ) -> "Report":
        """Loss curves as inline SVG from a ``metrics.csv`` path or ``{name: [(step, value), ...]}``.

        ``smooth=k`` draws a trailing moving average over k points (the raw curve faint underneath);
        ``log_scale`` uses a log10 y axis (non-positive values omitted, and said so); ``names`` picks
        series. ``separate``: one small chart per series; None decides — overlaid unless the series'
        magnitudes differ by more than 20x on a linear axis.
        """
        data = read_curves(source) if isinstance(source, (str, os.PathLike)) else {str(k): list(v) for k, v in source.items()}
        if names is not None:
            missing = [n for n in names if n not in data]
            if missing:
                raise InputError(f"curves {title!r}", f"series among {sorted(data)}", f"{missing}")
            data = {n: data[n] for n in names}
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
        self.blocks.append(_Block("curves", title=str(title), svgs=svgs, note="; ".join(notes)))
        return self

    # ---------------------------------------------------------------- output
    def write(self) -> Path:
        """Write the PNG grids, the curve SVG files, ``report.md`` and ``report.html`` (all atomically);
        returns the path of ``report.html``."""
        from ._version import __version__
        from .io import save_image

        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.files = []
        when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        e = html.escape
        sections = [b for b in self.blocks if b.title]
        h: list[str] = [
            "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(self.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
            f"<h1>{e(self.title)}</h1>", f'<p class="meta">{e(when)} · tryon {e(__version__)}</p>',
        ]
        md: list[str] = [f"# {self.title}", "", f"_{when} · tryon {__version__}_", ""]
        if len(sections) > 3:
            h.append("<nav><ol>" + "".join(f'<li><a href="#s{self.blocks.index(b) + 1}">{e(b.title)}</a></li>'
                                          for b in sections) + "</ol></nav>")
        for n, b in enumerate(self.blocks, start=1):
            anchor = f's{n}'
            if b.kind == "text":
                h.append(f'<section class="text">{markdown_to_html(b.text)}</section>')
                md += [b.text, ""]
            elif b.kind == "table":
                numeric = [all(_is_number(r[j]) or r[j] is None for r in b.rows) and any(_is_number(r[j]) for r in b.rows)
                           for j in range(len(b.columns))]
                cls = lambda j, numeric=numeric: ' class="num"' if numeric[j] else ""  # noqa: E731
                h.append(f'<section id="{anchor}"><h2>{e(b.title)}</h2><table><thead><tr>'
                         + "".join(f"<th{cls(j)}>{e(c)}</th>" for j, c in enumerate(b.columns)) + "</tr></thead><tbody>"
                         + "".join("<tr>" + "".join(f"<td{cls(j)}>{e(format_value(v))}</td>" for j, v in enumerate(r)) + "</tr>"
                                   for r in b.rows) + "</tbody></table></section>")
                md += [f"## {b.title}", "", markdown_table(b.columns, b.rows, numeric), ""]
            elif b.kind == "grid":
                name = f"grid-{_slug(b.title, n)}.png"
                save_image(b.image, self.out_dir / name)
                self.files.append(self.out_dir / name)
                assert b.image is not None
                h.append(f'<section id="{anchor}"><h2>{e(b.title)}</h2><figure><img class="grid" src="{e(name)}" '
                         f'alt="{e(b.title)}" width="{b.image.width}" height="{b.image.height}" loading="lazy">'
                         f"<figcaption>{e(b.note)}</figcaption></figure></section>")
                md += [f"## {b.title}", "", f"![{b.title}]({name})", "", f"_{b.note}_", ""]
            elif b.kind == "curves":
                h.append(f'<section id="{anchor}"><h2>{e(b.title)}</h2><figure><div class="charts">'
                         + "".join(svg for _, svg in b.svgs) + "</div>"
                         + (f"<figcaption>{e(b.note)}</figcaption>" if b.note else "")
                         + ("<p>(no data)</p>" if not b.svgs else "") + "</figure></section>")
                md += [f"## {b.title}", ""]
                for k, (sname, svg) in enumerate(b.svgs):
                    fname = f"curves-{_slug(b.title, n)}" + (f"-{k + 1}" if len(b.svgs) > 1 else "") + ".svg"
                    atomic_write_text(self.out_dir / fname, '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n")
                    self.files.append(self.out_dir / fname)
                    md += [f"![{b.title}{' — ' + sname if sname else ''}]({fname})", ""]
                if b.note:
                    md += [f"_{b.note}_", ""]
                if not b.svgs:
                    md += ["(no data)", ""]
        h += ["</body>", "</html>", ""]
        md_path, html_path = self.out_dir / "report.md", self.out_dir / "report.html"
        atomic_write_text(md_path, "\n".join(md).rstrip() + "\n")
        atomic_write_text(html_path, "\n".join(h))
        self.files += [md_path, html_path]
        return html_path


__all__ = ["Report", "grid_image", "read_curves", "moving_average", "nice_ticks", "format_value", "markdown_to_html",
           "markdown_table",
           "GRID_PAD", "GRID_HEADER"]
