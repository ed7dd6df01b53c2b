"""Position orderings over a token region (000 §4.2.4.2 item 3): raster, random, the spiral that goes from the
region's border (next to known tokens) to its inside, and the 2-D Halton order of the parallel ``halton``
sampler (a low-discrepancy sequence: each prefix is spread evenly over the region, Halton-MaskGIT)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["raster_order", "random_order", "spiral_order", "ring_index", "halton_grid_order", "halton_order", "ORDERINGS"]


def ring_index(region: Tensor) -> Tensor:
    """For a boolean ``h×w`` region: 0 for tokens outside it, ``k`` for tokens whose chessboard distance to
    the nearest known (outside) token is ``k``. The grid's edge is not a known token (padding counts as
    region). A region covering the whole grid has no known token: every token gets ring 1."""
    r = region.bool()
    if not bool(r.any()):
        return torch.zeros_like(r, dtype=torch.long)
    if bool(r.all()):
        return r.long()
    ring = torch.zeros(r.shape, dtype=torch.long, device=r.device)
    cur = r.float()[None, None]
    k = 0
    while bool(cur.any()):
        k += 1
        # erosion with a 3×3 square, padding counted as region: a token survives if its 8 neighbours are in it
        eroded = -F.max_pool2d(F.pad(-cur, (1, 1, 1, 1), value=-1.0), 3, 1)
        ring[(cur[0, 0] > 0) & (eroded[0, 0] == 0)] = k
        cur = eroded
    return ring


def raster_order(region: Tensor) -> list[int]:
    """Flat indices of the region in row-major order (the official script's default)."""
    return region.flatten().nonzero()[:, 0].tolist()


def random_order(region: Tensor, generator: torch.Generator | None = None) -> list[int]:
    idx = region.flatten().nonzero()[:, 0]
    return idx[torch.randperm(len(idx), generator=generator)].tolist()


def spiral_rings(region: Tensor) -> list[list[int]]:
    """The region's rings, border first; inside a ring tokens go round the region's centre by angle."""
    ring = ring_index(region)
    h, w = region.shape
    ys, xs = torch.nonzero(region, as_tuple=True)
    if len(ys) == 0:
        return []
    cy, cx = float(ys.float().mean()), float(xs.float().mean())
    rings = []
    for k in range(1, int(ring.max()) + 1):
        yy, xx = torch.nonzero(ring == k, as_tuple=True)
        angles = [math.atan2(float(y) - cy, float(x) - cx) for y, x in zip(yy, xx)]
        order = sorted(range(len(angles)), key=lambda i: (angles[i], int(yy[i]), int(xx[i])))
        rings.append([int(yy[i]) * w + int(xx[i]) for i in order])
    return rings


def spiral_order(region: Tensor) -> list[int]:
    """Border → inside (000 §4.2.4.2, "spiral ordering"): ring by ring, each ring walked by angle."""
    return [i for r in spiral_rings(region) for i in r]


def _radical_inverse(i: int, base: int) -> float:
    """The ``i``-th van der Corput point in ``base``: the digits of ``i`` mirrored about the radix point."""
    f, r = 1.0, 0.0
    while i > 0:
        f /= base
        r += f * (i % base)
        i //= base
    return r


@lru_cache(maxsize=32)
def halton_grid_order(h: int, w: int) -> tuple[int, ...]:
    """Every flat position of an ``h×w`` grid once, in the order the 2-D Halton sequence (bases 2 and 3: rows,
    columns) first lands in each cell, starting from point 0 = cell (0, 0). The sequence is dense, so every
    cell is reached; the cap (64 points per cell) is a guard only: cells not reached by then follow in raster
    order."""
    seen: dict[int, None] = {}
    for i in range(64 * h * w):
        r = min(h - 1, int(_radical_inverse(i, 2) * h))
        c = min(w - 1, int(_radical_inverse(i, 3) * w))
        seen.setdefault(r * w + c, None)
        if len(seen) == h * w:
            break
    return tuple(seen) + tuple(k for k in range(h * w) if k not in seen)


def halton_order(region: Tensor) -> list[int]:
    """Flat indices of the region in the 2-D Halton order of its grid (:func:`halton_grid_order`)."""
    h, w = region.shape
    flat = region.flatten().tolist()
    return [k for k in halton_grid_order(int(h), int(w)) if flat[k]]


ORDERINGS = {"raster": raster_order, "random": random_order, "spiral": spiral_order, "halton": halton_order}
