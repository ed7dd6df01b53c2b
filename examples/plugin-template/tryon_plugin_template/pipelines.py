"""The task's pipeline: what ``tryon.load("template-tone")`` and ``tryon run template-tone`` call."""

from __future__ import annotations

import torch

import tryon
from tryon.io import as_batch, restore

from .models import ToneNet


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


__all__ = ["TonePipeline"]
