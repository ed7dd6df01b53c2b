"""U-Net building blocks of the WUTON generator and geometric matcher (000 §4.3.3.1, App. E).

* :class:`ConvEncoder` — five times [3x3 conv, 4x4 stride-2 conv], each followed by a normalisation and
  ReLU, depths (16, 32, 64, 128, 256); returns the feature map of every scale (1/2 ... 1/32). The same
  encoder serves the feature extractors F1/F2 of the geometric matcher (batch norm) and the siamese
  encoders E1/E2 of the generator (instance norm).
* :class:`UNetDecoder` — the symmetric decoder: five times [3x3 conv, 4x4 stride-2 transposed conv];
  after each transposed conv the skip of that scale is concatenated; final conv + tanh.

Odd sizes (e.g. 48 → 24 → 12 → 6 → 3 → 1) are handled by giving each transposed convolution the exact
``output_size`` of the skip it meets, so any H x W >= 32 x 32 round-trips to H x W.

**Checkerboard-free initialisation** (``up_init="nearest-conv"``, opt-in; the WUTON generator uses it): a 4x4 stride-2
transposed convolution with random weights gives each of its four output phases a different 2x2 kernel,
hence the checkerboard of early outputs (Odena et al., 2016, "Deconvolution and checkerboard artifacts").
Each transposed kernel is instead set so that, at step 0, the layer *is* nearest-neighbour 2x upsampling
followed by a 3x3 convolution (the ICNR idea of Aitken et al., 2017, for this kernel size): see
:func:`nearest_conv_kernel`. The architecture (000 App. E) is unchanged and loaded weights overwrite the
initialisation. ``up_init="default"`` (PyTorch's initialisation) stays the core default so that existing
seeded models are unchanged; ``benchmarks/wuton_train_speed.py --only checkerboard`` measures the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ConvEncoder", "UNetDecoder", "make_norm", "nearest_conv_kernel", "UP_INITS"]

UP_INITS = ("nearest-conv", "default")

# Row k of _PHASE_TAPS says which taps d = -1, 0, +1 of a 3x3 kernel land on tap k of the 4-tap transposed
# kernel (stride 2, padding 1): output 2m reads taps 1 (input m) and 3 (input m-1); output 2m+1 reads taps
# 0 (input m+1) and 2 (input m). Nearest upsampling then a 3-tap conv w gives y[2m] = w₋ x[m-1] + (w₀+w₊) x[m]
# and y[2m+1] = (w₋+w₀) x[m] + w₊ x[m+1], hence K = (w₊, w₀+w₊, w₋+w₀, w₋).
_PHASE_TAPS = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))

_NORMS = ("batch", "instance", "none")


def make_norm(kind: str, channels: int) -> nn.Module:
    """``"batch"`` → BatchNorm2d, ``"instance"`` → InstanceNorm2d(affine=True) (exports as ONNX
    InstanceNormalization, deps.md §4), ``"none"`` → Identity.

    Args:
        kind: ``"batch"``, ``"instance"`` or ``"none"``.
        channels: channels C of the (B, C, H, W) maps it normalises.

    Returns:
        the module; it keeps the (B, C, H, W) shape.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm: expected one of {_NORMS}, got {kind!r}")


# PyTorch initialises conv weights with kaiming_uniform(a=sqrt(5)): std 1/sqrt(3 fan_in). He's ReLU
# initialisation has std sqrt(2 / fan_in), sqrt(6) times larger.
_DEFAULT_TO_HE = 6.0**0.5


