"""Procedural dSprites-like images (003 §4.4, seeds-control R7): one white shape on black, binary, with known factors.

The real dSprites (737 280 binary 64×64 images: 3 shapes × 6 scales × 40 orientations × 32 × 32 positions) is not
available offline; this draws the same kind of image from its factors:

* ``shape`` — ``"square"``, ``"ellipse"`` or ``"heart"`` (:data:`SHAPES`), each inside the unit disc of its own frame;
* ``x``, ``y`` — the position in [0, 1] (0: left / top); the centre lies on ``[m, size − m]`` pixels with the margin
  ``m = RADIUS·size + ½`` (:func:`sprite_centre`), so a sprite of scale 1 never leaves the image at any angle;
* ``scale`` — the radius as a fraction of the largest (dSprites: 6 values on [0.5, 1]);
* ``angle`` — the rotation in radians (dSprites: 40 values on [0, 2π)).

A pixel is white when its centre falls inside the shape (no anti-aliasing, as in dSprites). Images are ``1×H×W``
float tensors in [−1, 1] (−1 black, 1 white). :func:`render_sprite` draws one sprite (the multi-sprite scenes may
reuse it), :func:`sprite_masks` a batch, :class:`SpriteDataset` a fixed random sample of the factor grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from tryon.errors import InputError

SHAPES = ("square", "ellipse", "heart")
#: the radius of a sprite of scale 1, as a fraction of the image size
RADIUS = 0.16
#: square: half side (its corners at 0.7·√2 ≈ 0.99 stay in the unit disc); ellipse: semi-axes
SQUARE_HALF_SIDE = 0.7
ELLIPSE_AXES = (1.0, 0.5)
#: the heart ``(X² + Y² − 1)³ ≤ X² Y³`` spans X ∈ [−1.14, 1.14], Y ∈ [−1, 1.24]; around (0, 0.2) it fits a disc of
#: radius 1.28, shrunk by 1.3 into the unit disc
HEART_SHIFT, HEART_ZOOM = 0.2, 1.3
SCALES = 6
ANGLES = 40


def _check_size(size: int) -> int:
    if int(size) < 8:
        raise InputError("sprite image size", "at least 8 pixels", str(size))
    return int(size)


def shape_index(shape: str | int) -> int:
    """The index of ``shape`` in :data:`SHAPES` (an int passes through, checked)."""
    if isinstance(shape, str) and shape in SHAPES:
        return SHAPES.index(shape)
    if isinstance(shape, int) and 0 <= shape < len(SHAPES):
        return shape
    raise InputError("sprite shape", f"one of {', '.join(SHAPES)}", repr(shape))


def sprite_centre(position: Tensor | float, size: int) -> Tensor:
    """The centre, in pixels (pixel ``i`` covers ``[i, i + 1)``), of a sprite at ``position`` ∈ [0, 1]."""
    margin = RADIUS * size + 0.5
    return margin + torch.as_tensor(position, dtype=torch.float32) * (size - 2 * margin)


def position_to_barycentre(position: Tensor | float, size: int) -> Tensor:
    """A position in [0, 1] in the units of :func:`tryon_control.experiments.betavae.barycentre` (``centre/size − ½``)."""
    return sprite_centre(position, size) / size - 0.5


def _inside(kind: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """Whether the point ``(u, v)`` of the sprite's unit frame (v down) is inside shape ``kind`` (broadcast)."""
    square = (u.abs() <= SQUARE_HALF_SIDE) & (v.abs() <= SQUARE_HALF_SIDE)
    ellipse = (u / ELLIPSE_AXES[0]) ** 2 + (v / ELLIPSE_AXES[1]) ** 2 <= 1.0
    hx, hy = u * HEART_ZOOM, -v * HEART_ZOOM + HEART_SHIFT  # the heart's frame has Y up
    heart = (hx**2 + hy**2 - 1.0) ** 3 - hx**2 * hy**3 <= 0.0
    return torch.where(kind == 0, square, torch.where(kind == 1, ellipse, heart))


