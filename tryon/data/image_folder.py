"""A recursive image-folder dataset: every image file under a root, as ``3×H×W`` tensors in [-1, 1].

Used for unconditional training data (FFHQ, LSUN at 256 px, 000 §4.2.4; the synthetic persons written by
``tryon data synth``). Files are listed once, recursively and sorted, so indices are stable; hidden files and
folders are skipped. Each item is resized (shorter side to the target, then centre-cropped) to ``size``; a
file that cannot be decoded raises one :class:`tryon.errors.DatasetError` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tryon.errors import DatasetError, InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataset", "find_images"]


def find_images(root: str | os.PathLike, exts: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Sorted image files under ``root`` (recursive; names starting with ``.`` skipped at every level)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(str(root), "a folder of images", "no such folder")
    wanted = {e.lower() for e in exts}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in wanted:
                found.append(Path(dirpath) / name)
    return sorted(found)


class ImageFolderDataset:
    """Map-style dataset over the images under ``root``.

    Args:
        root: folder searched recursively.
        size: ``(H, W)`` every item is brought to (resize the short side, centre crop); ``None`` keeps the
            file's size (then a batch needs equal sizes).
        exts: file suffixes counted as images.
        limit: keep only the first ``limit`` files (sorted order).
        validate: decode every file's header once now, so a broken file is reported before training starts.
        channels: 3 (RGB) or 1 (grey: the mean of R, G and B, as the digits-style sets of 003 §3.4 and 004 use).

    Items are ``channels×H×W`` float32 tensors in [-1, 1] (the model convention).
    """

    def __init__(self, root: str | os.PathLike, size: Sequence[int] | None = None, *, exts: Sequence[str] = IMAGE_EXTENSIONS,
                 limit: int | None = None, validate: bool = False, channels: int = 3) -> None:
        if channels not in (1, 3):
            raise InputError("channels", "1 or 3", repr(channels))
        self.channels = int(channels)
        self.root = Path(root)
        self.files = find_images(self.root, exts)
        if limit is not None:
            self.files = self.files[: int(limit)]
        if not self.files:
            raise DatasetError(str(self.root), f"at least one image ({', '.join(exts)}) under it", "none")
        self.size = (int(size[0]), int(size[1])) if size is not None else None
        if validate:
            from tryon.io import probe_image

            for f in self.files:
                try:
                    probe_image(f, name=str(f))
                except InputError as exc:
                    raise DatasetError(str(f), "a readable image file", str(exc.found)) from None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        from tryon.io import load_image, to_tensor

        path = self.files[index]
        try:
            rgb = load_image(path, name=str(path))
        except InputError as exc:
            raise DatasetError(str(path), "a readable image file", str(exc.found)) from None
        t = to_tensor(rgb)
        if self.size is not None:
            t = fit_crop(t, self.size)
        return t[0].mean(0, keepdim=True) if self.channels == 1 else t[0]


def fit_crop(t: Any, size: tuple[int, int]) -> Any:
    """Resize ``1×3×h×w`` so it covers ``size`` (aspect kept, antialiased), then centre-crop to ``size``."""
    import torch.nn.functional as F

    H, W = size
    h, w = t.shape[-2:]
    if (h, w) == (H, W):
        return t
    s = max(H / h, W / w)
    nh, nw = max(H, round(h * s)), max(W, round(w * s))
    r = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=s < 1)
    top, left = (nh - H) // 2, (nw - W) // 2
    return r[:, :, top : top + H, left : left + W].contiguous()