@torch.no_grad()
def _he_rescale(module: nn.Module) -> None:
    """Rescale the (default-initialised) conv weights in ``module`` to He's ReLU std and zero their biases.

    For the unnormalised ends of :class:`ConvEncoder` (``norm_first=False``) and :class:`UNetDecoder`
    (``norm_last=False``): without a norm after them, PyTorch's default init shrinks the activations by
    about sqrt(6)/sqrt(2) per conv + ReLU, and the WUTON generator then barely moved its L1 in its first
    15 steps (ratio 0.98 against 0.57 with He scale). A rescale, not a new draw, keeps the random stream
    of every later module unchanged (and ``nearest_conv_kernel`` weights stay nearest-conv)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.mul_(_DEFAULT_TO_HE)
            if m.bias is not None:
                m.bias.zero_()


def _conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int, padding: int, norm: str) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=norm == "none"),
        make_norm(norm, c_out),
        nn.ReLU(inplace=True),
    ]


class ConvEncoder(nn.Module):
    """Five-scale convolutional encoder (000 App. E, "Convolutional geometric matcher" / "Siamese U-net").

    Level ``i``: ``3x3 conv (stride 1) → norm → ReLU → 4x4 conv (stride 2) → norm → ReLU`` with
    ``depths[i]`` channels; level ``i`` outputs scale ``1 / 2^(i+1)``.

    Args:
        in_channels: input channels (3 for an RGB image in [-1, 1]).
        depths: channels per scale, (16, 32, 64, 128, 256) in 000 App. E.
        norm: ``"batch"`` (geometric matcher) or ``"instance"`` (generator), or ``"none"``.
        norm_first: ``False`` leaves the first level (the two convolutions that see the raw image) without
            normalisation, with biased, He-scaled convolutions instead — see :class:`UNetDecoder` ``norm_last``.

    >>> enc = ConvEncoder(3, depths=(4, 8), norm="instance")
    >>> [tuple(f.shape) for f in enc(torch.zeros(2, 3, 36, 28))]
    [(2, 4, 18, 14), (2, 8, 9, 7)]
    """

    def __init__(self, in_channels: int = 3, depths: Sequence[int] = (16, 32, 64, 128, 256), norm: str = "batch",
                 norm_first: bool = True) -> None:
        super().__init__()
        depths = tuple(int(d) for d in depths)
        if not depths:
            raise ValueError("depths: expected at least one scale")
        levels = []
        c = in_channels
        for i, d in enumerate(depths):
            level_norm = norm if (i > 0 or norm_first) else "none"
            levels.append(nn.Sequential(*_conv_norm_relu(c, d, 3, 1, 1, level_norm),
                                        *_conv_norm_relu(d, d, 4, 2, 1, level_norm)))
            if level_norm != norm:
                _he_rescale(levels[-1])
            c = d
        self.levels = nn.ModuleList(levels)
        self.in_channels = in_channels
        self.out_channels: tuple[int, ...] = depths

    def forward(self, x: Tensor) -> list[Tensor]:
        """Encode ``x`` at every scale.

        Args:
            x: (B, in_channels, H, W), e.g. an image in [-1, 1].

        Returns:
            ``len(depths)`` maps, fine to coarse: ``features[i]`` is (B, depths[i], ⌊H / 2^(i+1)⌋,
            ⌊W / 2^(i+1)⌋), non-negative (after ReLU).
        """
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        return features


def nearest_conv_kernel(weight3: Tensor) -> Tensor:
    """The ``ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)`` weight (``c_in x c_out x 4 x 4``) equal to
    nearest 2x upsampling followed by ``conv2d(weight3, padding=1)`` (``weight3``: ``c_out x c_in x 3 x 3``).

    Exact for even output sizes (``2n``), zero padding included; with ``output_padding=1`` (odd sizes) the extra
    last row/column differs from ``interpolate(size=2n+1)``, which repeats the last input row instead.

    Args:
        weight3: (c_out, c_in, 3, 3) ``Conv2d`` weight.

    Returns:
        (c_in, c_out, 4, 4) ``ConvTranspose2d`` weight, ``weight3``'s dtype and device.

    >>> g = torch.Generator().manual_seed(0)
    >>> w3, x = torch.randn(2, 3, 3, 3, generator=g), torch.randn(1, 3, 4, 5, generator=g)
    >>> up = torch.nn.functional.conv_transpose2d(x, nearest_conv_kernel(w3), stride=2, padding=1)
    >>> ref = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2.0), w3, padding=1)
    >>> up.shape, torch.allclose(up, ref, atol=1e-5)
    (torch.Size([1, 2, 8, 10]), True)
    """
    if weight3.dim() != 4 or tuple(weight3.shape[-2:]) != (3, 3):
        raise ValueError(f"nearest_conv_kernel: expected a c_out x c_in x 3 x 3 weight, got {tuple(weight3.shape)}")
    m = torch.tensor(_PHASE_TAPS, dtype=weight3.dtype, device=weight3.device)  # 4 x 3
    return torch.einsum("oiab,ka,lb->iokl", weight3, m, m).contiguous()


class _UpLevel(nn.Module):
    """``3x3 conv → norm → ReLU → 4x4 stride-2 transposed conv → norm → ReLU`` to an exact output size."""

    def __init__(self, c_in: int, c_out: int, norm: str, up_init: str = "default") -> None:
        super().__init__()
        self.conv = nn.Sequential(*_conv_norm_relu(c_in, c_out, 3, 1, 1, norm))
        self.up = nn.ConvTranspose2d(c_out, c_out, 4, 2, 1, bias=norm == "none")
        self.post = nn.Sequential(make_norm(norm, c_out), nn.ReLU(inplace=True))
        if up_init == "nearest-conv":
            self.init_nearest_conv()
        elif up_init != "default":
            raise ValueError(f"up_init: expected one of {UP_INITS}, got {up_init!r}")

    @torch.no_grad()
    def init_nearest_conv(self) -> None:
        """Make ``self.up`` nearest upsampling + a 3x3 conv. The 3x3 kernel is taken from the default (random)
        4x4 initialisation already drawn — its top-left 3x3 taps, rescaled from the 4x4 fan-in bound
        1/sqrt(16 c) to the 3x3 one 1/sqrt(9 c) — so no extra random numbers are drawn and the
        initialisation of every later module is the same as with ``up_init="default"``."""
        w = self.up.weight  # c_in x c_out x 4 x 4
        weight3 = w[:, :, :3, :3].transpose(0, 1) * (4.0 / 3.0)
        w.copy_(nearest_conv_kernel(weight3))

    def forward(self, x: Tensor, size: Sequence[int]) -> Tensor:
        # output_size picks output_padding in {0, 1}: 2n or 2n + 1, matching floor-halved encoder sizes
        return self.post(self.up(self.conv(x), output_size=[int(size[0]), int(size[1])]))


_ACTIVATIONS = ("tanh", "sigmoid", "none")


class UNetDecoder(nn.Module):
    """Symmetric U-Net decoder with skip concatenation (000 §4.3.3.1, App. E).

    ``forward(features)`` takes the encoder maps fine to coarse (``features[i]`` at scale ``1/2^(i+1)`` with
    ``skip_channels[i]`` channels). Starting from the coarsest map, each level does ``conv → deconv`` to the
    next finer scale and concatenates that scale's skip; the last level goes to full resolution, then a
    3x3 conv + ``tanh``. For the siamese generator pass the concatenated (warped garment + person) maps and
    ``skip_channels = 2 * depths``.

    Args:
        skip_channels: channels of each encoder map, fine to coarse.
        out_channels: output channels (3 for an image).
        norm: normalisation of the decoder (instance norm in 000 App. E).
        depths: channels produced by the level that *arrives* at scale ``1/2^i`` (i = 0 full resolution ...),
            fine to coarse; default ``(skip[0], skip[0], skip[1], ..., skip[-2])`` (symmetric to the encoder).
        final_activation: ``"tanh"`` (images in [-1, 1]), ``"sigmoid"`` or ``"none"``.
        up_init: ``"default"`` (PyTorch's) or ``"nearest-conv"`` (checkerboard-free start, see the module docstring).
        norm_last: ``False`` leaves the level that arrives at full resolution without normalisation (biased,
            He-scaled convolutions). With instance norm, a normalised map has the same per-channel mean and spread in
            every image, so the final linear conv cannot produce an image-dependent mean colour: a
            generator normalised at both ends (``ConvEncoder(norm_first=True)`` feeding the skips,
            ``norm_last=True``) shows a colour cast and fits even the unmasked pixels slowly. Pix2Pix
            likewise leaves its outermost layers unnormalised. Measured in docs/benchmarks.md.

    >>> enc = ConvEncoder(3, depths=(4, 8), norm="instance")
    >>> dec = UNetDecoder(skip_channels=(4, 8), out_channels=3)
    >>> y = dec(enc(torch.rand(2, 3, 36, 28) * 2 - 1), out_size=(36, 28))
    >>> y.shape, bool(y.abs().max() <= 1)
    (torch.Size([2, 3, 36, 28]), True)
    """

    def __init__(
        self,
        skip_channels: Sequence[int] = (16, 32, 64, 128, 256),
        out_channels: int = 3,
        norm: str = "instance",
        depths: Sequence[int] | None = None,
        final_activation: str = "tanh",
        up_init: str = "default",
        norm_last: bool = True,
    ) -> None:
        super().__init__()
        skips = tuple(int(c) for c in skip_channels)
        if not skips:
            raise ValueError("skip_channels: expected at least one scale")
        depths = tuple(int(d) for d in depths) if depths is not None else (skips[0], *skips[:-1])
        if len(depths) != len(skips):
            raise ValueError(f"depths: expected {len(skips)} values (one per scale), got {len(depths)}")
        if final_activation not in _ACTIVATIONS:
            raise ValueError(f"final_activation: expected one of {_ACTIVATIONS}, got {final_activation!r}")
        levels = []
        c = skips[-1]
        for i in reversed(range(len(skips))):  # level arriving at scale 1/2^i
            levels.append(_UpLevel(c, depths[i], norm if (i > 0 or norm_last) else "none", up_init))
            if i == 0 and not norm_last and norm != "none":
                _he_rescale(levels[-1])
            c = depths[i] + (skips[i - 1] if i > 0 else 0)
        self.levels = nn.ModuleList(levels)
        self.final = nn.Conv2d(c, out_channels, 3, 1, 1)
        self.final_activation = final_activation
        self.skip_channels = skips
        self.out_channels = out_channels

    def forward(self, features: Sequence[Tensor], out_size: Sequence[int] | None = None) -> Tensor:
        """Decode encoder ``features`` (fine to coarse) to full resolution.

        Args:
            features: ``len(skip_channels)`` maps, fine to coarse; ``features[i]`` is
                (B, skip_channels[i], H_i, W_i) at scale ``1/2^(i+1)`` (as :class:`ConvEncoder` returns).
            out_size: the full-resolution size ``(H, W)`` (default: twice the finest feature map).

        Returns:
            (B, out_channels, H, W): in [-1, 1] with ``final_activation="tanh"``, [0, 1] with ``"sigmoid"``,
            unbounded with ``"none"``.
        """
        n = len(self.skip_channels)
        if len(features) != n:
            raise ValueError(f"features: expected {n} maps (fine to coarse), got {len(features)}")
        x = features[-1]
        for k, level in enumerate(self.levels):
            i = n - 1 - k
            if i > 0:
                skip = features[i - 1]
                x = torch.cat([level(x, skip.shape[-2:]), skip], dim=1)
            else:
                size = out_size if out_size is not None else (2 * x.shape[-2], 2 * x.shape[-1])
                x = level(x, size)
        return self.output(x)

    def output(self, x: Tensor) -> Tensor:
        """The last 3x3 convolution and ``final_activation`` on the full-resolution map of the last level."""
        x = self.final(x)
        if self.final_activation == "tanh":
            return torch.tanh(x)
        if self.final_activation == "sigmoid":
            return torch.sigmoid(x)
        return x
