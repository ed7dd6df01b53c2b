"""Generators, discriminators and the latent weight network of the GAN plugin.

* MLPs for low-dimensional data: 000 Table A.2 (latent 2, two hidden layers of 20, ReLU) and the DOT toy
  models (2→256→256→256→2 leaky-ReLU; D 2→512×3→1) used for 000 Table 3.4.
* DCGAN-style convnets for small images after 000 Table A.3 / 001 Table B.1: FC → (s/4)²×128, two 3×3 convs
  of 64, nearest ×2, two 3×3 convs of 32, nearest ×2, a 3×3 conv of 16, a 5×5 conv to the image, tanh; D: 4×4
  stride-2 conv 32, 3×3 conv 32, 4×4 stride-2 conv 64, 3×3 conv 64, FC → 1 (``base`` scales the widths).
* Discriminator heads: ``"linear"`` or ``"san"`` (the core's :class:`tryon.nn.SANHead`, 004 §3.3).
* :class:`WeightNet`: the latent importance weights w^φ(z) ≥ 0 (002, 000 §3.4.3): an MLP with 4 hidden layers
  of 4·d units, ReLU, and a ReLU output (000 App. C.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tryon.errors import InputError
from tryon.nn import SANHead, SANOutput


def _act(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name in ("lrelu", "leaky_relu"):
        return nn.LeakyReLU(0.2)
    raise InputError("activation", "'relu' or 'lrelu'", repr(name))


def _mlp(sizes: Sequence[int], act: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), _act(act)]
    return nn.Sequential(*layers)


class _CheckedInput(nn.Module):
    """Base giving one clear error when the input's trailing shape is not the one the network was built for."""

    expected: tuple[int, ...] = ()
    what = "input"

    def _check(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.expected:
            raise InputError(f"{type(self).__name__} {self.what}", f"B×{'×'.join(map(str, self.expected))}",
                             f"{'×'.join(map(str, x.shape))}")


class MLPGenerator(_CheckedInput):
    """``z`` (B×d) → ``x`` (B×D); with ``out_shape`` the output is reshaped (and tanh-squashed) to an image."""

    what = "latent"

    def __init__(self, latent_dim: int, out_dim: int, hidden: Sequence[int] = (20, 20), activation: str = "relu",
                 out_shape: Sequence[int] | None = None, scale: float = 1.0):
        super().__init__()
        self.scale = float(scale)  # data scale: the network works at unit scale, outputs are multiplied by it
        self.latent_dim, self.out_dim = int(latent_dim), int(out_dim)
        self.expected = (self.latent_dim,)
        self.body = _mlp([self.latent_dim, *hidden], activation)
        self.out = nn.Linear(list(hidden)[-1] if hidden else self.latent_dim, self.out_dim)
        self.out_shape = tuple(out_shape) if out_shape else None

    def forward(self, z: Tensor) -> Tensor:
        self._check(z)
        x = self.out(self.body(z))
        if self.out_shape is not None:
            return torch.tanh(x).view(z.shape[0], *self.out_shape)
        return x * self.scale if self.scale != 1.0 else x


class _Head(nn.Module):
    """Linear head ``h → <w, h> + b`` or SAN head (normalised direction, 004 §3.3) over B×C features."""

    def __init__(self, features: int, kind: str):
        super().__init__()
        if kind not in ("linear", "san"):
            raise InputError("discriminator head", "'linear' or 'san'", repr(kind))
        self.kind = kind
        self.fc = nn.Linear(features, 1) if kind == "linear" else SANHead(features)

    def forward(self, h: Tensor) -> Tensor:
        if self.kind == "linear":
            return self.fc(h).squeeze(1)
        return self.fc(h[:, :, None, None]).flatten()

    def split(self, h: Tensor) -> SANOutput:
        if self.kind != "san":
            raise InputError("discriminator head", "'san' for the SAN loss", repr(self.kind))
        out = self.fc.split(h[:, :, None, None])
        return SANOutput(out.fun.flatten(), out.dir.flatten())


class MLPDiscriminator(_CheckedInput):
    """``x`` (B×D, or an image flattened) → one score per sample."""

    def __init__(self, in_shape: Sequence[int], hidden: Sequence[int] = (20, 20), activation: str = "relu",
                 head: str = "linear", scale: float = 1.0):
        super().__init__()
        self.scale = float(scale)
        self.expected = tuple(int(s) for s in in_shape)
        n_in = 1
        for s in self.expected:
            n_in *= s
        self.body = _mlp([n_in, *hidden], activation)
        self.head = _Head(list(hidden)[-1] if hidden else n_in, head)

    def features(self, x: Tensor) -> Tensor:
        self._check(x)
        x = x.flatten(1)
        return self.body(x / self.scale if self.scale != 1.0 else x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def san_outputs(self, x: Tensor) -> SANOutput:
        return self.head.split(self.features(x))


class ConvGenerator(_CheckedInput):
    """DCGAN-style generator after 000 Table A.3 (``base=16`` gives its 128/64/32/16 widths at 8·base …).

    ``norm="batch"`` puts batch norm after every hidden convolution, as DCGAN's generator has: without it the pair
    collapsed on 16×16 digits for every loss (sample spread 0–0.17 of the data's, ``benchmarks/gan_conv_digits.py``);
    ``"none"`` (the default) keeps the generators trained before the option existed loadable."""

    what = "latent"

    def __init__(self, latent_dim: int, image_size: int = 28, channels: int = 1, base: int = 16, norm: str = "none"):
        super().__init__()
        if norm not in ("none", "batch"):
            raise InputError("g_norm", "'none' or 'batch'", repr(norm))
        if image_size % 4 or image_size < 8:
            raise InputError("image_size", "a multiple of 4, at least 8", str(image_size))
        self.latent_dim = int(latent_dim)
        self.expected = (self.latent_dim,)
        self.start = image_size // 4
        c8, c4, c2 = 8 * base, 4 * base, 2 * base
        self.fc = nn.Sequential(nn.Linear(self.latent_dim, c8 * self.start ** 2), nn.LeakyReLU(0.2))
        self.c8 = c8
        lr = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.body = nn.Sequential(
            nn.Conv2d(c8, c4, 3, padding=1), lr(), nn.Conv2d(c4, c4, 3, padding=1), lr(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c4, c2, 3, padding=1), lr(), nn.Conv2d(c2, c2, 3, padding=1), lr(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c2, base, 3, padding=1), lr(), nn.Conv2d(base, channels, 5, padding=2), nn.Tanh(),
        )
        if norm == "batch":  # after each hidden conv, before its activation
            layers: list[nn.Module] = []
            for m in self.body:
                if isinstance(m, nn.LeakyReLU) and isinstance(layers[-1], nn.Conv2d):
                    layers.append(nn.BatchNorm2d(layers[-1].out_channels))
                layers.append(m)
            self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        self._check(z)
        return self.body(self.fc(z).view(z.shape[0], self.c8, self.start, self.start))


class ConvDiscriminator(_CheckedInput):
    """DCGAN-style discriminator after 000 Table A.3 (``base=32`` gives its widths)."""

    def __init__(self, image_size: int = 28, channels: int = 1, base: int = 32, head: str = "linear"):
        super().__init__()
        self.expected = (int(channels), int(image_size), int(image_size))
        lr = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.body = nn.Sequential(
            nn.Conv2d(channels, base, 4, 2, 1), lr(), nn.Conv2d(base, base, 3, 1, 1), lr(),
            nn.Conv2d(base, 2 * base, 4, 2, 1), lr(), nn.Conv2d(2 * base, 2 * base, 3, 1, 1), lr(),
        )
        self.head = _Head(2 * base * (image_size // 4) ** 2, head)

    def features(self, x: Tensor) -> Tensor:
        self._check(x)
        return self.body(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def san_outputs(self, x: Tensor) -> SANOutput:
        return self.head.split(self.features(x))


class WeightNet(_CheckedInput):
    """w^φ(z) ≥ 0 (000 eq. 3.4.4): MLP ``layers`` × ``hidden`` ReLU (default 4 × 4·d, 000 App. C.5), ReLU output.

    The output bias starts at 1 so that w ≈ 1 (the untouched prior) and no unit is dead at step 0.
    """

    what = "latent"

    def __init__(self, latent_dim: int, hidden: int = 0, layers: int = 4):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.expected = (self.latent_dim,)
        width = int(hidden) or 4 * self.latent_dim
        self.body = _mlp([self.latent_dim] + [width] * int(layers), "relu")
        self.out = nn.Linear(width, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, 1.0)

    def forward(self, z: Tensor) -> Tensor:
        self._check(z)
        return torch.relu(self.out(self.body(z))).squeeze(1)


class MultiGenerator(nn.Module):
    """DMLGAN's generator (Khayatkhoei et al. 2018; 000 Table 3.1): ``K`` generators of one architecture and a learnt
    prior ``r(c) = softmax(prior_logits)`` over them. The latent is ``[z, s]`` with ``z ∈ R^d`` and ``s ∈ R^K``
    whose argmax picks the generator, so ``latent_dim`` is ``d + K``: a DMLGAN sampler writes the chosen index as a
    one-hot ``s``, and a plain N(0, I) draw is still a valid sample (each generator equally likely)."""

    def __init__(self, generators: Sequence[nn.Module], z_dim: int):
        super().__init__()
        self.generators = nn.ModuleList(generators)
        self.z_dim = int(z_dim)
        self.latent_dim = self.z_dim + len(self.generators)
        self.prior_logits = nn.Parameter(torch.zeros(len(self.generators)))

    def choice(self, z: Tensor) -> Tensor:
        """The generator index of each latent (argmax of its last ``K`` coordinates)."""
        return z[:, self.z_dim:].argmax(1)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise InputError("z", f"N×{self.latent_dim} latents (d = {self.z_dim} + {len(self.generators)} generator "
                             "coordinates)", f"shape {list(z.shape)}")
        c, zz = self.choice(z), z[:, : self.z_dim]
        out: Tensor | None = None
        for k, g in enumerate(self.generators):
            idx = (c == k).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:
                continue
            xk = g(zz[idx])
            if out is None:
                out = xk.new_zeros((z.shape[0], *xk.shape[1:]))
            out = out.index_copy(0, idx, xk)
        return self.generators[0](zz) if out is None else out  # out is None only for an empty batch


def build_generator(config: dict) -> nn.Module:
    """The generator of a :class:`tryon_gan.pipelines.GanPipeline` config."""
    if config["arch"] == "mlp":
        shape = list(config["data_shape"])
        n = 1
        for s in shape:
            n *= s
        return MLPGenerator(config["latent_dim"], n, config["hidden"], config["activation"],
                            out_shape=shape if len(shape) > 1 else None, scale=config.get("data_scale", 1.0))
    if config["arch"] == "conv":
        c, h, _ = config["data_shape"]
        return ConvGenerator(config["latent_dim"], h, c, config["base"], config.get("g_norm", "none"))
    raise InputError("arch", "'mlp' or 'conv'", repr(config["arch"]))


def build_discriminator(config: dict) -> nn.Module:
    head = "san" if config["loss"] == "san" else "linear"
    if config["arch"] == "mlp":
        return MLPDiscriminator(config["data_shape"], config["disc_hidden"] or config["hidden"], config["activation"], head,
                                scale=config.get("data_scale", 1.0))
    c, h, _ = config["data_shape"]
    return ConvDiscriminator(h, c, 2 * config["base"], head)


def latents(generator: torch.nn.Module, n: int, seed: int | None) -> torch.Tensor:
    """``n`` draws of N(0, I_d) for ``generator`` (seeded, on its device)."""
    g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    dev = next(generator.parameters()).device
    return torch.randn(int(n), latent_dim_of(generator), generator=g).to(dev)


def latent_dim_of(generator: Any) -> int:
    """``d`` of a generator (or of an object holding one as ``.generator``)."""
    d = getattr(generator, "latent_dim", None)
    if d is None and hasattr(generator, "generator"):
        d = getattr(generator.generator, "latent_dim", None)
    if d is None:
        raise InputError("generator", "a module with a 'latent_dim' attribute", type(generator).__name__)
    return int(d)


__all__ = ["MLPGenerator", "MLPDiscriminator", "ConvGenerator", "ConvDiscriminator", "MultiGenerator", "WeightNet", "build_generator",
           "build_discriminator", "latents", "latent_dim_of"]
