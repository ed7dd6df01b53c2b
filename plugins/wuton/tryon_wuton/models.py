"""WUTON networks: convolutional geometric matcher, siamese warping U-Net, discriminator.

000 §4.3.3.1 and 000 App. E.1:

* **Geometric matcher** (:class:`GeometricMatcher`, taken from CP-VTON / Rocco et al. 2017): two feature
  extractors ``F1`` (garment ``c``) and ``F2`` (person ``p*`` or ``p``) with *non-shared* parameters, each
  "five times one standard convolution layer followed by a 2-strided convolution", depths
  (16, 32, 64, 128, 256), batch norm + ReLU; the local feature vectors are L2-normalised and correlated
  (000 eq. 4.3.3, :class:`FeatureCorrelation`); a regression network "composed of two 2-strided convolution
  layers, two standard convolution layers and one final fully connected layer" predicts θ ∈ R^50, the
  offsets of the 5×5 control points of a TPS (:class:`tryon.geometry.tps.FixedGridTPS`). The FC layer is
  zero-initialised so that θ = 0 (the identity warp) at the start of training.
* **Siamese U-Net** (:class:`WUTON`): encoders ``E1`` (garment) and ``E2`` (person) of the same architecture
  as the matcher's extractors but with instance norm and all 5 scales kept; every scale of ``E1(c)`` is
  warped by the *same* θ ("Each scale of the U-net is transformed with the same parameters θ"),
  concatenated with ``E2``'s map of that scale and fed to a symmetric decoder (:class:`tryon.nn.UNetDecoder`).
* **Discriminator**: the Pix2Pix PatchGAN with five downsamplings (:func:`build_discriminator`).

The same :class:`WUTON` class is the teacher T-WUTON (input ``p*``, 000 eq. 4.3.1) and the student S-WUTON
(input ``p``, 000 eq. 4.3.2). Everything is ONNX-friendly: no data-dependent Python control flow in
``forward``, the TPS bases of every scale are constant buffers computed at construction from the model
resolution ``size=(H, W)``, sampling is ``grid_sample`` (opset >= 16), no ``affine_grid``.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn as nn

from tryon.geometry.tps import FixedGridTPS
from tryon.nn import ConvEncoder, PatchGANDiscriminator, UNetDecoder

DEFAULT_SIZE = (256, 192)
DEFAULT_DEPTHS = (16, 32, 64, 128, 256)


def _encoder_sizes(encoder: nn.Module, size: Sequence[int], in_channels: int) -> list[tuple[int, int]]:
    """Spatial size of each scale of ``encoder`` at input ``size``, measured by one dummy forward.

    Measured rather than computed from a formula so it stays right whatever padding the encoder uses.
    """
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        feats = encoder(torch.zeros(1, in_channels, int(size[0]), int(size[1])))
    encoder.train(was_training)
    return [(int(f.shape[-2]), int(f.shape[-1])) for f in feats]


def l2_normalise(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2-normalise the local feature vectors (over channels), as CP-VTON's ``FeatureL2Norm``."""
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + eps)


class FeatureCorrelation(nn.Module):
    """Correlation map of 000 eq. 4.3.3: ``C_ijk = F1_ij(c) · F2_mn(p*)``, ``k = m * w + n``.

    Inputs ``B×C×h×w`` (garment features, person features), already L2-normalised. Output
    ``B×(h*w)×h×w``: channel ``k`` indexes the person position ``(m, n)`` in row-major order, the spatial
    position is the garment position ``(i, j)``. (CP-VTON orders ``k`` column-major through a transpose;
    row-major is the plain reading of eq. 4.3.3 and is equivalent up to a fixed channel permutation.)
    """

    def forward(self, f_garment: torch.Tensor, f_person: torch.Tensor) -> torch.Tensor:
        h, w = f_garment.shape[-2:]
        a = f_garment.flatten(2)  # B×C×(h*w), index (i, j)
        p = f_person.flatten(2)  # B×C×(h*w), index k = (m, n)
        corr = torch.bmm(p.transpose(1, 2), a)  # B×k×(i,j)
        return corr.unflatten(2, (int(h), int(w)))


