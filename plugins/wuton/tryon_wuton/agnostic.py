"""The WUTON agnostic person p* (000 §4.3.3.2).

"Our agnostic person representation p* is thus a 3-channel RGB image with a masked area. We compute the
upper-body mask from pose and body parsing information [...]. Precisely, we mask the areas
corresponding to the arms, the upper-body cloth and a bounding box around the neck."

So the mask is the union of

* the parse labels of the arms (``left-arm`` 14, ``right-arm`` 15) and of the upper-body garment
  (``upper-clothes`` 5, and ``dress`` 6 / ``coat`` 7 when present) — canonical VITON-HD v3 labels
  (:mod:`tryon_wuton.data.labels`);
* a box around the neck: the bounding box of the ``neck`` label (10), grown by ``box_margin`` of its size
  on each side, united with — when keypoints are given — a box on the OpenPose neck point whose
  half-width is a quarter of the shoulder distance (``[neck_y - 1.5 hw, neck_y + 0.5 hw]`` vertically).
  The box never covers the ``protect`` labels (hat, hair, sunglasses, face), so the head is kept.

**Categories**. What is masked follows the garment category, after DressCode's loader
(aimagelab/dress-code ``data/dataset.py``: ``parse_mask`` per category folder, arms added for upper body and
dresses, ``parser_mask_fixed`` kept):

* ``upper`` — the rule above (upper garments + arms + neck box); the lower garments are kept;
* ``lower`` — ``pants``, ``skirt`` and the legs (``left-leg`` / ``right-leg``); the upper garment, the arms
  and the neck are kept (no neck box);
* ``dress`` — every garment a dress may replace (upper garments, ``pants``, ``skirt``) + arms + legs + the
  neck box (DressCode masks dress + legs + arms; a person in a top and trousers receiving a dress must lose both).

Shoes, socks, head and hands-as-arms follow the labels above (shoes are kept). ``category`` is one name for the
batch or one per item.

Everything is batched tensor algebra (no Python loop over pixels or over the batch), on any device.
Masks follow the SDK convention: float {0, 1}, 1 = replace.
"""

from __future__ import annotations

from typing import Any

import torch

from .data import labels as L

MASKED_LABELS: tuple[int, ...] = L.UPPER_GARMENT_LABELS + L.ARM_LABELS
PROTECTED_LABELS: tuple[int, ...] = (L.HAT, L.HAIR, L.SUNGLASSES, L.FACE)

#: The garment categories and, per category, the labels masked and whether the neck box is added.
CATEGORIES: tuple[str, ...] = L.CATEGORIES
CATEGORY_LABELS: dict[str, tuple[int, ...]] = {
    "upper": MASKED_LABELS,
    "lower": L.LOWER_GARMENT_LABELS + L.LEG_LABELS,
    "dress": L.UPPER_GARMENT_LABELS + L.LOWER_GARMENT_LABELS + L.ARM_LABELS + L.LEG_LABELS,
}
CATEGORY_NECK_BOX: dict[str, bool] = {"upper": True, "lower": False, "dress": True}
#: DressCode's folder names → our category names.
DRESSCODE_CATEGORY: dict[str, str] = L.DRESSCODE_FOLDERS


def normalise_category(name: str) -> str:
    """``upper`` / ``lower`` / ``dress`` (DressCode's ``upper_body`` / ``lower_body`` / ``dresses`` accepted)."""
    c = DRESSCODE_CATEGORY.get(str(name), str(name))
    if c not in CATEGORIES:
        from tryon.errors import InputError

        raise InputError("category", f"one of {', '.join(CATEGORIES)}", repr(name))
    return c


def _categories(category: Any, B: int) -> list[str]:
    if isinstance(category, str):
        return [normalise_category(category)] * B
    cats = [normalise_category(c) for c in category]
    if len(cats) != B:
        from tryon.errors import InputError

        raise InputError("category", f"one name or one per item ({B})", f"{len(cats)} names")
    return cats


