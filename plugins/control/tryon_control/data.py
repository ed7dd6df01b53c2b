"""Data of the control plugin: the 2-D toy of 003 §3.4.1, scikit-learn digits and image folders (through the core).

Specs read by :func:`load_data` (``tryon train avae-reconstruct --data SPEC``):

* ``toy`` (``toy:n=50000``) — 003 §3.4.1: ``z1, z2, ε1, ε2 ∼ N(0, 1)``, ``x = (3 z1 + 0.1 ε1, cos(3 z1 + tanh(3 z2)) +
  0.1 ε2)``. The thesis writes one ε for both coordinates; independent noise is the natural reading (the extract
  notes the ambiguity). ``tanh(3 z2)`` sits near ±1, so the points lie on two branches ``cos(x1 ± 1)``;
* ``digits`` (``digits:split=train``) — scikit-learn's 1797 handwritten digits (8×8, 16 grey levels, offline),
  bilinearly upsampled to ``size``; ``split`` ``train`` / ``test`` is a fixed 80/20 split (seeded permutation);
* a folder — every image under it, through the core's :class:`tryon.data.ImageFolderDataset` (resized and
  centre-cropped to ``size``), grey (mean of RGB) when ``channels=1``.

Images are ``C×H×W`` float tensors in [−1, 1]; points are ``D`` float tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from tryon.data import DigitsDataset, ImageFolderDataset, data_shape, parse_data_spec
from tryon.errors import DatasetError

#: the fixed split of the digits (fraction kept for training)
DIGITS_TRAIN_FRACTION = 0.8


def toy_points(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` points of the 2-D toy of 003 §3.4.1 (two branches ``x2 ≈ cos(x1 ± 1)``), float32 ``n×2``."""
    g = torch.Generator().manual_seed(int(seed))
    z1, z2, e1, e2 = torch.randn(4, int(n), generator=g)
    return torch.stack([3 * z1 + 0.1 * e1, torch.cos(3 * z1 + torch.tanh(3 * z2)) + 0.1 * e2], 1)


class ToyData(torch.utils.data.Dataset):
    """The 2-D toy as a dataset of ``n`` fixed points (``points``: ``n×2``); :meth:`sample` draws fresh ones."""

    kind = "points"
    #: per-coordinate scale of the toy (x1 has std 3): the MLPs work on x / scale
    scale = (3.0, 1.0)

    def __init__(self, n: int = 50_000, seed: int = 0):
        self.points = toy_points(n, seed)
        self.seed = int(seed)
        self.name = "toy"

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.points[i]

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        return toy_points(n, seed=10_000 + int(seed))


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``B×C×h×w`` → ``B×C×H×W`` (bilinear, antialiased when shrinking), clamped to [−1, 1]."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=shrink).clamp(-1, 1)


class DigitsImages(DigitsDataset):
    """scikit-learn digits (the core's :class:`tryon.data.DigitsDataset`) as ``C×H×W`` tensors in [−1, 1], 8×8 resized
    to ``size``; ``labels`` 0–9; ``split``: ``all``, ``train`` or ``test`` (a fixed 80/20 split drawn with ``seed``)."""

    def __init__(self, size: tuple[int, int] = (16, 16), channels: int = 1, split: str = "all", seed: int = 0):
        super().__init__(size=size, channels=channels, split=split, seed=seed, train_fraction=DIGITS_TRAIN_FRACTION)


class FolderImages(ImageFolderDataset):
    """An image folder through the core's :class:`tryon.data.ImageFolderDataset` at ``size`` (``channels=1``: grey)."""

    kind = "images"

    def __init__(self, root: str | Path, size: tuple[int, int] = (32, 32), channels: int = 3):
        super().__init__(root, size=(int(size[0]), int(size[1])), channels=channels)
        self.name = str(root)


def load_data(spec: Any, *, size: tuple[int, int] | None = None, channels: int | None = None, seed: int = 0) -> Any:
    """The dataset named by ``spec`` (module doc): ``toy``, ``digits`` or an image folder; a dataset passes through."""
    if not isinstance(spec, (str, Path)):
        return spec
    name, opts = parse_data_spec(str(spec))
    if name == "toy" and not Path(str(spec)).is_dir():
        return ToyData(int(opts.get("n", 50_000)), seed)
    if name == "digits" and not Path(str(spec)).is_dir():
        return DigitsImages(size or (16, 16), channels or 1, opts.get("split", "all"), int(opts.get("seed", seed)))
    p = Path(str(spec))
    if p.is_dir():
        return FolderImages(p, size or (32, 32), channels or 3)
    raise DatasetError("data", "toy, digits[:split=train|test] or an image folder", repr(str(spec)))


__all__ = ["DIGITS_TRAIN_FRACTION", "DigitsImages", "FolderImages", "ToyData", "data_shape", "load_data", "resize_images",
           "toy_points"]
