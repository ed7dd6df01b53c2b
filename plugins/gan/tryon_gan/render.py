"""Scatter plots and heat-maps as RGB arrays for reports.

Drawn with Pillow because the SDK does not depend on matplotlib (not installed in the project's environment); the
plots are simple enough: points on a square canvas with fixed bounds, and a value grid through a 5-colour ramp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

# a perceptually ordered ramp (dark blue → teal → green → yellow), close to viridis
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def scatter(layers: Sequence[tuple[Any, tuple[int, int, int]]], bounds: tuple[float, float, float, float],
            size: int = 240, radius: int = 1) -> np.ndarray:
    """Points of each ``(N×2 array, RGB colour)`` layer, drawn in order, on a white ``size``² canvas covering
    ``bounds = (xmin, xmax, ymin, ymax)``."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = bounds
    draw.rectangle([0, 0, size - 1, size - 1], outline=(200, 200, 200))
    for pts, color in layers:
        p = _np(pts)[:, :2]
        u = (p[:, 0] - x0) / (x1 - x0) * (size - 1)
        v = (1.0 - (p[:, 1] - y0) / (y1 - y0)) * (size - 1)
        for a, b in zip(u, v):
            if 0 <= a < size and 0 <= b < size:
                draw.ellipse([a - radius, b - radius, a + radius, b + radius], fill=color)
    return np.asarray(img)


def heatmap(values: Any, size: int = 240, log: bool = True) -> np.ndarray:
    """A 2-D value grid (row 0 = top) as an RGB image through the ramp (log-scaled by default)."""
    v = _np(values)
    if log:
        v = np.log10(np.maximum(v, 1e-12))
    lo, hi = np.percentile(v, 1), np.percentile(v, 99)
    t = np.clip((v - lo) / max(hi - lo, 1e-12), 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(t.astype(int), len(_RAMP) - 2)
    f = (t - i)[..., None]
    rgb = (_RAMP[i] * (1 - f) + _RAMP[i + 1] * f).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.NEAREST))


__all__ = ["scatter", "heatmap"]
