"""The networks of AVAE (003 §3.3.2, Fig. 3.5): encoder, decoder, generator and critic, as MLPs or DCGAN-style CNNs.

* :class:`Encoder` — ``q(z|x) = N(μ(x), diag σ²)`` with **σ independent of x**, a learned vector (``log_sigma``,
  initialised to 0: σ = 1); ``forward(x)`` returns μ(x).
* :class:`Generator` — ``G(z, ξ)`` on ``concat(z, ξ)`` when ``noise_dim > 0`` ("with ξ"), ``G(z)`` otherwise; the
  VAE decoder ``μ_d(z)`` is the same class with ``noise_dim = 0`` (003 Fig. 3.5: "the decoder architecture is
  identical to the generator architecture").
* :class:`Critic` — the logit of ``C(x)``, the probability that ``x`` is **fake** (003 Eq. 3.9); ``features(x)`` are
  its hidden activations ``Dis_l(x)``, the space VAE/GAN reconstructs in (after Down(4w) for the conv trunk, the
  last hidden layer for the MLP);
* :class:`JointCritic` — BiGAN's critic ``D(x, z)`` on pairs (003 Fig. 3.5 caption and §2.4 of the extract: the
  image critic's trunk → Dense(h); a 2-hidden-layer MLP of z → h; concat → 2 hidden layers of 2h → Dense(1), leaky
  ReLU 0.2, h = 8w), also the logit of *fake*.

Architectures (``arch``):

* ``"mlp"`` — the 2-D toy of 003 §3.4.1: every network a 2-hidden-layer perceptron of ``hidden`` (128) units
  (ReLU in the generator/decoder, leaky ReLU 0.2 in the encoder/critic); ``data_scale`` is a fixed per-coordinate
  preconditioning (inputs divided by it, outputs multiplied), e.g. the toy's std (3, 1).
* ``"conv"`` — 003 Fig. 3.5 as the authors' code builds it (DCGAN-style, width multiplier ``w``): generator =
  Dense(→ h0·w0·8w, no bias) → BN → ReLU → Up(4w) → Up(2w) → Up(w) → ConvT(C, 5×5, stride 2) → tanh, where Up =
  ConvT 5×5 'same' (no bias) → BN → ReLU; critic = Conv(w, 5×5, s2) → leaky ReLU (no BN) → Down(2w) → Down(4w) →
  Down(8w) → Dense(1), where Down = Conv 5×5 'same' (no bias) → BN → leaky ReLU 0.2; encoder = the critic's trunk
  → Dense(latent) for μ. Kernels N(0, 0.02), BN γ ∼ N(1, 0.02). The authors use stride 1 in the second Up block for
  32×32 images (4→8→8→16→32) and stride 2 everywhere for 64×64; generally the number of stride-2 layers is
  ``k = min(4, ⌊log2(min(H, W) / 4)⌋)`` (16×16: 4→8→8→8→16) and the first feature map is ``H/2^k × W/2^k``
  (:func:`conv_plan`). The thesis uses w = 128 and 100-d latents; small images here use w = 16.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from tryon.errors import InputError

ARCHS = ("mlp", "conv")


def conv_plan(size: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """``((h0, w0), strides)`` of the conv networks for images of ``size`` (H, W): the first feature map and the
    strides of the generator's Up(4w), Up(2w), Up(w) and output layers (the critic uses them in reverse)."""
    h, w = int(size[0]), int(size[1])
    if min(h, w) < 8:
        raise InputError("image size", "at least 8×8 for the conv networks", f"{h}×{w}")
    k = min(4, int(math.floor(math.log2(min(h, w) / 4))))
    if h % (1 << k) or w % (1 << k):
        raise InputError("image size", f"H and W multiples of {1 << k} (the conv networks halve them {k} times)", f"{h}×{w}")
    strides = [1, 1, 1, 2]
    for i in (0, 2, 1)[: k - 1]:  # the authors' 32×32 plan: Up(4w) s2, Up(2w) s1, Up(w) s2, output s2
        strides[i] = 2
    return (h >> k, w >> k), tuple(strides)  # type: ignore[return-value]


