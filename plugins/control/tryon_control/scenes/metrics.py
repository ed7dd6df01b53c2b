"""Detection metrics of 003 Table 5.1 (§5.7): AP at IoU 0.5, AP averaged over IoU ∈ {0.5, 0.55, …, 0.95}, and the
object-count error rate (% of images whose number of predicted boxes ≠ their number of objects).

AP is COCO-style for one class: detections of all images ranked by score; at each IoU threshold each detection is
matched greedily (in score order) to the unmatched ground-truth box of its image with the highest IoU ≥ threshold;
precision is made monotone (the running maximum from the right) and read at the 101 recall points 0, 0.01, …, 1
(0 past the last recall reached). Written here because torchmetrics' ``MeanAveragePrecision`` needs pycocotools
(or faster-coco-eval), which is not installed in this environment — and 40 lines state the protocol exactly.
Boxes are ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

#: 003 Table 5.1: IoU thresholds 0.5 : 0.05 : 0.95
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU matrix ``n×m`` of boxes ``a`` (``n×4``) and ``b`` (``m×4``)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp_min(1e-9)


def average_precision(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], true_boxes: Sequence[Tensor],
                      iou_threshold: float = 0.5) -> float:
    """COCO-style 101-point AP at one IoU threshold (module doc); one entry per image in each sequence."""
    n_true = sum(int(t.shape[0]) for t in true_boxes)
    if n_true == 0:
        return float("nan")
    ranked = sorted(((float(s), i, j) for i, sc in enumerate(pred_scores) for j, s in enumerate(sc.tolist())),
                    key=lambda r: -r[0])
    taken = [torch.zeros(int(t.shape[0]), dtype=torch.bool) for t in true_boxes]
    ious = [box_iou(p.float().reshape(-1, 4), t.float().reshape(-1, 4)) for p, t in zip(pred_boxes, true_boxes)]
    hits = []
    for _, i, j in ranked:
        row = ious[i][j].clone() if ious[i].shape[1] else torch.zeros(0)
        if row.numel():
            row[taken[i]] = -1.0
            best = int(torch.argmax(row))
            if float(row[best]) >= iou_threshold:
                taken[i][best] = True
                hits.append(1.0)
                continue
        hits.append(0.0)
    if not hits:
        return 0.0
    tp = torch.tensor(hits).cumsum(0)
    precision = tp / torch.arange(1, len(hits) + 1)
    recall = tp / n_true
    precision = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
    points = torch.linspace(0, 1, 101)
    at = torch.searchsorted(recall, points, right=False)
    sampled = torch.where(at < len(hits), precision[at.clamp(max=len(hits) - 1)], torch.zeros(()))
    return float(sampled.mean())


def mean_average_precision(pred_boxes: Sequence[Tensor], pred_scores: Sequence[Tensor], true_boxes: Sequence[Tensor],
                           thresholds: Sequence[float] = IOU_THRESHOLDS) -> float:
    """AP averaged over IoU thresholds (default 0.5 : 0.05 : 0.95, 003 Table 5.1)."""
    return sum(average_precision(pred_boxes, pred_scores, true_boxes, t) for t in thresholds) / len(thresholds)


def count_error_rate(predicted: Sequence[int], true: Sequence[int]) -> float:
    """Fraction of images whose number of predicted boxes differs from their number of objects (003 Table 5.1)."""
    if len(predicted) != len(true) or not true:
        raise ValueError("count_error_rate: one predicted and one true count per image, at least one image")
    return sum(int(p) != int(t) for p, t in zip(predicted, true)) / len(true)


__all__ = ["IOU_THRESHOLDS", "average_precision", "box_iou", "count_error_rate", "mean_average_precision"]
