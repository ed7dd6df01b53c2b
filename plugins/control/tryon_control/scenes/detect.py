"""Boxes out of a decomposition (003 §5.6): the **tight axis-aligned box around each glimpse mask**, scored by
``w_pres``, with duplicates at cell borders removed by an IoU threshold.

A kept proposal is a detection when ``w_pres ≥ min_presence`` (0.5 for the boxes a user gets and for the count; a
low threshold, 0.05, for AP, which ranks detections by score) and its projected alpha exceeds ``mask_threshold`` on
at least ``min_pixels`` pixels; its box is the tight box of those pixels (x0, y0, x1, y1 in pixels, x1 / y1
exclusive). Detections are then suppressed greedily by score at IoU > :data:`DUPLICATE_IOU` (003 §5.6 removes
duplicates "by an IoU threshold" whose value is not given; 0.5 here).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .metrics import box_iou

DUPLICATE_IOU = 0.5


@dataclass
class Detections:
    """One image's objects: ``boxes`` ``n×4`` tight (pixels), ``scores`` ``n`` (``w_pres``), ``kept`` ``n`` (the row of
    each object among the forward pass's kept boxes, ``SceneOutput.index``), sorted by decreasing score."""

    boxes: Tensor
    scores: Tensor
    kept: Tensor

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def mask_box(mask: Tensor) -> Tensor | None:
    """Tight box ``(x0, y0, x1, y1)`` of a boolean ``H×W`` mask (``None`` when empty)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        return None
    return torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()


def suppress_duplicates(boxes: Tensor, scores: Tensor, iou: float = DUPLICATE_IOU) -> Tensor:
    """Indices kept by greedy non-maximum suppression (decreasing score; a box overlapping a kept one at IoU > iou is
    dropped)."""
    order = torch.argsort(scores, descending=True)
    keep: list[int] = []
    for i in order.tolist():
        if all(float(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0]) <= iou for j in keep):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


@torch.no_grad()
def detections(out: object, min_presence: float = 0.5, mask_threshold: float = 0.5, min_pixels: int = 3,
               iou: float = DUPLICATE_IOU) -> list[Detections]:
    """Per image of a :class:`~.model.SceneOutput`, its :class:`Detections` (module doc)."""
    b = out.w_pres.shape[0]
    w = out.w_pres[out.index, out.slot]
    masks = out.alpha_windows[:, 0] > mask_threshold
    size = out.recon.shape[-1]
    per_image: list[Detections] = []
    for img in range(b):
        rows, boxes, scores = [], [], []
        for n in torch.nonzero(out.index == img).flatten().tolist():
            if float(w[n]) < min_presence or int(masks[n].sum()) < min_pixels:
                continue
            box = mask_box(masks[n])
            if box is not None:
                box = (box + out.window_origin[n].repeat(2).float()).clamp(0, size)
                rows.append(n)
                boxes.append(box)
                scores.append(float(w[n]))
        if not rows:
            per_image.append(Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long)))
            continue
        bx, sc, rw = torch.stack(boxes), torch.tensor(scores), torch.tensor(rows)
        keep = suppress_duplicates(bx, sc, iou)
        per_image.append(Detections(bx[keep], sc[keep], rw[keep]))
    return per_image


__all__ = ["DUPLICATE_IOU", "Detections", "detections", "mask_box", "suppress_duplicates"]
