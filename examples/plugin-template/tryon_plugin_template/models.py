"""The networks of the plugin: here one, the tone net."""

from __future__ import annotations

import torch
from torch import nn


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


__all__ = ["ToneNet"]
