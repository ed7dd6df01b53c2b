"""The :class:`Report`: blocks of text, tables, image grids and curves written as ``report.html`` + ``report.md``.

``report.html`` is self-contained apart from the PNG grids next to it (inline CSS, curves as inline SVG, a
table of contents; all user text HTML-escaped); ``report.md`` has the same content for GitHub / terminals,
with grids and curves linked (each curve chart also written as an ``.svg`` file).
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from PIL import Image

from ..errors import InputError
from ..fs import atomic_write_text
from .charts import curve_charts, read_curves
from .grids import grid_image
from .markdown import markdown_table, markdown_to_html
from .values import format_value, is_number, scalar


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
            body.append([scalar(v) for v in r])
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
        svgs, notes = curve_charts(str(title), data, smooth, log_scale, separate, width, height)
        self.blocks.append(_Block("curves", title=str(title), svgs=svgs, note="; ".join(notes)))
        return self

    # ---------------------------------------------------------------- output
    def write(self) -> Path:
        """Write the PNG grids, the curve SVG files, ``report.md`` and ``report.html`` (all atomically);
        returns the path of ``report.html``."""
        from .._version import __version__
        from ..io import save_image

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
                numeric = [all(is_number(r[j]) or r[j] is None for r in b.rows) and any(is_number(r[j]) for r in b.rows)
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


__all__ = ["Report"]