def _as_parse(parse: torch.Tensor) -> torch.Tensor:
    if parse.ndim == 4 and parse.shape[1] == 1:
        parse = parse[:, 0]
    if parse.ndim == 2:
        parse = parse[None]
    if parse.ndim != 3:
        from tryon.errors import InputError

        raise InputError("parse", "label maps B×H×W (or H×W, B×1×H×W)", f"shape {tuple(parse.shape)}")
    if parse.is_floating_point():
        parse = parse.round()
    return parse.long()


def _isin(parse: torch.Tensor, values: tuple[int, ...]) -> torch.Tensor:
    return torch.isin(parse, torch.tensor(values, device=parse.device, dtype=parse.dtype))


def _label_box(region: torch.Tensor, margin: float) -> torch.Tensor:
    """Bounding box (grown by ``margin`` of its size) of each ``B×H×W`` boolean map; empty → empty."""
    B, H, W = region.shape
    rows, cols = region.any(2), region.any(1)  # B×H, B×W
    ys = torch.arange(H, device=region.device)
    xs = torch.arange(W, device=region.device)
    y0 = torch.where(rows, ys, H).amin(1).float()
    y1 = torch.where(rows, ys, -1).amax(1).float()
    x0 = torch.where(cols, xs, W).amin(1).float()
    x1 = torch.where(cols, xs, -1).amax(1).float()
    my, mx = (y1 - y0 + 1) * margin, (x1 - x0 + 1) * margin
    inside_y = (ys[None] >= (y0 - my)[:, None]) & (ys[None] <= (y1 + my)[:, None])  # B×H
    inside_x = (xs[None] >= (x0 - mx)[:, None]) & (xs[None] <= (x1 + mx)[:, None])  # B×W
    has = rows.any(1)
    return inside_y[:, :, None] & inside_x[:, None, :] & has[:, None, None]


