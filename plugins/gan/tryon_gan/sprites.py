"""Procedural dSprites-like sprites with known factors, and a *built* (not trained) sprites generator.

003 ch. 4 evaluates latent directions on dSprites, whose factors are known (seeds-control §3.5, R7); the real
``.npz`` is not available offline, so this module draws one soft sprite (disk ↔ rounded square) on black with
six continuous factors: horizontal / vertical position, scale, brightness, hue and shape.

:class:`SpriteGenerator` maps ``z ∈ R^d`` to an image through a fixed random orthogonal mixing ``s = R z``
and the normal CDF Φ (each factor is uniform on its range when ``z ~ N(0, I)``), then a differentiable
renderer. The factor of every latent is therefore known exactly (:meth:`SpriteGenerator.factors`) while the
direction that moves it, ``Rᵀ e_k``, is hidden from the direction finder — and the expected map from
``⟨u, z⟩`` to the factor is the erf shape of 003 Eq. 4.11. :class:`SpritesData` is the matching image dataset
(images + factor labels), for training a GAN or for tests.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tryon.errors import InputError

#: factor name → (latent coordinate of s = R z, low, high); positions/scale in fractions of the image side
FACTORS: dict[str, tuple[int, float, float]] = {
    "x": (0, 0.25, 0.75),
    "y": (1, 0.25, 0.75),
    "scale": (2, 0.08, 0.2),
    "brightness": (3, 0.35, 1.0),
    "hue": (4, 0.0, 1.0),
    "shape": (5, 0.0, 1.0),
}


def _phi(s: Tensor) -> Tensor:
    return 0.5 * (1 + torch.erf(s / math.sqrt(2.0)))


def _phi_inv(p: Tensor) -> Tensor:
    return math.sqrt(2.0) * torch.erfinv(2 * p.clamp(1e-6, 1 - 1e-6) - 1)


def _colour(hue: Tensor) -> Tensor:
    """A saturated RGB colour (B×3, in [0, 1]) on the hue circle."""
    h = hue[:, None] * 2 * math.pi + torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3], device=hue.device)
    return 0.6 + 0.4 * torch.cos(h)


def render(x: Tensor, y: Tensor, scale: Tensor, brightness: Tensor, hue: Tensor, shape: Tensor, size: int = 32,
           sharpness: float = 6.0) -> Tensor:
    """B×3×size×size images in [-1, 1]: black background, one soft sprite (differentiable in every factor).

    ``shape`` 0 → disk (L2 ball), 1 → rounded square (L6 ball); ``sharpness`` sets the edge width (~1 px)."""
    g = (torch.arange(size, dtype=torch.float32, device=x.device) + 0.5) / size
    dx = (g[None, None, :] - x[:, None, None]).abs() / scale[:, None, None]
    dy = (g[None, :, None] - y[:, None, None]).abs() / scale[:, None, None]
    p = (2 + 4 * shape)[:, None, None]
    dist = (dx.clamp_min(1e-6) ** p + dy.clamp_min(1e-6) ** p) ** (1 / p)
    edge = sharpness * size * scale[:, None, None] / 8
    alpha = torch.sigmoid((1 - dist) * edge)
    rgb = _colour(hue) * brightness[:, None]
    return alpha[:, None] * rgb[:, :, None, None] * 2 - 1


class SpriteGenerator(nn.Module):
    """``z (B×d) → B×3×S×S`` sprites; ``d ≥ 6`` (extra coordinates are nuisance dimensions with no effect)."""

    def __init__(self, latent_dim: int = 8, image_size: int = 32, seed: int = 0):
        super().__init__()
        if latent_dim < len(FACTORS):
            raise InputError("latent_dim", f"at least {len(FACTORS)} (one per factor)", str(latent_dim))
        self.latent_dim, self.image_size = int(latent_dim), int(image_size)
        g = torch.Generator().manual_seed(int(seed))
        q, _ = torch.linalg.qr(torch.randn(self.latent_dim, self.latent_dim, generator=g))
        self.register_buffer("mixing", q)  # s = R z (orthogonal: s ~ N(0, I) too)
        # a parameter so that `next(parameters())` finds the device; it has no effect on the output
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)

    def factors(self, z: Tensor) -> dict[str, Tensor]:
        """The exact factor values of latents ``z`` (B each), in the units of :data:`FACTORS`."""
        s = z @ self.mixing.T
        return {k: lo + (hi - lo) * _phi(s[:, i]) for k, (i, lo, hi) in FACTORS.items()}

    def latents_for(self, n: int = 1, **values: float) -> Tensor:
        """Latents whose factors are ``values`` (others at their median), e.g. ``latents_for(x=0.3)``."""
        s = torch.zeros(n, self.latent_dim, device=self.mixing.device)
        for k, v in values.items():
            i, lo, hi = FACTORS[k]
            s[:, i] = _phi_inv(torch.full((n,), (float(v) - lo) / (hi - lo), device=s.device))
        return s @ self.mixing

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InputError("latent", f"B×{self.latent_dim}", "×".join(map(str, z.shape)))
        f = self.factors(z)
        return render(f["x"], f["y"], f["scale"], f["brightness"], f["hue"], f["shape"], self.image_size)


class SpritesData(torch.utils.data.Dataset):
    """``n`` sprites with uniformly drawn factors: item ``i`` → ``(image 3×S×S in [-1, 1], factors (6,))``
    in the order of :data:`FACTORS` (seeded, generated on the fly)."""

    def __init__(self, n: int = 10_000, image_size: int = 32, seed: int = 0):
        self.n, self.size, self.seed = int(n), int(image_size), int(seed)

    def __len__(self) -> int:
        return self.n

    def factors(self, i: int) -> Tensor:
        u = torch.rand(len(FACTORS), generator=torch.Generator().manual_seed(self.seed * 1_000_003 + int(i)))
        return torch.tensor([lo + (hi - lo) * float(v) for v, (_, lo, hi) in zip(u, FACTORS.values())])

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not 0 <= int(i) < self.n:
            raise IndexError(i)
        f = self.factors(i)
        img = render(*(f[k : k + 1] for k in range(len(FACTORS))), size=self.size)[0]
        return img, f


__all__ = ["FACTORS", "render", "SpriteGenerator", "SpritesData"]
