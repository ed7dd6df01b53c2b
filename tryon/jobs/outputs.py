"""What a pipeline returns, turned into files: one value per output name and per batch item, as PIL images, or as
JSON for data outputs (boxes, scores, counts).

A pipeline called on path inputs returns either its main output alone (the first of ``TaskSpec.outputs``), or a
mapping / an object with one entry / attribute per output name; image values are PIL images, ``uint8`` arrays, float
maps in ``[0, 1]`` or tensors in ``[-1, 1]``; anything else that is numbers (lists, tensors that are not images,
dicts of them) is a data output. Used by ``tryon run`` (:mod:`tryon.jobs.cli`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import TryonError


def outputs_of(result: Any, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Split a pipeline's return value into ``{output name: value}`` (see the module doc)."""
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if not names or k in names}
    if names and all(hasattr(result, n) for n in names) and not isinstance(result, (list, tuple)):
        return {n: getattr(result, n) for n in names}
    main = names[0] if names else "image"
    return {main: result}


def items_of(value: Any, n: int) -> list[Any]:
    """One value per item of a batch of ``n`` (a list, a batched tensor/array, or a single value)."""
    import numpy as np

    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "shape") and hasattr(value, "ndim") and value.ndim == 4:
        return [value[i] for i in range(value.shape[0])]
    if isinstance(value, np.ndarray) and n > 1 and value.ndim == 3 and value.shape[0] == n:
        return [value[i] for i in range(n)]
    return [value]


def to_image(value: Any, what: str) -> Any:
    """A PIL image from PIL, ``uint8`` arrays, float arrays in ``[0, 1]`` (maps, heat-maps; HxW) or tensors in
    ``[-1, 1]`` (``3xHxW`` / ``1x3xHxW``). Raises :class:`TryonError` for anything else."""
    import numpy as np
    from PIL import Image

    if isinstance(value, Image.Image):
        return value
    if hasattr(value, "detach"):
        from ..io import to_uint8

        t = value.detach().cpu().float()
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim == 4 and t.shape[1] in (1, 3):
            return Image.fromarray(to_uint8(t if t.shape[1] == 3 else t.repeat(1, 3, 1, 1)))
        value = t.numpy()
    arr = np.asarray(value)
    if arr.dtype == np.uint8 and arr.ndim in (2, 3):
        return Image.fromarray(arr)
    if arr.dtype.kind == "f" and arr.ndim == 2:
        return Image.fromarray((np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    raise TryonError(f"{what}: expected an image (PIL, uint8 array, HxW float map or a tensor in [-1, 1]), "
                     f"got {type(value).__name__} {getattr(arr, 'shape', '')}")


def image_or_none(value: Any, what: str) -> Any:
    """``value`` as a PIL image (:func:`to_image`), or ``None`` for a data output (written by :func:`to_json`); lists,
    tuples and dicts are data (one entry per detected object, say), never an image."""
    if isinstance(value, (list, tuple, dict)):
        return None
    try:
        return to_image(value, what)
    except TryonError:
        return None


def is_image(value: Any) -> bool:
    """Whether ``value`` is written as an image (else as JSON): :func:`image_or_none` is not ``None``."""
    return image_or_none(value, "value") is not None


def to_json(value: Any, what: str) -> Any:
    """A JSON value of a data output: tensors and arrays become (nested) lists, dicts and lists are walked; raises
    :class:`TryonError` naming ``what`` for anything that is neither numbers nor text."""
    import numpy as np

    if hasattr(value, "detach"):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_json(v, what) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, what) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TryonError(f"{what}: expected an image or data (numbers, lists, tensors), got {type(value).__name__}")


def image_format(path: Path) -> str:
    """The PIL format name for a file name's suffix (``.jpg`` → ``JPEG``; no suffix → ``PNG``)."""
    return (path.suffix.lstrip(".").upper().replace("JPG", "JPEG")) or "PNG"


__all__ = ["image_format", "image_or_none", "is_image", "items_of", "outputs_of", "to_image", "to_json"]