def _keypoint_box(keypoints: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Neck box from BODY_25 keypoints (``B×K×3``, x, y in [-1, 1], confidence)."""
    kp = keypoints.float()
    if kp.ndim == 2:
        kp = kp[None]
    px = ((kp[..., 0] + 1) * W - 1) / 2
    py = ((kp[..., 1] + 1) * H - 1) / 2
    conf = kp[..., 2] > 0
    neck_ok = conf[:, 1]
    sh_ok = conf[:, 2] & conf[:, 5]
    dist = torch.sqrt((px[:, 2] - px[:, 5]) ** 2 + (py[:, 2] - py[:, 5]) ** 2)
    hw = torch.where(sh_ok, 0.25 * dist, torch.full_like(dist, 0.06 * W))
    cx, cy = px[:, 1], py[:, 1]
    ys = torch.arange(H, device=kp.device, dtype=torch.float32)
    xs = torch.arange(W, device=kp.device, dtype=torch.float32)
    in_y = (ys[None] >= (cy - 1.5 * hw)[:, None]) & (ys[None] <= (cy + 0.5 * hw)[:, None])
    in_x = (xs[None] >= (cx - hw)[:, None]) & (xs[None] <= (cx + hw)[:, None])
    return in_y[:, :, None] & in_x[:, None, :] & neck_ok[:, None, None]


def neck_box(parse: torch.Tensor, keypoints: torch.Tensor | None = None, box_margin: float = 0.15) -> torch.Tensor:
    """The neck box (``B×H×W`` bool) before removing protected labels."""
    parse = _as_parse(parse)
    box = _label_box(parse == L.NECK, box_margin)
    if keypoints is not None:
        kp = keypoints.to(parse.device)
        if kp.ndim == 2:
            kp = kp[None]
        if kp.shape[0] != parse.shape[0]:
            from tryon.errors import InputError

            raise InputError("keypoints", f"one set per parse map ({parse.shape[0]}×K×3)", f"shape {tuple(keypoints.shape)}")
        box = box | _keypoint_box(kp, parse.shape[1], parse.shape[2])
    return box


def agnostic_mask(
    parse: torch.Tensor,
    keypoints: torch.Tensor | None = None,
    *,
    labels: tuple[int, ...] | None = None,
    protect: tuple[int, ...] = PROTECTED_LABELS,
    box_margin: float = 0.15,
    category: Any = "upper",
) -> torch.Tensor:
    """Mask of the agnostic person → ``B×1×H×W`` float {0, 1} (1 = masked).

    ``parse``: canonical labels ``B×H×W`` (or ``H×W`` / ``B×1×H×W``); ``keypoints``: ``B×25×3``
    BODY_25 normalised to [-1, 1] as :class:`~tryon_wuton.data.TryOnDataset` returns them (rows with
    zero confidence are ignored). ``category``: ``upper`` (default), ``lower`` or ``dress`` for the batch, or
    one per item (module docstring); ``labels`` overrides the category's labels for every item.
    """
    parse = _as_parse(parse)
    cats = _categories(category, parse.shape[0])
    if labels is not None or len(set(cats)) == 1:
        lab = labels if labels is not None else CATEGORY_LABELS[cats[0]]
        m = _isin(parse, lab)
        if CATEGORY_NECK_BOX[cats[0]] or labels is not None:
            m = m | (neck_box(parse, keypoints, box_margin) & ~_isin(parse, protect))
        return m[:, None].float()
    # mixed batch: a per-item look-up table of masked labels and a per-item neck-box switch
    table = torch.zeros(len(cats), 256, dtype=torch.bool, device=parse.device)
    for b, c in enumerate(cats):
        table[b, list(CATEGORY_LABELS[c])] = True
    m = torch.gather(table, 1, parse.clamp(0, 255).flatten(1)).view_as(parse)
    use_box = torch.tensor([CATEGORY_NECK_BOX[c] for c in cats], device=parse.device)
    m = m | (neck_box(parse, keypoints, box_margin) & ~_isin(parse, protect) & use_box[:, None, None])
    return m[:, None].float()


def agnostic_person(
    person: torch.Tensor,
    parse: torch.Tensor,
    keypoints: torch.Tensor | None = None,
    fill: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """p* = person with the agnostic mask filled with ``fill`` (grey 0 in [-1, 1]) → ``(p_star, mask)``.

    ``person``: ``B×3×H×W`` (or ``3×H×W``) in [-1, 1]; returns ``p_star`` of the same shape and the
    ``B×1×H×W`` mask.
    """
    single = person.ndim == 3
    x = person[None] if single else person
    mask = agnostic_mask(parse, keypoints, **kwargs).to(device=x.device, dtype=x.dtype)
    if mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
        from tryon.errors import InputError

        raise InputError("parse", f"label maps matching the person batch {tuple(x.shape)}", f"mask {tuple(mask.shape)}")
    p_star = x * (1 - mask) + fill * mask
    return (p_star[0] if single else p_star), mask


def garment_mask(parse: torch.Tensor, category: Any = "upper") -> torch.Tensor:
    """``B×1×H×W`` float mask of the worn garment of each item's category (:data:`labels.CATEGORY_GARMENT_LABELS`):
    what isolates ``c_a,p`` (000 §4.3.3.2) for a lower garment or a dress."""
    parse = _as_parse(parse)
    cats = _categories(category, parse.shape[0])
    table = torch.zeros(len(cats), 256, dtype=torch.bool, device=parse.device)
    for b, c in enumerate(cats):
        table[b, list(L.CATEGORY_GARMENT_LABELS[c])] = True
    return torch.gather(table, 1, parse.clamp(0, 255).flatten(1)).view_as(parse)[:, None].float()


def make_agnostic(person: torch.Tensor, parse: torch.Tensor, category: Any = "upper") -> torch.Tensor:
    """Agnostic person ``p*`` (000 §4.3.3.2) for a ``B×3×H×W`` batch and ``B×H×W`` canonical labels.

    What the teacher pipeline, its training and the student's teacher targets all use: arms, upper-body
    cloth and a box around the neck greyed out (:func:`agnostic_person`). The neck box comes from the parse
    map only, never from keypoints: the inference pipeline has no pose estimator, and training must see the
    same ``p*`` as inference. ``category``: one name or one per item (module docstring).
    """
    return agnostic_person(person, parse, category=category)[0]

