"""Image pre/post-processing in numpy/PIL for the deploy wing's sessions, and the binding of a call's inputs to a
model's input names — **no torch** (mirrors :func:`tryon.io.letterbox` / :func:`tryon.io.restore`, which use it).

A manifest input is an ``image`` (``B×3×H×W``), a ``mask`` (``B×1×H×W``) or a ``tensor`` (anything else,
passed through as float32). Images are letterboxed to the manifest resolution (aspect kept, white padding,
bilinear resize with antialiasing when shrinking), normalised as the manifest says (``range`` or ``mean``/``std``,
``layout`` NCHW/NHWC, ``color`` RGB/BGR, per-tensor overrides under ``normalisation.per_tensor``); outputs are
cropped back to the letterbox box and resized to the original size.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..errors import InputError
from ..io import load_image, load_mask


def _resize(a: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    H, W = size
    if a.shape[:2] == (H, W):
        return a
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., c], dtype=np.float32)).resize((W, H), resample))
             for c in range(a.shape[2])]
    return np.stack(chans, -1).astype(np.float32, copy=False)


def resize_bilinear(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``h×w×C`` float32 → ``H×W×C`` float32, bilinear, half-pixel centres, antialiased when shrinking.

    PIL's float ("F") resampling is used because it is the reference torch's ``antialias=True`` was written to
    match (measured max difference to ``F.interpolate`` ≤ 5e-6); OpenCV's INTER_LINEAR does not antialias.
    """
    return _resize(a, size, Image.BILINEAR)


