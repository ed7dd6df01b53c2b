"""The task's pipeline and a sampler: what ``tryon.load("template-tone")`` and ``tryon run`` call."""

from __future__ import annotations

import time

import torch
from torch import nn

import tryon
from tryon.io import as_batch, restore
from tryon.sampling import SampleResult, SampleStats


class ToneNet(nn.Module):
    """A 1x1 convolution on RGB in [-1, 1], initialised to the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.mix.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mix(x))


class TonePipeline(tryon.Pipeline):
    """``template-tone``: image(s) -> toned image(s), of the kind and size that went in.

    ``strength`` blends the toned image with the input (1 = the model's output).
    """

    def __init__(self, strength: float = 1.0):
        super().__init__()  # the arguments above are recorded in self.config automatically
        if not 0.0 <= float(strength) <= 1.0:
            raise tryon.InputError("strength", "a value in [0, 1]", repr(strength))
        self.strength = float(strength)
        self.net = ToneNet()  # a component: saved as net.safetensors

    @torch.inference_mode()
    def __call__(self, image):
        batch = as_batch(image, name="image")
        x = batch.tensor.to(self.device)
        y = self.strength * self.net(x) + (1.0 - self.strength) * x
        return restore(y.cpu(), batch)


class JitterSampler:
    """A sampler of the ``template`` family: request = (image tensor 1x3xHxW, n)."""

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
