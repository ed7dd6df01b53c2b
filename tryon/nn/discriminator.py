"""Fully convolutional (PatchGAN) discriminator of 000 App. E and the SAN discriminator head of 004 §3.

000 App. E: the Pix2Pix discriminator (Isola et al., 2017) "with five downsampling layers instead of three",
each "2-strided convolution, batch normalization, leaky relu, 1-strided convolution, batch normalization,
leaky relu". 004 §3.2-3.3 (Slicing Adversarial Network, Takida et al.): the last layer is
``f(x) = <ω, h(x)>`` with a *unit-norm* direction ``ω ∈ S^{D-1}``; ``h`` is trained by the hinge loss with
``ω`` held fixed (stop-gradient) and ``ω`` by the Wasserstein loss with ``h`` held fixed.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.nn.blocks import make_norm

__all__ = ["PatchGANDiscriminator", "SANHead", "SANOutput"]


class SANOutput(NamedTuple):
    """The two views of a SAN discriminator output (004 §3.3), same values, different gradients.

    ``fun = <ω⁻, h>``: gradients reach ``h`` (and the scale ‖w‖), not the direction — for the hinge term
    ``L^h``. ``dir = <ω, h⁻>``: gradients reach only the direction ω — for the Wasserstein term ``L^ω``.
    Both are (B, 1, H', W') unbounded score maps.
    """

    fun: Tensor
    dir: Tensor


class SANHead(nn.Module):
    """Last discriminator layer with a normalised direction (004 §3.2.1, §3.3).

    A bias-free convolution ``C -> 1`` (``kernel_size=1`` is a per-position linear layer; with ``k > 1`` each
    output is the inner product of the kernel with the ``C x k x k`` patch of ``h``). Its weight ``w`` is split
    as ``w = s ω`` with ``ω = w / ‖w‖`` on the unit sphere (norm over all of C, k, k) and ``s = ‖w‖``. As in
    the reference implementation of SAN, the scale ``s`` is treated as part of the feature map ``h`` (it
    multiplies ``h``, so ``<ω, s h> = <w, h>``) and only the direction is constrained to the sphere.

    ``forward(h)`` returns ``<w, h>`` with full gradients (for the generator loss and inference);
    ``split(h)`` returns :class:`SANOutput` for the discriminator loss :func:`tryon.losses.san_d_loss`.

    Args:
        in_channels: channels C of the feature map ``h``.
        kernel_size: side k of the kernel.
        padding: zero padding of the convolution.
        eps: lower bound of ``‖w‖`` in the normalisation.

    Shape:
        - ``h``: (B, C, H, W) features, any range.
        - output: (B, 1, H', W') unbounded scores (``H' = H + 2 padding − k + 1``).

    >>> head = SANHead(in_channels=4)
    >>> h = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    >>> out = head.split(h)  # same values as head(h), different gradients
    >>> out.fun.shape, torch.equal(out.fun, out.dir), torch.equal(out.fun, head(h))
    (torch.Size([2, 1, 3, 3]), True, True)
    """

    def __init__(self, in_channels: int, kernel_size: int = 1, padding: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, in_channels, kernel_size, kernel_size))
        nn.init.normal_(self.weight, std=1.0 / (in_channels * kernel_size * kernel_size) ** 0.5)
        self.padding = padding
        self.eps = eps

    def scale_and_direction(self) -> tuple[Tensor, Tensor]:
        """``(s, ω)`` with ``s = ‖w‖`` and ``ω = w / ‖w‖`` (Frobenius norm over the whole kernel).

        Returns:
            ``s``: () scalar ``>= eps``; ``ω``: (1, C, k, k) unit-norm direction.
        """
        scale = self.weight.flatten().norm().clamp_min(self.eps)
        return scale, self.weight / scale

    def forward(self, h: Tensor) -> Tensor:
        """``<w, h>`` per position, gradients to everything.

        Args:
            h: (B, C, H, W) features.

        Returns:
            (B, 1, H', W') unbounded scores.
        """
        scale, direction = self.scale_and_direction()
        return F.conv2d(h * scale, direction, padding=self.padding)

    def split(self, h: Tensor) -> SANOutput:
        """``(fun, dir)`` = ``(<ω⁻, s h>, <ω, (s h)⁻>)`` where ⁻ is stop-gradient (004 §3.3).

        Args:
            h: (B, C, H, W) features.

        Returns:
            :class:`SANOutput` of two (B, 1, H', W') score maps with equal values.
        """
        scale, direction = self.scale_and_direction()
        features = h * scale
        fun = F.conv2d(features, direction.detach(), padding=self.padding)
        dir_ = F.conv2d(features.detach(), direction, padding=self.padding)
        return SANOutput(fun, dir_)


_HEADS = ("conv", "san")


class PatchGANDiscriminator(nn.Module):
    """PatchGAN discriminator with ``n_down`` levels (000 App. E; 5 instead of Pix2Pix's 3).

    Level ``i``: ``4x4 conv stride 2 → norm → LeakyReLU(0.2) → 3x3 conv stride 1 → norm → LeakyReLU(0.2)``
    with ``min(base * 2^i, max_channels)`` channels; then a 3x3 conv to one logit per patch. The stride-2
    conv pads (1, 2) so each level maps a side ``n`` to ``ceil(n / 2)``: a side never reaches 0, e.g.
    64x48 → 2x2 logits and 256x192 → 8x6 with the default 5 levels.

    Args:
        in_channels: input channels (3 for an RGB image; more for a conditional discriminator).
        n_down: number of stride-2 levels.
        base: channels of the first level.
        norm: ``"batch"`` (000 App. E), ``"instance"`` or ``"none"`` (e.g. with an R1/WGAN-GP penalty).
        max_channels: channel cap (512 as in Pix2Pix).
        head: ``"conv"`` (plain 3x3 conv with bias) or ``"san"`` (:class:`SANHead`, 004 §3.3).

    >>> d = PatchGANDiscriminator(in_channels=3, n_down=5, base=8)
    >>> d(torch.zeros(2, 3, 64, 48)).shape
    torch.Size([2, 1, 2, 2])
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_down: int = 5,
        base: int = 64,
        norm: str = "batch",
        max_channels: int = 512,
        head: str = "conv",
    ) -> None:
        super().__init__()
        if n_down < 1:
            raise ValueError(f"n_down: expected >= 1, got {n_down}")
        if head not in _HEADS:
            raise ValueError(f"head: expected one of {_HEADS}, got {head!r}")
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(n_down):
            d = min(base * 2**i, max_channels)
            layers += [
                nn.ZeroPad2d((1, 2, 1, 2)),
                nn.Conv2d(c, d, 4, 2, 0, bias=norm == "none"),
                make_norm(norm, d),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(d, d, 3, 1, 1, bias=norm == "none"),
                make_norm(norm, d),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            c = d
        self.body = nn.Sequential(*layers)
        self.head: nn.Module = nn.Conv2d(c, 1, 3, 1, 1) if head == "conv" else SANHead(c, kernel_size=3, padding=1)
        self.feature_channels = c
        self.n_down = n_down

    def features(self, x: Tensor) -> Tensor:
        """The feature map ``h(x)`` before the last layer.

        Args:
            x: (B, in_channels, H, W), e.g. an image in [-1, 1].

        Returns:
            (B, feature_channels, ⌈H / 2^n⌉, ⌈W / 2^n⌉) with ``n = n_down``, after a LeakyReLU.
        """
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Patch logits.

        Args:
            x: (B, in_channels, H, W), e.g. an image in [-1, 1].

        Returns:
            (B, 1, ⌈H / 2^n⌉, ⌈W / 2^n⌉) unbounded logits, one per patch (``n = n_down``).
        """
        return self.head(self.body(x))

    def san_outputs(self, x: Tensor) -> SANOutput:
        """``(fun, dir)`` views for :func:`tryon.losses.san_d_loss`; requires ``head="san"``.

        Args:
            x: (B, in_channels, H, W).

        Returns:
            :class:`SANOutput` of two (B, 1, ⌈H / 2^n⌉, ⌈W / 2^n⌉) score maps.
        """
        if not isinstance(self.head, SANHead):
            raise TypeError("san_outputs needs PatchGANDiscriminator(head='san')")
        return self.head.split(self.body(x))
