"""Training data shared by the parser, the teacher and the student (000 §4.3.3.2, App. E.1).

* :func:`open_split` / :func:`require_parse`: a split of a dataset folder, refused when it has no parse maps;
* :class:`UnpairedDataset`: each person gains the garment ``c_b`` of another sample (fixed derangements);
* :func:`batch_tensors`: a collated batch on the device, with the agnostic person ``p*`` and the worn
  garment ``c_a,p`` (000 eq. 4.3.4) computed from the ground-truth parse map.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..agnostic import make_agnostic

GARMENT_FILL = 1.0  # white, the background of in-shop garment images (in [-1, 1])


def open_split(data: Any, split: str, size: Sequence[int]) -> Any:
    """The ``split`` of a dataset folder as a torch dataset of dicts (``person``, ``garment``, ``parse`` …)."""
    from ..data import TryOnDataset

    return TryOnDataset(data, split=split, size=tuple(int(s) for s in size))


def cached_base(dataset: Any, enabled: bool = True) -> Any:
    """``dataset`` with its decoded items kept in memory (:class:`tryon.cached_dataset.CachedDataset`) when
    ``enabled``: each person and garment file is then decoded once per run instead of once per use (an
    :class:`UnpairedDataset` item reads two base items). The try-on datasets are deterministic, so the
    batches are the same."""
    if not enabled:
        return dataset
    from tryon.cached_dataset import CachedDataset

    return CachedDataset(dataset)


def require_parse(dataset: Any, purpose: str) -> None:
    """Raise :class:`tryon.errors.DatasetError` when the dataset's items carry no parse map."""
    from tryon.errors import DatasetError

    if len(dataset) == 0 or "parse" not in dataset[0]:
        raise DatasetError(
            f"dataset {getattr(dataset, 'root', '')}".strip(), f"items with parse maps ({purpose})",
            "no parse maps in this layout/split",
            "use a layout with human parsing (VITON-HD image-parse-v3, VITON, DressCode)",
        )


def upper_garment_mask(parse: torch.Tensor) -> torch.Tensor:
    """``B×1×H×W`` float mask of the worn upper garment (upper-clothes, dress, coat labels)."""
    from ..data.labels import UPPER_GARMENT_LABELS

    mask = torch.zeros_like(parse, dtype=torch.bool)
    for lab in UPPER_GARMENT_LABELS:
        mask |= parse == lab
    return mask.unsqueeze(1).float()


def worn_garment(person: torch.Tensor, parse: torch.Tensor, fill: float = GARMENT_FILL) -> torch.Tensor:
    """``c_a,p`` of 000 §4.3.3.2: the garment worn in ``person`` isolated by the parse map, background white."""
    m = upper_garment_mask(parse).to(person.dtype)
    return person * m + fill * (1 - m)


class UnpairedDataset(torch.utils.data.Dataset):
    """Adds an unpaired garment ``c_b`` to each item of a try-on dataset, deterministically.

    Length ``len(base) * pairs_per_person``; item ``j`` is person ``i = j % N`` with the garment of sample
    ``perm_r[i]``, ``r = j // N``, where ``perm_r`` are fixed derangements (no sample keeps its own garment)
    drawn from ``seed``. Items gain ``garment_b``, ``index`` and ``garment_index`` (the keys of the
    student's teacher cache).
    """

    def __init__(self, base: Any, pairs_per_person: int = 1, seed: int = 0):
        self.base = base
        self.n = len(base)
        self.pairs = max(1, int(pairs_per_person))
        rng = np.random.default_rng([int(seed), 7])
        self.partners = [_derangement(self.n, rng) for _ in range(self.pairs)]

    def __len__(self) -> int:
        return self.n * self.pairs

    def with_cache(self, max_bytes: int = 2 << 30) -> "UnpairedDataset":
        """The same pairs over the base's items kept in memory (the Trainer's ``cache_data``): each person and
        garment file is decoded once per run, not once per pair it takes part in (see :func:`cached_base`)."""
        from tryon.cached_dataset import CachedDataset

        out = copy.copy(self)
        out.base = CachedDataset(self.base, max_bytes=max_bytes)
        return out

    def __getitem__(self, j: int) -> dict[str, Any]:
        i, r = j % self.n, j // self.n
        g = int(self.partners[r][i])
        item = dict(self.base[i])
        other = self.base[g]
        item["garment_b"] = other["garment"]
        item["index"] = i
        item["garment_index"] = g
        return item


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    if n < 2:
        return np.arange(n)
    perm = rng.permutation(n)
    # a random cyclic shift of a random order has no fixed point: i -> next element in the cycle
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.roll(perm, -1)
    return out


def batch_tensors(batch: dict[str, Any], device: Any) -> dict[str, torch.Tensor]:
    """Move a collated batch to ``device``; add ``agnostic`` (from the ground-truth parse, unless the dataset
    provides it) and ``worn_garment``."""
    dev = torch.device(device)
    person = batch["person"].to(dev).float()
    parse = batch["parse"].to(dev).long()
    if parse.dim() == 4:
        parse = parse[:, 0]
    out = {"person": person, "parse": parse, "garment": batch["garment"].to(dev).float()}
    if "garment_b" in batch:
        out["garment_b"] = batch["garment_b"].to(dev).float()
    if "agnostic" in batch:
        out["agnostic"] = batch["agnostic"].to(dev).float()
    else:
        out["agnostic"] = make_agnostic(person, parse)
    out["worn_garment"] = worn_garment(person, parse)
    return out


__all__ = [
    "GARMENT_FILL",
    "UnpairedDataset",
    "batch_tensors",
    "cached_base",
    "open_split",
    "require_parse",
    "upper_garment_mask",
    "worn_garment",
]
