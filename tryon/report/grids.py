"""Image grids as one PNG-ready PIL image: rows of images (tensors, arrays or PIL images) under column titles.

Drawn with Pillow's bundled font; the layout constants are public so callers and tests can predict the size.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import InputError

GRID_PAD = 4  #: pixels between cells and around the grid
GRID_HEADER = 22  #: height of the column-title strip
GRID_FONT_SIZE = 13


def _to_rgb_array(x: Any, where: str) -> np.ndarray:
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        from ..io import to_uint8

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



__all__ = ["GRID_FONT_SIZE", "GRID_HEADER", "GRID_PAD", "grid_image"]
