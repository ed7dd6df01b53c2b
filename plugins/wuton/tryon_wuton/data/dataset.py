"""``TryOnDataset``: one torch ``Dataset`` over every supported layout (synthetic, VITON-HD, VITON/CP-VTON,
DressCode, PF-AFN), returning tensors in one convention.

Item (a dict):

* ``person`` ``3×H×W`` float in [-1, 1]; ``garment`` ``3×H×W`` [-1, 1]; ``garment_mask`` ``1×H×W`` {0, 1};
* ``parse`` ``H×W`` int64 in the canonical VITON-HD v3 label set (:mod:`.labels`) — absent only for
  layouts without parse maps (PF-AFN test folders);
* ``keypoints`` ``25×3`` float32: OpenPose BODY_25 (x, y) in [-1, 1] (``align_corners=False``
  convention) and confidence; zeros when absent;
* ``name``, ``garment_name`` (file names); ``category``: ``upper``, ``lower`` or ``dress`` (synthetic data: its
  records; DressCode: the category folder; other layouts: ``upper``);
* when available: ``unpaired_gt`` ``3×H×W`` (synthetic data, ``pairs="unpaired"``: the person wearing
  the unpaired garment), ``accessory_mask`` ``1×H×W`` (synthetic ``accessory-mask/``, DressCode bag);
* with ``other_garment=True``: ``other_garment``, ``other_garment_mask``, ``other_garment_name`` — a
  second garment c_b ≠ c_a for the teacher's unpaired branch (000 §4.3.3.2), drawn from
  ``(seed, epoch, index)`` only, so every worker and every run draws the same one.

``size=(H, W)`` resizes everything (area filter when shrinking, bilinear when enlarging, nearest for
``parse``, area + threshold 0.5 for masks); keypoints are normalised, so they need no change. With
``size=None`` items keep the person image's size (a garment of another size is resized to the person's;
label maps and masks of another scale but the same aspect ratio are resized with nearest neighbour when
loaded, see :mod:`.layouts`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tryon.errors import InputError

from .layouts import Layout, load_garment, load_raw, open_layout


def _resize(arr: np.ndarray, hw: tuple[int, int], kind: str) -> np.ndarray:
    import cv2

    h, w = hw
    if arr.shape[:2] == (h, w):
        return arr
    if kind == "nearest":
        return cv2.resize(arr, (w, h), interpolation=cv2.INTER_NEAREST)
    if kind == "mask":
        out = cv2.resize(arr.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA if arr.shape[0] > h else cv2.INTER_LINEAR)
        return (out >= 0.5).astype(np.float32)
    shrink = arr.shape[0] > h or arr.shape[1] > w
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _img_t(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.require(rgb, requirements=("C", "W"))).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def _mask_t(m: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.require(m, np.float32, ("C", "W")))[None]


class TryOnDataset(Dataset):
    """A try-on dataset in any supported layout (see :mod:`.layouts`).

    Args:
        root: dataset folder.
        split: ``"train"`` or ``"test"``.
        pairs: ``"paired"`` (person with its own garment) or ``"unpaired"`` (the layout's unpaired list).
        size: ``(H, W)`` to resize to, or ``None`` for native size.
        layout: ``"auto"`` or one of ``viton-hd``, ``viton``, ``dresscode``, ``pfafn``.
        category: DressCode category folder (``upper_body``, ``lower_body``, ``dresses``, or our names ``upper``,
            ``lower``, ``dress``), or ``"all"``: every category folder present, read together (other layouts
            ignore it).
        categories: keep only the items of these categories (names or a comma-separated string; ``None``: all).
        other_garment: also return a second garment (``other_garment*`` keys).
        seed: seed of the second-garment draw.
        strict_palette: reject palette PNG parse maps whose colours match no known palette.
        check_first: decode-check this many items when the dataset is created (every item is checked
            again as it is loaded).

    Raises :class:`tryon.errors.DatasetError` for a missing folder, unmatched names, a parse map with
    the wrong mode/bit depth/palette/labels, or a map whose aspect ratio differs from its image's.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        pairs: str = "paired",
        size: tuple[int, int] | None = None,
        layout: str = "auto",
        *,
        category: str = "upper_body",
        categories: Any = None,
        other_garment: bool = False,
        seed: int = 0,
        strict_palette: bool = True,
        check_first: int = 3,
    ):
        if size is not None:
            if len(size) != 2 or any(int(v) < 8 for v in size):
                raise InputError("size", "(H, W) with H, W ≥ 8, or None", repr(size))
            size = (int(size[0]), int(size[1]))
        self.root, self.split, self.pairs, self.size = root, split, pairs, size
        self.layout: Layout = open_layout(root, split, layout, category=category)
        self.records = self.layout.records(pairs)
        if categories is not None:
            self._keep_categories(categories)
        self.other_garment = bool(other_garment)
        self.seed = int(seed)
        self.epoch = 0
        self.strict_palette = strict_palette
        garments: dict[str, Any] = {}
        for r in self.records:
            garments.setdefault(r.garment_name, r)
        self._garments = list(garments.values())
        self._garment_pos = {name: i for i, name in enumerate(garments)}
        for i in range(min(int(check_first), len(self.records))):
            load_raw(self.layout, self.records[i], self.strict_palette)

    def _keep_categories(self, categories: Any) -> None:
        from .labels import CATEGORIES, DRESSCODE_FOLDERS

        words = categories.split(",") if isinstance(categories, str) else list(categories)
        keep = {DRESSCODE_FOLDERS.get(w.strip(), w.strip()) for w in words if w.strip()}
        if not keep or keep - set(CATEGORIES):
            raise InputError("categories", f"a subset of {', '.join(CATEGORIES)}", repr(categories))
        self.records = [r for r in self.records if r.category in keep]
        if not self.records:
            raise InputError("categories", f"categories present in {self.root} ({', '.join(sorted(set(self.categories_present)))})",
                             ", ".join(sorted(keep)))  # fmt: skip

    @property
    def categories(self) -> list[str]:
        """The category of every item, in order."""
        return [r.category for r in self.records]

    @property
    def categories_present(self) -> list[str]:
        return sorted({r.category for r in self.layout.records(self.pairs)})

    # -- info ------------------------------------------------------------------------------------
    @property
    def terms(self) -> Any:
        """The terms of the data it reads (the layout's; :mod:`tryon.data.terms`)."""
        return self.layout.terms

    def __len__(self) -> int:
        return len(self.records)

    @property
    def layout_name(self) -> str:
        return self.layout.name

    @property
    def garment_names(self) -> list[str]:
        return [r.garment_name for r in self._garments]

    def set_epoch(self, epoch: int) -> None:
        """Change the second-garment draw per epoch (still deterministic)."""
        self.epoch = int(epoch)

    def other_garment_index(self, index: int) -> int:
        """Index into :attr:`garment_names` of the second garment of item ``index`` (≠ its own)."""
        own = self._garment_pos[self.records[index].garment_name]
        n = len(self._garments)
        if n < 2:
            return own
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch, int(index)])
        j = int(rng.integers(n - 1))
        return j + 1 if j >= own else j

    # -- items -----------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        rec = self.records[index]
        raw = load_raw(self.layout, rec, self.strict_palette)
        hw = self.size or raw["person"].shape[:2]
        item: dict[str, Any] = {
            "person": _img_t(_resize(raw["person"], hw, "image")),
            "garment": _img_t(_resize(raw["garment"], hw, "image")),
            "garment_mask": _mask_t(_resize(raw["garment_mask"], hw, "mask")),
            "keypoints": torch.from_numpy(np.ascontiguousarray(raw["keypoints"], np.float32)),
            "name": rec.name,
            "garment_name": rec.garment_name,
            "category": rec.category,
        }
        if "parse" in raw:
            item["parse"] = torch.from_numpy(_resize(raw["parse"].astype(np.uint8), hw, "nearest").astype(np.int64))
        if "unpaired_gt" in raw:
            item["unpaired_gt"] = _img_t(_resize(raw["unpaired_gt"], hw, "image"))
        if "accessory_mask" in raw:
            item["accessory_mask"] = _mask_t(_resize(raw["accessory_mask"], hw, "mask"))
        if self.other_garment:
            j = self.other_garment_index(index)
            other = self._garments[j]
            g, m = load_garment(self.layout, other)
            item["other_garment"] = _img_t(_resize(g, hw, "image"))
            item["other_garment_mask"] = _mask_t(_resize(m, hw, "mask"))
            item["other_garment_name"] = other.garment_name
        return item

    def __repr__(self) -> str:
        return (f"TryOnDataset(root={str(self.root)!r}, layout={self.layout.name!r}, split={self.split!r}, "
                f"pairs={self.pairs!r}, size={self.size}, items={len(self)})")  # fmt: skip


def category_partners(categories: list[str], pairs: int, seed: int) -> list[np.ndarray] | None:
    """Unpaired garment partners that stay *within* each item's category: ``pairs`` arrays ``perm`` with
    ``perm[i] ≠ i`` (when the category has ≥ 2 items) and ``categories[perm[i]] == categories[i]``. ``None`` when
    there is one category (the caller keeps its own pairs, so single-category runs are unchanged).

    A teacher's unpaired branch masks the person for *its own* category, so the garment it then fits must be of
    that category too (trousers on a person whose top was masked is not a try-on)."""
    cats = np.asarray(categories)
    kinds = sorted(set(categories))
    if len(kinds) < 2:
        return None
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 27])
    out = []
    for _ in range(max(1, int(pairs))):
        perm = np.arange(len(cats))
        for c in kinds:
            idx = np.flatnonzero(cats == c)
            if len(idx) < 2:
                continue
            order = rng.permutation(len(idx))
            nxt = np.empty(len(idx), np.int64)
            nxt[order] = np.roll(order, -1)  # one cycle through a random order: no fixed point
            perm[idx] = idx[nxt]
        out.append(perm)
    return out
