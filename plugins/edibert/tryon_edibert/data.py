"""Built-in offline data for tests and the demo: procedural "scenes" (a flat background with one to three
ellipses and rectangles, all in colours of a fixed 12-colour palette, so that a tiny codebook can represent
them), written as PNG files and read back as an image folder (``tryon.data``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["scene", "write_scenes"]


#: the scenes' colours (RGB): distinct hues and greys, so edits and their errors are easy to see
PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                    [70, 240, 240], [240, 50, 230], [250, 190, 212], [0, 128, 128], [170, 110, 40], [40, 40, 40]],
                   dtype=np.float32)


def scene(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """One ``H×W×3`` uint8 scene: a flat palette background and 1-3 palette shapes of another colour."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    colours = rng.permutation(len(PALETTE))
    img = np.empty((h, w, 3), np.float32)
    img[:] = PALETTE[colours[0]]
    for k in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.1, 0.3) * h, rng.uniform(0.1, 0.3) * w
        if rng.random() < 0.5:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        else:
            inside = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        img[inside] = PALETTE[colours[1 + k]]
    return img.astype(np.uint8)


def write_scenes(out: str | os.PathLike, n: int, size: tuple[int, int] = (32, 32), seed: int = 0) -> Path:
    """Write ``n`` scenes as ``out/scene_00000.png`` …; returns ``out``."""
    from PIL import Image

    from tryon.data.terms import PROCEDURAL, DataTerms, write_terms_file
    from tryon.fs import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(int(n)):
        img = Image.fromarray(scene(rng, size))
        atomic_write_bytes(out / f"scene_{i:05d}.png", lambda f, im=img: im.save(f, format="PNG"))
    write_terms_file(out, DataTerms("procedural scenes drawn by tryon_edibert", PROCEDURAL.licence, True))
    return out
