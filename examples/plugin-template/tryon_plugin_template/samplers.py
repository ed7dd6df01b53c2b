"""A sampler of the ``template`` family (registered in :mod:`.specs`; ``tryon samplers --family template``)."""

from __future__ import annotations

import time

import torch

import tryon
from tryon.sampling import SampleResult, SampleStats


class JitterSampler:
    """A sampler of the ``template`` family: request = (image tensor 1x3xHxW, n); model = a :class:`TonePipeline`."""

    family = "template"

    def __init__(self, candidates: int = 4, spread: float = 0.2):
        self.candidates, self.spread = int(candidates), float(spread)

    def sample(self, model, request, *, seed=None):
        image, n = request
        if not 1 <= int(n) <= self.candidates:
            raise tryon.InputError("n", f"1..{self.candidates}", repr(n))
        start = time.perf_counter()
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        shifts = (torch.rand(self.candidates, 1, 1, 1, generator=gen) - 0.5) * 2 * self.spread
        with torch.inference_mode():
            outs = model.net((image + shifts).clamp(-1, 1))
        keep = outs.std(dim=(1, 2, 3)).argsort(descending=True)[: int(n)]
        stats = SampleStats(requested=int(n), returned=int(n), proposed=self.candidates, model_calls=1,
                            wall_time_s=time.perf_counter() - start)
        return SampleResult(outs[keep], shifts[keep].flatten(), stats)


__all__ = ["JitterSampler"]
