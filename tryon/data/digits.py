"""scikit-learn's handwritten digits, the MNIST stand-in of the seeds' experiments on a CPU (000 Table 3.1, 003
Table 3.1, 004 §4): 1797 images of 8×8 pixels with 17 grey levels, bundled with scikit-learn (nothing is downloaded).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tryon.errors import InputError

#: the share of the digits in the ``train`` split (the rest is ``test``), drawn once per ``seed``
DIGITS_TRAIN_FRACTION = 0.8
SPLITS = ("all", "train", "test")


class DigitsDataset:
    """The digits as ``channels×H×W`` float32 tensors in [−1, 1] and ``labels`` (int64 tensor, 0–9).

    Args:
        size: ``(H, W)`` the 8×8 images are resized to (bilinear, antialiased when shrinking); ``None``: 8×8.
        channels: 1 (grey) or 3 (the grey repeated).
        split: ``all``, ``train`` or ``test`` — a fixed split of :data:`DIGITS_TRAIN_FRACTION` drawn with ``seed``.
        seed: the split's permutation.
    """

    kind = "images"

    def __init__(self, size: Sequence[int] | None = None, channels: int = 1, split: str = "all", seed: int = 0,
                 train_fraction: float = DIGITS_TRAIN_FRACTION) -> None:
        import torch
        import torch.nn.functional as F

        if split not in SPLITS:
            raise InputError("digits split", "all, train or test", repr(split))
        if channels not in (1, 3):
            raise InputError("channels", "1 or 3", repr(channels))
        try:
            from sklearn.datasets import load_digits
        except ImportError:  # pragma: no cover - scikit-learn comes with the plugins that read digits
            raise InputError("digits", "scikit-learn installed (pip install scikit-learn)", "no module sklearn") from None
        d = load_digits()
        x = d.images.astype(np.float32) / 16.0 * 2.0 - 1.0
        y = d.target.astype(np.int64)
        if split != "all":
            order = np.random.default_rng(seed).permutation(len(x))
            cut = int(float(train_fraction) * len(x))
            keep = order[:cut] if split == "train" else order[cut:]
            x, y = x[keep], y[keep]
        images = torch.from_numpy(x)[:, None]
        if size is not None and tuple(size) != (8, 8):
            h, w = int(size[0]), int(size[1])
            images = F.interpolate(images, size=(h, w), mode="bilinear", align_corners=False,
                                   antialias=h < 8 or w < 8).clamp(-1, 1)
        self.images = images.repeat(1, 3, 1, 1) if channels == 3 else images
        self.labels = torch.from_numpy(y)
        self.split, self.seed = split, int(seed)
        self.name = "digits" if split == "all" else f"digits:split={split}"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every item."""
        return tuple(int(v) for v in self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> Any:
        return self.images[i]

    def sample(self, n: int, seed: int = 0) -> Any:
        """``n`` items drawn with replacement (a generator seeded with ``seed``)."""
        import torch

        g = torch.Generator().manual_seed(int(seed))
        return self.images[torch.randint(len(self), (int(n),), generator=g)]


__all__ = ["DIGITS_TRAIN_FRACTION", "DigitsDataset"]
