"""Latent directions for continuous factors of variation, found without labels (003 ch. 4).

1. **Trajectories** (003 Alg. 1, :func:`build_trajectories`): ``z₀ ~ N(0, I)`` projected on ``‖z‖ ≤ √d``;
   for each sign, the recursive, warm-started blurred-MSE inversion of ``T_{δt_n}(G(z₀))`` over the amounts
   (official code: ±{0.1 … 0.5}; transformations in :mod:`tryon.latent.transforms`); the worst 10 % final
   errors are rejected.
2. **Model** (003 Eq. 4.12–4.13, :func:`fit_direction`): ``t = g(⟨u, z⟩)``, ``‖u‖ = 1``, ``g`` monotone
   piecewise-linear (101 knots on [−5, 5], non-negative slopes, a smoothness penalty), fitted by MSE on
   ``δt = g(⟨u, z_t⟩) − g(⟨u, z₀⟩)``.
3. **Edit** (:meth:`LatentDirection.edit`): move ``z`` along ``u`` so that ``g`` grows by ``amount``
   (``g`` inverted by bisection; amounts beyond what ``g`` reaches saturate, reported by ``reachable``).
   Reshaping the distribution of the factor (003 Eq. 4.14–4.15) is in :mod:`tryon.latent.reshape`.

Any differentiable generator ``z -> image`` works (a GAN generator, a VAE decoder).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.errors import InputError

from .inversion import probe_generator, project
from .recursive import recursive_estimation
from .transforms import TRANSFORMS, Transform


# ------------------------------------------------------------------------------------------------ Algorithm 1
@dataclass
class TrajectoryData:
    """The Algorithm 1 dataset: rows ``(z₀, z_δt, δt, final error)`` kept after rejection."""

    z0: Tensor
    zt: Tensor
    dt: Tensor
    error: Tensor
    rejected: int = 0
    threshold: float = float("inf")

    def __len__(self) -> int:
        return int(self.dt.shape[0])


def build_trajectories(generator: nn.Module, transform: str | Transform, *, n: int = 32,
                       amounts: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5), steps_per_stage: int = 50,
                       lr: float = 0.05, sigma: float = 3.0, reject: float = 0.1, seed: int = 0,
                       latent_dim: int | None = None) -> TrajectoryData:
    """003 Algorithm 1, batched over the ``n`` trajectories: for each sign of ``amounts`` a recursive
    estimation from ``z₀`` (N = ``len(amounts)`` warm-started stages per sign, 2N per trajectory as in the
    official code); the worst ``reject`` fraction of final errors is dropped (Θ = their quantile)."""
    if isinstance(transform, str) and transform not in TRANSFORMS:
        raise InputError("transform", f"one of {sorted(TRANSFORMS)} or a callable", repr(transform))
    fn = TRANSFORMS[transform] if isinstance(transform, str) else transform
    d, _ = probe_generator(generator, latent_dim)
    try:
        dev = next(generator.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")
    g = torch.Generator().manual_seed(int(seed))
    z0 = project(torch.randn(n, d, generator=g).to(dev), "ball", math.sqrt(d))
    rows_z0, rows_zt, rows_dt, rows_err = [], [], [], []
    for sign in (1.0, -1.0):
        tr = recursive_estimation(generator, z0, fn, [sign * a for a in amounts], steps_per_stage=steps_per_stage,
                                  lr=lr, sigma=sigma, latent_dim=d)
        for k, t in enumerate(tr.amounts):
            rows_z0.append(z0)
            rows_zt.append(tr.latents[k])
            rows_dt.append(torch.full((n,), t, device=dev))
            rows_err.append(tr.losses[k])
    z0s, zts, dts, errs = torch.cat(rows_z0), torch.cat(rows_zt), torch.cat(rows_dt), torch.cat(rows_err)
    theta = float(torch.quantile(errs, 1 - reject)) if reject > 0 else float("inf")
    keep = errs <= theta
    return TrajectoryData(z0s[keep], zts[keep], dts[keep], errs[keep], int((~keep).sum()), theta)


# ------------------------------------------------------------------------------------------------ model
class MonotoneMap(nn.Module):
    """``g(s) = Σ_k θ_k · clip(s − c_k, −h, h)`` with ``θ_k ≥ 0`` (softplus), knots ``c_k`` every ``2h`` on
    [−5, 5] (003 §4.3, official code: 101 knots, h = 0.05): monotone, piecewise linear, identity at init."""

    def __init__(self, knots: int = 101, span: float = 5.0):
        super().__init__()
        self.register_buffer("centres", torch.linspace(-span, span, knots))
        self.half = span / (knots - 1)
        self.raw = nn.Parameter(torch.full((knots,), math.log(math.e - 1)))  # softplus(raw) = 1

    @property
    def slopes(self) -> Tensor:
        return F.softplus(self.raw)

    def forward(self, s: Tensor) -> Tensor:
        pieces = (s[..., None] - self.centres).clamp(-self.half, self.half)
        return (pieces * self.slopes).sum(-1)

    def inverse(self, target: Tensor, iters: int = 50) -> Tensor:
        """``s`` with ``g(s) = target`` by bisection on the knot span (saturates at its ends)."""
        lo = torch.full_like(target, float(self.centres[0]) - self.half)
        hi = torch.full_like(target, float(self.centres[-1]) + self.half)
        with torch.no_grad():
            for _ in range(iters):
                mid = (lo + hi) / 2
                up = self(mid) < target
                lo, hi = torch.where(up, mid, lo), torch.where(up, hi, mid)
        return (lo + hi) / 2


@dataclass
class LatentDirection:
    """A fitted factor: unit direction ``u`` and monotone ``g`` with ``t = g(⟨u, z⟩)`` (up to a constant)."""

    u: Tensor
    g: MonotoneMap
    factor: str = ""
    fit: dict[str, float] = field(default_factory=dict)

    def coordinate(self, z: Tensor) -> Tensor:
        return z @ self.u.to(z.device)

    def value(self, z: Tensor) -> Tensor:
        """``g(⟨u, z⟩)``: the factor of ``z`` up to an additive constant."""
        with torch.no_grad():
            return self.g.to(z.device)(self.coordinate(z))

    def edit(self, z: Tensor, amount: float | Tensor) -> Tensor:
        """``z + (s' − s)·u`` with ``g(s') = g(s) + amount`` (003 Eq. 4.13 inverted): the factor moves by ``amount``."""
        s = self.coordinate(z)
        with torch.no_grad():
            g = self.g.to(z.device)
            s_new = g.inverse(g(s) + torch.as_tensor(amount, dtype=z.dtype, device=z.device))
        return z + (s_new - s)[:, None] * self.u.to(z.device)

    def reachable(self, z: Tensor, amount: float) -> Tensor:
        """Whether ``g`` can move each ``z`` by ``amount`` within its knot span (else the edit saturates)."""
        with torch.no_grad():
            g = self.g.to(z.device)
            ends = g(torch.stack([g.centres[0] - g.half, g.centres[-1] + g.half]))
            t = g(self.coordinate(z)) + amount
            return (t >= ends[0]) & (t <= ends[1])


class Directions(dict):
    """``{factor: LatentDirection}`` with ``edit(z, factor, amount)``."""

    def edit(self, z: Tensor, factor: str, amount: float) -> Tensor:
        if factor not in self:
            raise InputError("factor", f"one of {sorted(self)}", repr(factor))
        return self[factor].edit(z, amount)


def fit_direction(data: TrajectoryData, *, steps: int = 400, lr: float = 0.02, smooth: float = 1.0, seed: int = 0,
                  factor: str = "") -> LatentDirection:
    """Fit ``(u, g)`` by MSE on ``δt = g(⟨u, z_t⟩) − g(⟨u, z₀⟩)`` (003 Eq. 4.13) with Adam, full batch.

    ``u`` starts at the mean displacement per unit of ``δt``, ``Σ δt (z_t − z₀) / Σ δt²`` (coordinate-wise
    regression through the origin: with few trajectories it is far less noisy than the full least-squares
    fit, because the inversions also move unrelated coordinates at random), scaled by least squares so that
    ``δt ≈ ⟨v, z_t − z₀⟩``; the monotone ``g`` then bends that linear model. ``smooth`` weights the mean
    squared difference of neighbouring slopes."""
    if len(data) < 2:
        raise InputError("trajectory data", "at least 2 rows", str(len(data)))
    torch.manual_seed(int(seed))
    z0, zt, dt = data.z0.detach().cpu(), data.zt.detach().cpu(), data.dt.detach().cpu()
    diff = zt - z0
    w = (dt[:, None] * diff).sum(0) / (dt**2).sum().clamp_min(1e-12)
    u0 = w / w.norm().clamp_min(1e-12)
    proj = diff @ u0
    scale = float((proj * dt).sum() / (proj**2).sum().clamp_min(1e-12))  # δt ≈ scale · ⟨u0, z_t − z₀⟩
    v0 = u0 * abs(scale)
    scale = abs(scale)
    v = nn.Parameter(v0 / max(scale, 1e-8))
    g = MonotoneMap()
    with torch.no_grad():  # g starts as the linear fit: slope = ‖v0‖
        g.raw.fill_(math.log(math.expm1(max(scale, 1e-3))))
    opt = torch.optim.Adam([v, *g.parameters()], lr=lr)
    for _ in range(int(steps)):
        u = v / v.norm()
        pred = g(zt @ u) - g(z0 @ u)
        sl = g.slopes
        loss = F.mse_loss(pred, dt) + smooth * ((sl[1:] - sl[:-1]) ** 2).mean() * 1e-3
        opt.zero_grad()
        loss.backward()
        opt.step()
    u = (v / v.norm()).detach()
    with torch.no_grad():
        mse = float(F.mse_loss(g(zt @ u) - g(z0 @ u), dt))
    return LatentDirection(u, g.eval().requires_grad_(False), factor, {"mse": mse, "rows": float(len(data))})


def find_direction(generator: nn.Module, transform: str, **options: float) -> LatentDirection:
    """Algorithm 1 + the fit, in one call (options go to :func:`build_trajectories`)."""
    data = build_trajectories(generator, transform, **options)  # type: ignore[arg-type]
    d = fit_direction(data, factor=transform)
    d.fit.update({"rejected": float(data.rejected), "threshold": data.threshold})
    return d


__all__ = ["TrajectoryData", "build_trajectories", "MonotoneMap", "LatentDirection", "Directions", "fit_direction",
           "find_direction"]