def _init_dcgan(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Scale(nn.Module):
    """Multiply (``inverse=False``) or divide by a fixed per-coordinate scale (a buffer, saved with the weights)."""

    def __init__(self, scale: Sequence[float], inverse: bool = False):
        super().__init__()
        self.register_buffer("scale", torch.tensor([float(s) for s in scale], dtype=torch.float32))
        self.inverse = bool(inverse)

    def forward(self, x: Tensor) -> Tensor:
        return x / self.scale if self.inverse else x * self.scale


def _mlp(sizes: Sequence[int], act: str, last_act: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if last_act or i < len(sizes) - 2:
            layers.append(nn.ReLU() if act == "relu" else nn.LeakyReLU(0.2))
    return layers


def _up(c_in: int, c_out: int, stride: int, last: bool = False) -> list[nn.Module]:
    conv = nn.ConvTranspose2d(c_in, c_out, 5, stride, padding=2, output_padding=stride - 1, bias=last)
    return [conv, nn.Tanh()] if last else [conv, nn.BatchNorm2d(c_out), nn.ReLU()]


def _down(c_in: int, c_out: int, stride: int, norm: bool = True) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, 5, stride, padding=2, bias=not norm)
    return [conv, nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)] if norm else [conv, nn.LeakyReLU(0.2)]


class _Reshape(nn.Module):
    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], *self.shape)


def generator_body(in_dim: int, data_shape: Sequence[int], arch: str, width: int = 16, hidden: int = 128,
                   data_scale: Sequence[float] | None = None) -> nn.Module:
    """The generator / decoder network from ``in_dim`` inputs to ``data_shape`` outputs (module doc)."""
    if arch == "mlp":
        if len(data_shape) != 1:
            raise InputError("arch 'mlp'", "points (data_shape [D])", f"data_shape {list(data_shape)}")
        d = int(data_shape[0])
        layers = _mlp([in_dim, hidden, hidden, d], "relu", last_act=False)
        return nn.Sequential(*layers, Scale(data_scale or [1.0] * d))
    c, h, w = (int(s) for s in data_shape)
    (h0, w0), (s0, s1, s2, s3) = conv_plan((h, w))
    body = nn.Sequential(nn.Linear(in_dim, 8 * width * h0 * w0, bias=False), _Reshape((8 * width, h0, w0)),
                         nn.BatchNorm2d(8 * width), nn.ReLU(), *_up(8 * width, 4 * width, s0), *_up(4 * width, 2 * width, s1),
                         *_up(2 * width, width, s2), *_up(width, c, s3, last=True))
    _init_dcgan(body)
    return body


def critic_trunk(data_shape: Sequence[int], arch: str, width: int = 16, hidden: int = 128,
                 data_scale: Sequence[float] | None = None) -> tuple[nn.Module, int]:
    """The critic's (and encoder's) trunk and its number of output features (module doc)."""
    if arch == "mlp":
        if len(data_shape) != 1:
            raise InputError("arch 'mlp'", "points (data_shape [D])", f"data_shape {list(data_shape)}")
        d = int(data_shape[0])
        return nn.Sequential(Scale(data_scale or [1.0] * d, inverse=True), *_mlp([d, hidden, hidden], "lrelu", last_act=True)), hidden
    c, h, w = (int(s) for s in data_shape)
    (h0, w0), (s0, s1, s2, s3) = conv_plan((h, w))
    trunk = nn.Sequential(*_down(c, width, s3, norm=False), *_down(width, 2 * width, s2), *_down(2 * width, 4 * width, s1),
                          *_down(4 * width, 8 * width, s0), nn.Flatten())
    _init_dcgan(trunk)
    return trunk, 8 * width * h0 * w0


class Encoder(nn.Module):
    """``x ↦ μ(x)``; ``log_sigma``: the learned, input-independent log σ (003 §3.3.2)."""

    def __init__(self, trunk: nn.Module, features: int, latent_dim: int, dcgan_init: bool = False):
        super().__init__()
        self.trunk = trunk
        self.mu = nn.Linear(features, latent_dim)
        if dcgan_init:
            _init_dcgan(self.mu)
        self.log_sigma = nn.Parameter(torch.zeros(latent_dim))
        self.latent_dim = int(latent_dim)

    @property
    def sigma(self) -> Tensor:
        return self.log_sigma.exp()

    def forward(self, x: Tensor) -> Tensor:
        return self.mu(self.trunk(x))


class Generator(nn.Module):
    """``G(z, ξ)`` (``noise_dim > 0``: the network sees ``concat(z, ξ)``) or ``G(z)`` / the decoder ``μ_d(z)``."""

    def __init__(self, body: nn.Module, latent_dim: int, noise_dim: int = 0):
        super().__init__()
        self.body = body
        self.latent_dim, self.noise_dim = int(latent_dim), int(noise_dim)

    def forward(self, z: Tensor, xi: Tensor | None = None) -> Tensor:
        if self.noise_dim:
            if xi is None:
                raise InputError("xi", f"a B×{self.noise_dim} noise tensor (this generator is G(z, ξ))", "None")
            z = torch.cat([z, xi], 1)
        return self.body(z)


