"""The inversion encoder E(x, m) → z (the network; its training is :mod:`.encoder_training`).

Architecture: a small strided conv net on ``[x·(1 − m), m − ½]`` (the image with its ignored pixels
zeroed, plus the mask as an extra channel centred at 0: the RGBM input of latent-composition, Chai et al.
2021; seeds-anchors §2), LeakyReLU, stride-2 convs down to ≤ 4×4, then two linear layers to ``d``. No
batch norm, so an image's code never depends on the rest of the batch and the graph exports cleanly.

Its training on the generator's own samples lives in :mod:`tryon_gan.inversion.encoder_training` (in-process) and
:mod:`tryon_gan.training.invert` (``tryon train gan-invert``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tryon.errors import InputError


class LatentEncoder(nn.Module):
    """``E(image B×C×H×W in [-1, 1], mask B×1×H×W in {0, 1} (1 = ignore)) → z B×d``."""

    def __init__(self, latent_dim: int, image_size: int, channels: int = 3, width: int = 32, hidden: int = 256):
        super().__init__()
        if image_size < 4:
            raise InputError("encoder image_size", "at least 4", str(image_size))
        self.latent_dim, self.image_size, self.channels = int(latent_dim), int(image_size), int(channels)
        layers: list[nn.Module] = [nn.Conv2d(self.channels + 1, width, 3, padding=1), nn.LeakyReLU(0.2)]
        size, c = int(image_size), int(width)
        while size > 4:
            c2 = min(4 * width, 2 * c)
            layers += [nn.Conv2d(c, c2, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c, size = c2, (size + 1) // 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(c * size * size, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, self.latent_dim))

    def forward(self, image: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            mask = image.new_zeros(image.shape[0], 1, image.shape[2], image.shape[3])
        x = torch.cat([image * (1 - mask), mask - 0.5], 1)
        return self.head(self.body(x).flatten(1))


class Projector(nn.Module):
    """Encoder + generator as one graph: ``(image, mask) → (G(E(image, mask)), E(image, mask))`` — the
    real-time projection exported for editing without torch."""

    def __init__(self, encoder: nn.Module, generator: nn.Module):
        super().__init__()
        self.encoder, self.generator = encoder, generator

    def forward(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(image, mask)
        return self.generator(z), z


__all__ = ["LatentEncoder", "Projector"]