def resize_nearest(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``h×w×C`` float32 → ``H×W×C`` float32, nearest neighbour (masks)."""
    return _resize(a, size, Image.NEAREST)


def letterbox_array(a: np.ndarray, size: tuple[int, int], fill: float = 1.0,
                    nearest: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``h×w×C`` float → ``H×W×C`` float32 keeping the aspect ratio, padded with ``fill``; returns the content box
    ``(top, left, h', w')`` — the rule of :func:`tryon.io.letterbox`."""
    H, W = size
    h, w = a.shape[:2]
    if (h, w) == (H, W):
        return a.astype(np.float32, copy=False), (0, 0, H, W)
    s = min(H / h, W / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = (resize_nearest if nearest else resize_bilinear)(a.astype(np.float32, copy=False), (nh, nw))
    out = np.full((H, W, a.shape[2]), fill, dtype=np.float32)
    top, left = (H - nh) // 2, (W - nw) // 2
    out[top : top + nh, left : left + nw] = r
    return out, (top, left, nh, nw)


def value_range(norm: dict[str, Any]) -> tuple[float, float]:
    """``(lo, hi)`` of a normalisation's ``range`` (default ``[-1, 1]``)."""
    lo, hi = norm.get("range", [-1.0, 1.0])
    return float(lo), float(hi)


def normalise_unit(v: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """``H×W×C`` float values in [0, 1] → float32 in the model's input convention (``range`` or ``mean``/``std``)."""
    if "mean" in norm and "std" in norm:
        return ((v - np.asarray(norm["mean"], np.float32)) / np.asarray(norm["std"], np.float32)).astype(np.float32)
    lo, hi = value_range(norm)
    return (lo + (hi - lo) * v).astype(np.float32)


def denormalise_unit(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """Model output ``H×W×C`` float → values in [0, 1] (not clipped)."""
    if "mean" in norm and "std" in norm:
        return x * np.asarray(norm["std"], np.float32) + np.asarray(norm["mean"], np.float32)
    lo, hi = value_range(norm)
    return (x - lo) / (hi - lo)


def to_uint8_image(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """``H×W×3`` float in the model's output range → ``H×W×3`` uint8 (clip, scale, round half to even like torch)."""
    lo, hi = value_range(norm)
    if "mean" not in norm and (lo, hi) == (-1.0, 1.0):  # same arithmetic as tryon.io.to_uint8
        return np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.round(np.clip(denormalise_unit(x, norm), 0.0, 1.0) * 255.0).astype(np.uint8)


def is_torch_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor — decided from its type's module, without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def input_kind(spec: dict[str, Any], norm: dict[str, Any]) -> str:
    """``"image"`` (B×3×H×W), ``"mask"`` (B×1×H×W) or ``"tensor"`` (anything else) for a manifest input."""
    kind = (norm.get("per_tensor") or {}).get(spec["name"], {}).get("kind")
    if kind:
        return kind
    shape = spec.get("shape", [])
    if len(shape) == 4 and shape[1] == 3:
        return "image"
    if len(shape) == 4 and shape[1] == 1:
        return "mask"
    return "tensor"


def input_norm(norm: dict[str, Any], name: str) -> dict[str, Any]:
    """Per-tensor normalisation: ``normalisation["per_tensor"][name]`` overrides the shared keys."""
    per = (norm.get("per_tensor") or {}).get(name, {})
    return {**{k: v for k, v in norm.items() if k != "per_tensor"}, **per}


def prepare_input(
    items: Sequence[Any], spec: dict[str, Any], manifest: dict[str, Any]
) -> tuple[np.ndarray, list[tuple[int, int]], list[tuple[int, int, int, int]], str]:
    """Images for one manifest input → ``(N×C×H×W float32, original sizes (h, w), letterbox boxes, kind)``.

    ``items``: paths, bytes, PIL images or numpy ``H×W×3`` uint8 arrays (masks: ``H×W``; ``tensor`` inputs:
    float arrays of the input's shape without / with the batch axis); ``kind`` is ``"numpy"`` when they are
    numpy arrays (outputs then come back as numpy), else ``"pil"``. Torch tensors and float images are refused
    with one :class:`InputError`."""
    name = spec["name"]
    H, W = manifest["resolution"]
    norm = input_norm(manifest["normalisation"], name)
    kind = input_kind(spec, manifest["normalisation"])
    kinds = {"numpy" if isinstance(i, np.ndarray) else "pil" for i in items}
    if len(kinds) > 1:
        raise InputError(name, "a batch of one kind of input", f"a mix of {sorted(kinds)}")
    arrays, sizes, boxes = [], [], []
    for i, item in enumerate(items):
        label = f"{name}[{i}]" if len(items) > 1 else name
        if is_torch_tensor(item):
            raise InputError(label, "a path, bytes, PIL image or numpy H×W×3 uint8 array", "a torch tensor",
                             "tryon.runtime does not use torch: pass numpy/PIL, or use the torch pipeline")
        if kind == "tensor":
            a = np.asarray(item, dtype=np.float32)
            arrays.append(a if a.ndim == len(spec["shape"]) - 1 else a[0])
            sizes.append((H, W))
            boxes.append((0, 0, H, W))
            continue
        if isinstance(item, np.ndarray) and item.dtype.kind == "f" and kind == "image":
            raise InputError(label, "a numpy H×W×3 uint8 image", f"a float array {item.dtype} {tuple(item.shape)}",
                             "pre-normalised float arrays go to session.run_arrays()")
        if kind == "mask":
            m = load_mask(item, name=label)[..., None]
            v, box = letterbox_array(m, (H, W), fill=0.0, nearest=True)
            per = (manifest["normalisation"].get("per_tensor") or {}).get(name, {})
            x = normalise_unit(v, per) if ("range" in per or "mean" in per) else v  # {0, 1}, 1 = edit
            sizes.append(m.shape[:2])
        else:
            rgb = load_image(item, name=label)
            v, box = letterbox_array(rgb.astype(np.float32) / 255.0, (H, W), fill=1.0)  # white padding
            if norm.get("color", "RGB").upper() == "BGR":
                v = v[..., ::-1]
            x = normalise_unit(v, norm)
            sizes.append(rgb.shape[:2])
        boxes.append(box)
        arrays.append(x if norm.get("layout", "NCHW").upper() == "NHWC" else x.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(arrays, 0), dtype=np.float32), sizes, boxes, next(iter(kinds))


def restore_output(
    out: np.ndarray, sizes: list[tuple[int, int]], boxes: list[tuple[int, int, int, int]], kind: str,
    manifest: dict[str, Any], name: str,
) -> list[Any]:
    """One model output ``B×C×H×W`` float → per item: crop the letterbox box, resize back to ``sizes[i]``, then an
    ``h×w×3`` uint8 image (numpy when ``kind == "numpy"``, else PIL) for 3-channel outputs, else ``C×h×w`` float32."""
    norm = input_norm(manifest["normalisation"], name)
    H, W = manifest["resolution"]
    nhwc = norm.get("layout", "NCHW").upper() == "NHWC"
    results = []
    for i in range(out.shape[0]):
        o = out[i]
        if o.ndim != 3:
            results.append(o.astype(np.float32, copy=False))
            continue
        hwc = o if nhwc else o.transpose(1, 2, 0)
        if hwc.shape[:2] == (H, W):
            top, left, h, w = boxes[i]
            hwc = hwc[top : top + h, left : left + w]
            hwc = resize_bilinear(np.ascontiguousarray(hwc, dtype=np.float32), tuple(sizes[i]))
        if hwc.shape[2] == 3:
            if norm.get("color", "RGB").upper() == "BGR":
                hwc = hwc[..., ::-1]
            u8 = to_uint8_image(hwc, norm)
            results.append(u8 if kind == "numpy" else Image.fromarray(u8))
        else:
            results.append(np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32))
    return results


def bind_inputs(input_names: Sequence[str], images: Sequence[Any],
                named: dict[str, Any]) -> tuple[dict[str, Any], int, bool]:
    """Bind a call's inputs to a model's ``input_names``: positionally in that order and/or by name.

    Returns ``(values, count, is_list)``: the value of every input, the batch size (the common length of the
    inputs given as lists or tuples, else 1) and whether any input was a list (results are then lists). One
    :class:`InputError` for too many positional inputs, an unknown name, an input given both ways, a missing
    input, lists of different lengths or an empty list. Shared by :class:`tryon.deploy.sessions.ImageModelSession`
    and :class:`tryon.deploy.catalogue.CatalogueSession`."""
    names = list(input_names)
    if len(images) > len(names):
        raise InputError("inputs", f"at most {len(names)} images ({', '.join(names)})", f"{len(images)}")
    values = dict(zip(names, images))
    for k, v in named.items():
        if k not in names:
            raise InputError(k, f"one of the model inputs {names}", f"an unknown input {k!r}")
        if k in values:
            raise InputError(k, "one value", "the input given both positionally and by name")
        values[k] = v
    missing = [n for n in names if values.get(n) is None]
    if missing:
        raise InputError("inputs", f"all of {names}", f"missing {missing}")
    lengths = {n: len(v) for n, v in values.items() if isinstance(v, (list, tuple))}
    if len(set(lengths.values())) > 1:
        raise InputError("inputs", "batches of equal length", ", ".join(f"{n}: {k}" for n, k in lengths.items()))
    count = next(iter(lengths.values()), 1)
    if count == 0:
        raise InputError("inputs", "at least one image", "an empty list")
    return values, count, bool(lengths)


__all__ = ["resize_bilinear", "resize_nearest", "letterbox_array", "value_range", "normalise_unit", "denormalise_unit",
           "to_uint8_image", "is_torch_tensor", "input_kind", "input_norm", "prepare_input", "restore_output",
           "bind_inputs"]