class ThetaRegressor(nn.Module):
    """Regression network of 000 App. E.1: 2 stride-2 convs, 2 convs, one FC → θ.

    3×3 kernels with padding 1 (so the stride-2 convs never shrink a 1-pixel map to nothing: the
    correlation map is only ``(H/32)×(W/32)``, 8×6 at 256×192, 2×1 at 64×48); batch norm + ReLU. The FC
    is zero-initialised so θ starts at 0 = identity TPS. A final ``tanh`` (as CP-VTON's
    ``FeatureRegression``) bounds the control-point offsets to (-1, 1), half the image extent.
    """

    def __init__(
        self,
        in_channels: int,
        in_size: Sequence[int],
        out_dim: int = 50,
        channels: Sequence[int] = (128, 64, 64, 32),
        tanh: bool = True,
    ):
        super().__init__()
        c0, c1, c2, c3 = (int(c) for c in channels)

        def block(i: int, o: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, stride=stride, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

        self.convs = nn.Sequential(*block(in_channels, c0, 2), *block(c0, c1, 2), *block(c1, c2, 1), *block(c2, c3, 1))
        h, w = int(in_size[0]), int(in_size[1])
        for _ in range(2):  # two stride-2 3×3 convs with padding 1: ceil(x / 2)
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.fc = nn.Linear(c3 * h * w, out_dim)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.tanh = bool(tanh)

    def forward(self, corr: torch.Tensor) -> torch.Tensor:
        # θ is regressed in fp32 even under mixed-precision autocast: the net is tiny (a few MMAC), the TPS
        # geometry is precision-sensitive, and on 2 CPUs with oneDNN bf16 the weight gradient of kernel taps
        # that only ever see padding (the second stride-2 conv at 1x1 output, e.g. 96x72 or 128x96 inputs)
        # came out NaN: dead taps that training never uses, but any forward that multiplies the padding
        # explicitly then returns NaN (measured: 0 NaN in fp32, 256-640 NaN weights per run in bf16).
        with torch.autocast(device_type=corr.device.type, enabled=False):
            # float64 stays float64: the export's parity reference runs the module in double (tryon.export.parity)
            corr = corr if corr.dtype == torch.float64 else corr.float()
            theta = self.fc(self.convs(corr).flatten(1))
        return torch.tanh(theta) if self.tanh else theta


class GeometricMatcher(nn.Module):
    """Convolutional geometric matcher STN(p, c) → θ (000 §4.3.3.1, App. E.1).

    ``forward(garment, person) -> θ`` (``B×2·grid_size²``, 50 for the 5×5 grid), the offsets of the
    :class:`FixedGridTPS` control points (θ = 0 is the identity).
    """

    def __init__(
        self,
        size: Sequence[int] = DEFAULT_SIZE,
        depths: Sequence[int] = DEFAULT_DEPTHS,
        grid_size: int = 5,
        regressor_channels: Sequence[int] = (128, 64, 64, 32),
        tanh: bool = True,
        in_channels: int = 3,
    ):
        super().__init__()
        depths = tuple(int(d) for d in depths)
        # F1 (garment) and F2 (person): same architecture, non-shared parameters, batch norm (App. E.1).
        self.garment_features = ConvEncoder(in_channels=in_channels, depths=depths, norm="batch")
        self.person_features = ConvEncoder(in_channels=in_channels, depths=depths, norm="batch")
        self.correlation = FeatureCorrelation()
        h, w = _encoder_sizes(self.garment_features, size, in_channels)[-1]
        self.corr_size = (h, w)
        self.regressor = ThetaRegressor(h * w, (h, w), out_dim=2 * grid_size**2, channels=regressor_channels, tanh=tanh)

    def correlate(self, garment: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
        """The correlation map of 000 eq. 4.3.3, ``B×(h*w)×h×w`` at 1/32 of the input resolution."""
        f1 = l2_normalise(self.garment_features(garment)[-1])
        f2 = l2_normalise(self.person_features(person)[-1])
        return self.correlation(f1, f2)

    def forward(self, garment: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
        return self.regressor(self.correlate(garment, person))


class WUTON(nn.Module):
    """Warping U-Net for a virtual try-on (000 §4.3.3.1, Fig. 4.11): matcher + siamese U-Net.

    ``forward(person, garment) -> (image, theta)`` where ``person`` is the agnostic ``p*`` for the teacher
    and the plain person ``p`` for the student, both ``B×3×H×W`` in [-1, 1] at the model resolution
    ``size``. ``warp_garment(garment, theta)`` is ``T_θ(c)`` at pixel level (for ``L_warp``, 000 eq. 4.3.4 /
    4.3.7), ``generate(person, garment, theta)`` runs the U-Net with a given θ (the not-end-to-end
    ablation feeds it a detached θ).

    ``size=(H, W)`` is needed at construction: the TPS basis of every encoder scale (and of the image) is
    precomputed as a constant buffer of :class:`FixedGridTPS` ("TPS grids precomputed per scale as
    constants", for the ONNX export).

    ``plain_ends=True`` (default): App. E.1 puts instance norm in the generator without saying where; as in
    the Pix2Pix U-Net (whose discriminator App. E.1 adopts), the layers that touch pixels are left unnormalised — the first
    encoder level (whose output is the finest skip) and the decoder level that arrives at full resolution.
    Normalising them too (``plain_ends=False``, the layout before) removes each image's mean colour from
    every map the output conv sees: measured at 128×96 after 150 reconstruction-only steps, held-out
    paired L1 0.230 → 0.140 and SSIM 0.674 → 0.711 with plain ends, and the colour cast is gone
    (docs/benchmarks.md). Pipelines record the choice in their ``config.json``; runs saved before it
    existed used the old layout and must be retrained (their weights do not load into the new one).
    """

    def __init__(
        self,
        size: Sequence[int] = DEFAULT_SIZE,
        depths: Sequence[int] = DEFAULT_DEPTHS,
        grid_size: int = 5,
        regressor_channels: Sequence[int] = (128, 64, 64, 32),
        tanh: bool = True,
        garment_fill: float = 1.0,
        plain_ends: bool = True,
    ):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        self.plain_ends = bool(plain_ends)
        self.depths = tuple(int(d) for d in depths)
        self.grid_size = int(grid_size)
        self.garment_fill = float(garment_fill)
        self.matcher = GeometricMatcher(self.size, self.depths, self.grid_size, regressor_channels, tanh)
        # E1 (garment) and E2 (person): non-shared, instance norm, all 5 scales kept (App. E.1). With
        # plain_ends the first encoder level and the last decoder level are not normalised (see the class doc).
        norm_ends = not self.plain_ends
        self.garment_encoder = ConvEncoder(in_channels=3, depths=self.depths, norm="instance", norm_first=norm_ends)
        self.person_encoder = ConvEncoder(in_channels=3, depths=self.depths, norm="instance", norm_first=norm_ends)
        self.feature_sizes = _encoder_sizes(self.garment_encoder, self.size, 3)
        self.tps = FixedGridTPS(grid_size=self.grid_size, sizes=tuple(self.feature_sizes) + (self.size,))
        # "The decoder has an architecture symmetric to the encoder" (App. E.1): the decoder level arriving
        # at scale 1/2^i produces the encoder's channel count of that scale, (16, 16, 32, 64, 128) for depths
        # (16, ..., 256); the skips it concatenates carry 2x channels (garment + person). Sizing the decoder
        # from the doubled skip widths instead costs 3.4x the decoder FLOPs (2.2 vs 0.65 GMAC at 256x192) and
        # is not what the text describes.
        self.decoder = UNetDecoder(
            skip_channels=tuple(2 * d for d in self.depths),
            out_channels=3,
            norm="instance",
            depths=(self.depths[0], *self.depths[:-1]),
            # checkerboard-free start of the App. E transposed convs (tryon.nn.blocks): at step 0 each is
            # nearest upsampling + conv; measured in docs/benchmarks.md (checkerboard power, early losses)
            up_init="nearest-conv",
            norm_last=norm_ends,
        )

    # -- pieces ----------------------------------------------------------------------------------
    def warp_features(self, features: Sequence[torch.Tensor], theta: torch.Tensor) -> list[torch.Tensor]:
        """``E1^i(c) ← T_θ(E1^i(c))`` at every scale ``i`` with the same θ (000 §4.3.3.1)."""
        return [self.tps.warp(f, theta) for f in features]

    def warp_garment(self, garment: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """``T_θ(c)`` on pixels; outside the source image is the garment background (white)."""
        fill = self.garment_fill
        return self.tps.warp(garment - fill, theta) + fill

    def generate(self, person: torch.Tensor, garment: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The siamese U-Net: ``p̃ = G(p*, c, θ)`` (000 eq. 4.3.1)."""
        warped = self.warp_features(self.garment_encoder(garment), theta)
        person_feats = self.person_encoder(person)
        return self.decoder([torch.cat([w, p], dim=1) for w, p in zip(warped, person_feats)])

    def forward(
        self, person: torch.Tensor, garment: torch.Tensor, detach_theta: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(p̃, θ)``. ``detach_theta=True`` (the "not end-to-end" ablation of 000 App. E.3) feeds the U-Net a
        detached θ: losses on the image then do not reach the matcher, the returned θ still does."""
        theta = self.matcher(garment, person)
        return self.generate(person, garment, theta.detach() if detach_theta else theta), theta

    def hparams(self) -> dict[str, Any]:
        return {
            "size": list(self.size),
            "depths": list(self.depths),
            "grid_size": self.grid_size,
            "garment_fill": self.garment_fill,
            "plain_ends": self.plain_ends,
        }


class WUTONExport(nn.Module):
    """Export view of a WUTON: ``(person, garment) -> (image, warped_garment)`` (image first)."""

    def __init__(self, generator: WUTON):
        super().__init__()
        self.generator = generator

    def forward(self, person: torch.Tensor, garment: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, theta = self.generator(person, garment)
        return image, self.generator.warp_garment(garment, theta)


def build_discriminator(in_channels: int = 3, n_down: int = 5, base: int = 64) -> nn.Module:
    """Pix2Pix PatchGAN with five downsamplings instead of three (000 App. E.1)."""
    return PatchGANDiscriminator(in_channels=in_channels, n_down=n_down, base=base, norm="batch")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "FeatureCorrelation",
    "ThetaRegressor",
    "GeometricMatcher",
    "WUTON",
    "WUTONExport",
    "build_discriminator",
    "l2_normalise",
    "count_parameters",
    "DEFAULT_SIZE",
    "DEFAULT_DEPTHS",
]
