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

Everything is batched tensor algebra (no Python loop over pixels or over the batch), on any device.
Masks follow the SDK convention: float {0, 1}, 1 = replace.
"""

from __future__ import annotations

import torch

from .data import labels as L

MASKED_LABELS: tuple[int, ...] = L.UPPER_GARMENT_LABELS + L.ARM_LABELS
PROTECTED_LABELS: tuple[int, ...] = (L.HAT, L.HAIR, L.SUNGLASSES, L.FACE)


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
    labels: tuple[int, ...] = MASKED_LABELS,
    protect: tuple[int, ...] = PROTECTED_LABELS,
    box_margin: float = 0.15,
) -> torch.Tensor:
    """Upper-body mask of the agnostic person → ``B×1×H×W`` float {0, 1} (1 = masked).

    ``parse``: canonical labels ``B×H×W`` (or ``H×W`` / ``B×1×H×W``); ``keypoints``: ``B×25×3``
    BODY_25 normalised to [-1, 1] as :class:`~tryon_wuton.data.TryOnDataset` returns them (rows with
    zero confidence are ignored).
    """
    parse = _as_parse(parse)
    m = _isin(parse, labels) | (neck_box(parse, keypoints, box_margin) & ~_isin(parse, protect))
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


def make_agnostic(person: torch.Tensor, parse: torch.Tensor) -> torch.Tensor:
    """Agnostic person ``p*`` (000 §4.3.3.2) for a ``B×3×H×W`` batch and ``B×H×W`` canonical labels.

    What the teacher pipeline, its training and the student's teacher targets all use: arms, upper-body
    cloth and a box around the neck greyed out (:func:`agnostic_person`). The neck box comes from the parse
    map only, never from keypoints: the inference pipeline has no pose estimator, and training must see the
    same ``p*`` as inference.
    """
    return agnostic_person(person, parse)[0]

