"""Paste the user's pixels back outside an edit mask, with a feathered seam — one blend for every editing task.

An editing model decodes the *whole* image (a VQGAN decodes every token, a GAN inversion every pixel), so its
output outside the edited region is a reconstruction, not the user's pixels. Inpainting asks for
``î ⊙ (1 − m) = i ⊙ (1 − m)`` (000 §4.2.4.2, seed mask convention 1 = keep; here 1 = edit), so the editing tasks
paste the source back outside the mask by default (``paste=False`` gives the raw decode).

**The seam.** A hard paste leaves a one-pixel step where the decode's colour or sharpness differs from the
source. The blend weight of the decode is ``w = max(mask, feather(mask, σ))``: 1 inside the mask (the edit is
entirely the model's), a Gaussian ramp (:func:`tryon.geometry.masks.feather`, kernel radius ``⌈3σ⌉``) *outside*
it, and exactly 0 farther than :func:`seam_width` pixels from the mask, where the output is the source bit for
bit. The ramp goes outward because for inpainting the source pixels under the mask are unknown and must not
leak back. The default ``σ = 1`` px (:data:`SEAM_SIGMA`) gives a **3-pixel band**: wide enough to hide the step
(the same σ as the EdiBERT collage's feathering), narrow enough to stay inside one token of the smallest VQGAN
downsampling factor (4 px), i.e. inside the one-token dilation ring that EdiBERT resamples (000 §4.2.4.2 item
2), and to touch few of the user's pixels. MaskGIT's editing composite blends the same way, with a wider blur.

* :func:`paste_source` — tensors of one size (``B×C×H×W``, mask ``B×1×H×W``, 1 = edit);
* :func:`restore_pasted` — for pipelines that letterbox inputs (``tryon.io.as_batch(size=…)``): the model's
  output is restored to each input's own size first, then pasted onto the input's pixels read again at full
  resolution, so the letterbox round trip (a resize) never touches the kept pixels.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from .errors import MaskError
from .geometry.masks import feather as _feather
from .io import Batch, as_batch, load_mask, restore

__all__ = ["SEAM_SIGMA", "seam_width", "paste_weight", "paste_source", "restore_pasted"]

#: Default σ (pixels) of the Gaussian seam: a band of ``seam_width(SEAM_SIGMA) = 3`` pixels outside the mask.
SEAM_SIGMA: float = 1.0


def seam_width(feather: float = SEAM_SIGMA) -> int:
    """Pixels outside the mask that the seam may blend: the blur's kernel radius ``max(1, ⌈3σ⌉)``, 0 for ``σ <= 0``."""
    return max(1, math.ceil(3.0 * float(feather))) if feather and feather > 0 else 0


def _as_4d(mask: Tensor) -> Tensor:
    if mask.dim() == 2:
        return mask[None, None]
    if mask.dim() == 3:
        return mask[:, None]
    return mask


def paste_weight(mask: Tensor, feather: float = SEAM_SIGMA) -> Tensor:
    """Weight of the decode: ``max(mask, feather(mask, σ))`` — 1 inside, a ramp over :func:`seam_width` px
    outside, 0 beyond (``B×1×H×W`` float)."""
    m = _as_4d(mask).float()
    if not feather or feather <= 0:
        return m.clone()
    return torch.maximum(m, _feather(m, float(feather)))


def paste_source(source: Tensor, generated: Tensor, mask: Tensor, feather: float = SEAM_SIGMA) -> Tensor:
    """``source`` outside the mask (bit for bit beyond the seam), ``generated`` inside it (bit for bit), their
    blend ``source·(1 − w) + generated·w`` in the seam band (:func:`paste_weight`). Mask 1 = edited."""
    if source.shape[-2:] != generated.shape[-2:]:
        raise ValueError(f"paste_source: source {tuple(source.shape)} and generated {tuple(generated.shape)} differ in size")
    w = paste_weight(mask, feather).to(device=generated.device, dtype=generated.dtype)
    source = source.to(device=generated.device, dtype=generated.dtype)
    blend = source * (1 - w) + generated * w
    # exact copies where the weight is 0 or 1 (no float round-off on the kept pixels)
    return torch.where(w <= 0, source, torch.where(w >= 1, generated, blend))


def _items(x: Any, n: int, *, split_3d: bool) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, Tensor) and x.dim() == 4:
        return list(x.split(1))
    if split_3d and isinstance(x, Tensor) and x.dim() == 3 and x.shape[0] == n and n > 1:
        return list(x.split(1))
    return [x]


def restore_pasted(out: Tensor, batch: Batch, image: Any, mask: Any, *, feather: float = SEAM_SIGMA,
                   name: str = "image", mask_name: str = "mask") -> Any:
    """:func:`tryon.io.restore` with the inputs' own pixels pasted back outside ``mask``.

    ``out`` is the model's ``B×3×H×W`` output in the batch's working space (letterboxed when ``batch.boxes``);
    ``image`` / ``mask`` are what the user passed (one mask serves a whole batch; masks have each image's own
    size, 1 = edit). Each output is restored to its image's size, blended there by :func:`paste_source`, and
    given back in the kind the batch came in (PIL, numpy uint8, tensor)."""
    n = len(batch)
    restored = restore(out.detach().float().cpu(), replace(batch, kind="torch", is_list=True))
    restored = list(restored.split(1)) if isinstance(restored, Tensor) else list(restored)
    sources: list[Tensor] = []
    for i, item in enumerate(_items(image, n, split_3d=False)):
        label = f"{name}[{i}]" if isinstance(image, (list, tuple)) else name
        sources.extend(as_batch(item, name=label).tensor.split(1))
    masks = _items(mask, n, split_3d=True)
    if len(masks) == 1 and n > 1:
        masks = masks * n
    if len(sources) != n or len(masks) != n:
        raise MaskError(mask_name, f"one mask or {n} masks (one per image)", f"{len(masks)} masks for {len(sources)} images")
    results = []
    for i, (src, gen, m, size) in enumerate(zip(sources, restored, masks, batch.sizes)):
        label = f"{mask_name}[{i}]" if len(masks) > 1 else mask_name
        mt = torch.from_numpy(load_mask(m, name=label, size=tuple(size)))[None, None]
        pasted = paste_source(src, gen.clamp(-1, 1), mt, feather)
        results.append(restore(pasted, Batch(pasted, batch.kind, False, [tuple(size)], None)))
    if batch.kind == "torch":
        if len({tuple(r.shape[2:]) for r in results}) == 1:
            return torch.cat(results, 0)
        return results
    return results if batch.is_list else results[0]
