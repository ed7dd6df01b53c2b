"""The data order of a training run: a seeded permutation per epoch, split between ranks."""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np



class SeededSampler:
    """Deterministic, rank-split data order: ``indices(epoch)`` depends only on (seed, epoch, rank, world).

    The epoch permutation is drawn by numpy's PCG64 from ``SeedSequence([seed, epoch])`` (so seeds and
    epochs never alias, unlike ``seed + epoch``), padded by wrapping to a multiple of ``world_size`` and
    split ``perm[rank::world_size]`` like ``torch.utils.data.DistributedSampler``. Consecutive batches of
    the ranks therefore cover consecutive slices of the permutation.
    """

    def __init__(self, n: int, seed: int = 0, rank: int = 0, world_size: int = 1, shuffle: bool = True):
        self.n, self.seed, self.rank, self.world_size, self.shuffle = int(n), int(seed), int(rank), int(world_size), shuffle

    def permutation(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, int(epoch)])))
        return rng.permutation(self.n)

    def indices(self, epoch: int) -> list[int]:
        perm = self.permutation(epoch)
        total = math.ceil(self.n / self.world_size) * self.world_size
        if total > self.n:
            perm = np.concatenate([perm, np.resize(perm, total - self.n)])
        return [int(i) for i in perm[self.rank::self.world_size]]

    def batches(self, epoch: int, batch_size: int, drop_last: bool = True) -> list[list[int]]:
        idx = self.indices(epoch)
        if drop_last and len(idx) >= batch_size:
            idx = idx[: len(idx) // batch_size * batch_size]
        return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]

    def __len__(self) -> int:
        return math.ceil(self.n / self.world_size)


class ListBatchSampler:
    def __init__(self, batches: Sequence[Sequence[int]]):
        self._batches = batches

    def __iter__(self) -> Iterator[Sequence[int]]:
        return iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)


def mix_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


__all__ = ["ListBatchSampler", "SeededSampler", "mix_seed"]
