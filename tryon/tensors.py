"""The model side of image I/O: uint8 arrays ↔ ``[-1, 1]`` float tensors, batches of mixed inputs (letterboxed
in, restored out in the kind that went in), and saving any of them.

Torch is imported inside the functions that need it, so importing this module stays light.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .errors import ImageModeError, ImageSizeError, InputError
from .imagefile import is_tensor, load_image


def to_tensor(rgb: np.ndarray):
    """``H×W×3`` uint8 → ``1×3×H×W`` float32 in [-1, 1]."""
    import torch

    return torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def to_uint8(t) -> np.ndarray:
    """``3×H×W`` or ``1×3×H×W`` tensor in [-1, 1] → ``H×W×3`` uint8."""
    if t.ndim == 4:
        t = t[0]
    return ((t.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def check_tensor(t, name: str):
    import torch

    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[1] != 3:
        raise ImageModeError(name, "a tensor B×3×H×W (or 3×H×W)", f"shape {tuple(t.shape)}")
    if 0 in t.shape:
        raise ImageSizeError(name, "a non-empty tensor", f"shape {tuple(t.shape)}")
    if not torch.is_floating_point(t):
        raise ImageModeError(name, "a float tensor in [-1, 1]", f"dtype {t.dtype}")
    lo, hi = float(t.min()), float(t.max())
    if lo < -1.001 or hi > 1.001:
        raise ImageModeError(name, "values in [-1, 1]", f"values in [{lo:.3g}, {hi:.3g}]", "use x * 2 - 1 for [0, 1] images")
    return t


@dataclass
class Batch:
    """A batch of images normalised for a model, remembering how to give results back."""

    tensor: Any  # B×3×H×W float32 in [-1, 1]
    kind: str  # "pil" | "numpy" | "torch"
    is_list: bool
    sizes: list[tuple[int, int]] = field(default_factory=list)  # original (H, W) per item
    boxes: list[tuple[int, int, int, int]] | None = None  # letterbox (top, left, h, w) per item

    def __len__(self) -> int:
        return int(self.tensor.shape[0])


def _kind(x: Any) -> str:
    if is_tensor(x):
        return "torch"
    if isinstance(x, np.ndarray):
        return "numpy"
    return "pil"


def as_batch(x: Any, *, name: str = "image", size: tuple[int, int] | None = None, fill: float = 1.0) -> Batch:
    """Normalise one image or a list of images into a :class:`Batch`.

    With ``size=(H, W)`` every item is letterboxed to that size (aspect kept, padded with ``fill``,
    white by default) and :func:`restore` undoes it; otherwise all items must share one size.
    """
    import torch

    items = list(x) if isinstance(x, (list, tuple)) else [x]
    is_list = isinstance(x, (list, tuple))
    if not items:
        raise InputError(name, "at least one image", "an empty list")
    tensors, sizes = [], []
    kinds = {_kind(i) for i in items}
    if len(kinds) > 1:
        raise InputError(name, "a batch of one kind of input", f"a mix of {sorted(kinds)}")
    for i, item in enumerate(items):
        label = f"{name}[{i}]" if is_list else name
        if is_tensor(item):
            t = check_tensor(item, label).float()
            tensors.extend(t.split(1))
            sizes.extend([(int(t.shape[2]), int(t.shape[3]))] * t.shape[0])
        else:
            rgb = load_image(item, name=label)
            tensors.append(to_tensor(rgb))
            sizes.append(rgb.shape[:2])
    boxes = None
    if size is not None:
        fitted = [letterbox(t, size, fill) for t in tensors]
        tensors = [f[0] for f in fitted]
        boxes = [f[1] for f in fitted]
    elif len({tuple(t.shape[2:]) for t in tensors}) > 1:
        found = sorted({f"{t.shape[3]}×{t.shape[2]}" for t in tensors})
        raise ImageSizeError(name, "images of one size in a batch", f"sizes {found}")
    return Batch(torch.cat(tensors, 0), next(iter(kinds)), is_list, sizes, boxes)


def letterbox(t, size: tuple[int, int], fill: float = 1.0):
    """Resize ``1×C×h×w`` to fit ``size`` keeping aspect ratio; pad the rest with ``fill``.

    Returns ``(tensor, (top, left, h', w'))`` where the box locates the resized content.
    """
    import torch
    import torch.nn.functional as F

    H, W = size
    h, w = t.shape[-2:]
    if (h, w) == (H, W):
        return t, (0, 0, H, W)
    s = min(H / h, W / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=s < 1)
    out = torch.full((t.shape[0], t.shape[1], H, W), fill, dtype=t.dtype)
    top, left = (H - nh) // 2, (W - nw) // 2
    out[:, :, top : top + nh, left : left + nw] = r
    return out, (top, left, nh, nw)


def restore(out, batch: Batch) -> Any:
    """Give a model output ``B×3×H×W`` back in the kind and size of the batch that went in."""
    import torch
    import torch.nn.functional as F

    results = []
    for i in range(out.shape[0]):
        o = out[i : i + 1]
        if batch.boxes is not None:
            top, left, h, w = batch.boxes[i]
            o = o[:, :, top : top + h, left : left + w]
            oh, ow = batch.sizes[i]
            if (h, w) != (oh, ow):
                o = F.interpolate(o, size=(oh, ow), mode="bilinear", align_corners=False, antialias=(h > oh))
        results.append(o)
    if batch.kind == "torch":
        if len({tuple(r.shape[2:]) for r in results}) == 1:
            res = torch.cat(results, 0).clamp(-1, 1)
            return res
        return [r.clamp(-1, 1) for r in results]
    if batch.kind == "numpy":
        arrs = [to_uint8(r) for r in results]
        return arrs if batch.is_list else arrs[0]
    pils = [Image.fromarray(to_uint8(r)) for r in results]
    return pils if batch.is_list else pils[0]


def save_image(t_or_arr: Any, path: str | os.PathLike) -> None:
    """Write an image (tensor in [-1, 1], numpy uint8 or PIL) atomically (temp file + rename)."""
    path = Path(path)
    if is_tensor(t_or_arr):
        img = Image.fromarray(to_uint8(t_or_arr))
    elif isinstance(t_or_arr, np.ndarray):
        img = Image.fromarray(t_or_arr)
    else:
        img = t_or_arr
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, format=(path.suffix.lstrip(".").upper().replace("JPG", "JPEG") or "PNG"))
    os.replace(tmp, path)



__all__ = ["Batch", "as_batch", "check_tensor", "letterbox", "restore", "save_image", "to_tensor", "to_uint8"]