def sprite_masks(shape: Tensor, x: Tensor, y: Tensor, scale: Tensor, angle: Tensor, size: int = 32,
                 chunk: int = 2048) -> Tensor:
    """``N`` binary sprites (``N×H×W`` bool) from ``N`` factors: shape indices (long), positions ``x``, ``y`` in
    [0, 1], ``scale`` in (0, 1], ``angle`` in radians (module doc)."""
    size = _check_size(size)
    factors = [torch.as_tensor(f).reshape(-1) for f in (shape, x, y, scale, angle)]
    n = factors[0].numel()
    if any(f.numel() != n for f in factors):
        raise InputError("sprite factors", "shape, x, y, scale and angle of the same length", str([f.numel() for f in factors]))
    kind = factors[0].long()
    if n and (kind.min() < 0 or kind.max() >= len(SHAPES)):
        raise InputError("sprite shape index", f"0..{len(SHAPES) - 1}", str(sorted(set(kind.tolist()))))
    scale = factors[3].float()
    if n and (scale.min() <= 0 or scale.max() > 1):
        raise InputError("sprite scale", "values in (0, 1]", f"[{float(scale.min()):g}, {float(scale.max()):g}]")
    pix = torch.arange(size, dtype=torch.float32) + 0.5
    out = torch.empty(n, size, size, dtype=torch.bool)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        cx = sprite_centre(factors[1][a:b].float(), size)[:, None, None]
        cy = sprite_centre(factors[2][a:b].float(), size)[:, None, None]
        r = (RADIUS * size * scale[a:b])[:, None, None]
        dx, dy = (pix[None, None, :] - cx) / r, (pix[None, :, None] - cy) / r
        cos, sin = torch.cos(factors[4][a:b].float())[:, None, None], torch.sin(factors[4][a:b].float())[:, None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # rotate the pixel into the sprite's frame
        out[a:b] = _inside(kind[a:b, None, None], u, v)
    return out


def render_sprite(shape: str | int, x: float, y: float, scale: float = 1.0, angle: float = 0.0, size: int = 32) -> Tensor:
    """One sprite as a ``1×size×size`` float image in [−1, 1] (module doc for the factors)."""
    mask = sprite_masks(torch.tensor([shape_index(shape)]), torch.tensor([float(x)]), torch.tensor([float(y)]),
                        torch.tensor([float(scale)]), torch.tensor([float(angle)]), size)
    return mask.float().mul(2).sub(1)


def factor_grid(positions: int = 16, scales: int = SCALES, angles: int = ANGLES) -> dict[str, Tensor]:
    """The values each factor takes (dSprites-like): positions on [0, 1], scales on [0.5, 1], angles on [0, 2π)."""
    if min(int(positions), int(scales), int(angles)) < 1:
        raise InputError("sprite factor grid", "at least one value per factor", f"{positions}, {scales}, {angles}")
    return {"x": torch.linspace(0, 1, int(positions)) if positions > 1 else torch.tensor([0.5]),
            "scale": torch.linspace(0.5, 1, int(scales)) if scales > 1 else torch.tensor([1.0]),
            "angle": torch.arange(int(angles), dtype=torch.float32) * (2 * math.pi / int(angles))}


class SpriteDataset(torch.utils.data.Dataset):
    """``n`` sprites drawn uniformly from the factor grid (each factor independently), rendered once.

    ``masks``: ``n×1×H×W`` uint8 (0/1); ``factors``: ``{"shape" (long), "x", "y", "scale", "angle"}``, each of
    length ``n``; an item is the ``1×H×W`` float image in [−1, 1]."""

    kind = "images"
    terms = {"name": "procedural sprites drawn by tryon", "licence": "Apache-2.0 (generated by the project's own code)",
             "commercial_use": True, "source": "LICENSE"}

    def __init__(self, n: int = 20_000, size: int = 32, shapes: Sequence[str] = SHAPES, positions: int = 16,
                 scales: int = SCALES, angles: int = ANGLES, seed: int = 0):
        if int(n) < 1:
            raise InputError("sprite dataset n", "at least 1 image", str(n))
        self.size = _check_size(size)
        self.shapes = tuple(str(s) for s in shapes)
        kinds = torch.tensor([shape_index(s) for s in self.shapes])
        grid = factor_grid(positions, scales, angles)
        g = torch.Generator().manual_seed(int(seed))

        def pick(values: Tensor) -> Tensor:
            return values[torch.randint(len(values), (int(n),), generator=g)]

        self.factors = {"shape": pick(kinds), "x": pick(grid["x"]), "y": pick(grid["x"]), "scale": pick(grid["scale"]),
                        "angle": pick(grid["angle"])}
        self.masks = sprite_masks(*self.factors.values(), size=self.size).to(torch.uint8).unsqueeze(1)
        self.name = f"sprites {self.size}x{self.size} ({'+'.join(self.shapes)})"
        self.settings = {"n": int(n), "size": self.size, "shapes": list(self.shapes), "positions": int(positions),
                         "scales": int(scales), "angles": int(angles), "seed": int(seed)}

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def __getitem__(self, i: int) -> Tensor:
        return self.masks[i].float().mul(2).sub(1)

    def images(self, index: Any = slice(None)) -> Tensor:
        """The images ``index`` selects, ``B×1×H×W`` in [−1, 1]."""
        return self.masks[index].float().mul(2).sub(1)


def load_sprites(spec: Any = "sprites", size: int = 32, seed: int = 0) -> SpriteDataset:
    """A :class:`SpriteDataset` from a spec ``sprites[:n=20000,shapes=ellipse+square,positions=16,angles=40]``
    (a dataset passes through)."""
    if isinstance(spec, SpriteDataset):
        return spec
    from tryon.data import parse_data_spec

    name, opts = parse_data_spec(str(spec))
    known = {"n", "shapes", "positions", "scales", "angles", "seed"}
    if name != "sprites" or set(opts) - known:
        raise InputError("data", "sprites[:n=N,shapes=square+ellipse+heart,positions=P,scales=S,angles=A,seed=K]", repr(str(spec)))
    try:
        ints = {k: int(v) for k, v in opts.items() if k != "shapes"}
    except ValueError:
        raise InputError("data", "whole numbers for n, positions, scales, angles and seed", repr(str(spec))) from None
    shapes = tuple(opts["shapes"].split("+")) if "shapes" in opts else SHAPES
    return SpriteDataset(ints.get("n", 20_000), size, shapes, ints.get("positions", 16), ints.get("scales", SCALES),
                         ints.get("angles", ANGLES), ints.get("seed", seed))


__all__ = ["ANGLES", "RADIUS", "SCALES", "SHAPES", "SpriteDataset", "factor_grid", "load_sprites", "position_to_barycentre",
           "render_sprite", "shape_index", "sprite_centre", "sprite_masks"]
