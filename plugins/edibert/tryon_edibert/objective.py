"""EdiBERT's training objective (000 eq. 4.2.6, App. D.1.1).

A random 2-D rectangle of the token grid is drawn per image, its height and width uniform in
``[0.2, 0.5]`` of the grid's (the *intended* rectangle: the official code fills from the corner to the grid's
bottom-right edge, anchors-editing §1.1). Inside it each token is replaced by a uniformly random code with
probability ``p_rand`` (0.9) and kept otherwise; the cross-entropy is taken on the rectangle only. No [MASK]
token: the model must find and fix the odd tokens itself, which is what every editing task asks of it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["perturb", "edibert_loss", "random_rectangles"]


def random_rectangles(batch: int, grid: tuple[int, int], frac: tuple[float, float] = (0.2, 0.5), *,
                      generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    """Boolean ``B×h×w``: one rectangle per image, sides uniform in ``[frac·side]`` (at least one token)."""
    h, w = grid
    out = torch.zeros(batch, h, w, dtype=torch.bool)
    lo_h, hi_h = max(1, math.ceil(frac[0] * h)), max(1, math.floor(frac[1] * h))
    lo_w, hi_w = max(1, math.ceil(frac[0] * w)), max(1, math.floor(frac[1] * w))
    for i in range(batch):
        rh = int(torch.randint(lo_h, max(lo_h, hi_h) + 1, (1,), generator=generator))
        rw = int(torch.randint(lo_w, max(lo_w, hi_w) + 1, (1,), generator=generator))
        top = int(torch.randint(0, h - rh + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - rw + 1, (1,), generator=generator))
        out[i, top : top + rh, left : left + rw] = True
    return out.to(device)


def perturb(tokens: Tensor, n_codes: int, p_rand: float = 0.9, frac: tuple[float, float] = (0.2, 0.5), *,
            generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(corrupted tokens, rectangle mask, targets)``; targets are the clean tokens inside the rectangle and
    ``-100`` (ignored) elsewhere."""
    b, h, w = tokens.shape
    rect = random_rectangles(b, (h, w), frac, generator=generator)
    replace = rect & (torch.rand(b, h, w, generator=generator) < p_rand)
    random_codes = torch.randint(0, n_codes, (b, h, w), generator=generator)
    rect, replace, random_codes = rect.to(tokens.device), replace.to(tokens.device), random_codes.to(tokens.device)
    corrupted = torch.where(replace, random_codes, tokens)
    targets = torch.where(rect, tokens, torch.full_like(tokens, -100))
    return corrupted, rect, targets


def edibert_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy on the rectangle tokens only (``targets == -100`` elsewhere)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100)
