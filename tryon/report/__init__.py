"""Reports a person would rather look at than read: tables, image grids and loss curves.

``Report(out_dir, title)`` collects blocks and ``write()`` renders ``report.html`` and ``report.md``
(:mod:`.document`). Used by the demo and evaluation commands for qualitative try-on grids (000 Fig. 4.6-4.8,
E.1), metric tables (000 Tables 4.3-4.5, E.1; 004 FID/precision/recall) and loss curves (000 eq. 4.3.4-4.3.10).
The parts: :mod:`.grids` (PNG image grids), :mod:`.charts` (SVG curves), :mod:`.markdown` (safe Markdown,
tables), :mod:`.values` (number formatting). No module imports torch (tensors are converted with
:func:`tryon.io.to_uint8`).
"""

from __future__ import annotations

from .charts import PALETTE, band_chart, moving_average, nice_ticks, read_curves
from .document import Report
from .grids import GRID_FONT_SIZE, GRID_HEADER, GRID_PAD, grid_image
from .markdown import markdown_table, markdown_to_html
from .values import format_value

__all__ = ["Report", "band_chart", "grid_image", "read_curves", "moving_average", "nice_ticks", "format_value", "markdown_to_html",
           "markdown_table", "GRID_PAD", "GRID_HEADER", "GRID_FONT_SIZE", "PALETTE"]