#: modules of the conv critic trunk up to and including Down(4w): [conv, lrelu] + 2 × [conv, BN, lrelu]
CONV_FEATURE_DEPTH = 8


class Critic(nn.Module):
    """The logit of ``C(x)``, the probability that ``x`` is fake (003 Eq. 3.9): one number per sample.

    ``feature_depth``: how many trunk modules :meth:`features` runs (``None``: the whole trunk)."""

    def __init__(self, trunk: nn.Module, features: int, dcgan_init: bool = False, feature_depth: int | None = None):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(features, 1)
        if dcgan_init:
            _init_dcgan(self.head)
        self.feature_depth = feature_depth

    def features(self, x: Tensor) -> Tensor:
        """``Dis_l(x)``, ``B×F`` (flattened): the hidden layer VAE/GAN reconstructs in (Larsen et al. 2016)."""
        trunk = self.trunk if self.feature_depth is None else self.trunk[: self.feature_depth]
        return trunk(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x)).squeeze(1)


class JointCritic(nn.Module):
    """BiGAN's ``D(x, z)`` (module doc): the logit that the pair ``(x, z)`` is fake, ``(G(z), z)`` rather than
    ``(x, E(x))``; ``x`` ``B×…``, ``z`` ``B×d`` → ``B``."""

    def __init__(self, trunk: nn.Module, features: int, latent_dim: int, hidden: int, dcgan_init: bool = False):
        super().__init__()
        h = int(hidden)
        self.trunk = trunk
        self.x_head = nn.Linear(features, h)
        self.z_net = nn.Sequential(*_mlp([int(latent_dim), h, h, h], "lrelu", last_act=False))
        self.joint = nn.Sequential(nn.LeakyReLU(0.2), *_mlp([2 * h, 2 * h, 2 * h, 1], "lrelu", last_act=False))
        if dcgan_init:
            _init_dcgan(self.x_head)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[0] != x.shape[0]:
            raise InputError("z of the joint critic", f"a {x.shape[0]}×d latent batch (one per image)", str(list(z.shape)))
        return self.joint(torch.cat([self.x_head(self.trunk(x)), self.z_net(z)], 1)).squeeze(1)


class ImageEncoder(nn.Module):
    """The exported encoder: RGB ``B×3×H×W`` in [−1, 1] → μ(x) ``B×d`` (grey models see the mean of RGB)."""

    def __init__(self, encoder: Encoder, channels: int):
        super().__init__()
        self.encoder = encoder
        self.channels = int(channels)

    def forward(self, image: Tensor) -> Tensor:
        return self.encoder(image.mean(1, keepdim=True) if self.channels == 1 else image)


def build_networks(data_shape: Sequence[int], arch: str = "conv", latent_dim: int = 16, noise_dim: int = 0, width: int = 16,
                   hidden: int = 128, data_scale: Sequence[float] | None = None, joint_critic: bool = False) -> dict[str, nn.Module]:
    """``{"encoder", "decoder", "generator", "critic"}`` for data of ``data_shape`` (``[D]`` or ``[C, H, W]``);
    ``joint_critic``: the critic is BiGAN's :class:`JointCritic` ``D(x, z)`` (same image trunk) instead of ``C(x)``."""
    if arch not in ARCHS:
        raise InputError("arch", "'mlp' or 'conv'", repr(arch))
    if arch == "conv" and len(data_shape) != 3:
        raise InputError("arch 'conv'", "images (data_shape [C, H, W])", f"data_shape {list(data_shape)}")
    conv = arch == "conv"
    kw = {"arch": arch, "width": width, "hidden": hidden, "data_scale": data_scale}
    enc_trunk, enc_features = critic_trunk(data_shape, **kw)
    crit_trunk, crit_features = critic_trunk(data_shape, **kw)
    return {
        "encoder": Encoder(enc_trunk, enc_features, latent_dim, dcgan_init=conv),
        "decoder": Generator(generator_body(latent_dim, data_shape, **kw), latent_dim, 0),
        "generator": Generator(generator_body(latent_dim + noise_dim, data_shape, **kw), latent_dim, noise_dim),
        "critic": (JointCritic(crit_trunk, crit_features, latent_dim, 8 * width if conv else hidden, dcgan_init=conv) if joint_critic
                   else Critic(crit_trunk, crit_features, dcgan_init=conv, feature_depth=CONV_FEATURE_DEPTH if conv else None)),
    }


__all__ = ["ARCHS", "CONV_FEATURE_DEPTH", "Critic", "Encoder", "Generator", "ImageEncoder", "JointCritic", "Scale",
           "build_networks", "conv_plan", "critic_trunk", "generator_body"]
