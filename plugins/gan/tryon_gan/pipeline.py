"""The ``gan-generate`` and ``gan-latent-weights`` pipelines.

``tryon.load("gan-generate", weights=RUN)`` rebuilds a trained generator (and its discriminator, kept for the
samplers that need one: DRS, SIR). ``pipe(n=64, seed=0, sampler="jbt", keep=0.7)`` returns a
:class:`tryon.SampleResult` ``(samples, latents, stats)``; without ``sampler`` it draws plain samples from the
Gaussian prior (000 Assumption 1).

``tryon.load("gan-latent-weights", weights=RUN)`` holds the latent importance network w^φ (002, 000 §3.4)
trained by ``tryon train gan-weights``; ``pipe(z)`` returns w(z), and the latentRS/GA samplers take the pipeline
(or its run folder) as their ``weights`` option.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from tryon import Pipeline, SampleResult, SampleStats
from tryon.errors import InputError

from .models import WeightNet, build_discriminator, build_generator, latent_dim_of, latents

LOSSES = ("nonsaturating", "hinge", "wgan", "wgan-gp", "san")


class GanPipeline(Pipeline):
    """A generator ``z ∼ N(0, I_d) ↦ x`` and its discriminator.

    Args:
        data_shape: ``[D]`` for points or ``[C, H, W]`` for images.
        latent_dim: d.
        arch: ``"mlp"`` or ``"conv"`` (DCGAN-style, images only).
        hidden / disc_hidden: MLP hidden widths (000 Table A.2: ``[20, 20]``).
        activation: ``"relu"`` or ``"lrelu"`` (MLPs).
        base: conv width unit.
        loss: the adversarial loss it was trained with (``"san"`` gives the discriminator a SAN head).
        prior: ``"gaussian"`` (000 Assumption 1) or ``"simplicial"`` (001 §3.3: N(0, I) truncated to the
            ``clusters`` simplicial cells at acceptance ``prior_acceptance``; the seeds are a generator buffer).
        data_scale: points only: the MLPs work on x / data_scale (a fixed preconditioning, e.g. the data's std, so
            that a 20-unit MLP reaches modes 9 apart without thousands of steps spent growing its output layer).
    """

    def __init__(self, *, data_shape: Sequence[int] = (2,), latent_dim: int = 2, arch: str = "mlp",
                 hidden: Sequence[int] = (20, 20), disc_hidden: Sequence[int] = (), activation: str = "relu",
                 base: int = 16, loss: str = "wgan-gp", prior: str = "gaussian", clusters: int = 0,
                 prior_acceptance: float = 0.5, cluster_seed: int = 0, data_scale: float = 1.0):
        super().__init__()
        if prior not in ("gaussian", "simplicial"):
            raise InputError("prior", "'gaussian' or 'simplicial'", repr(prior))
        if loss not in LOSSES:
            raise InputError("loss", f"one of {', '.join(LOSSES)}", repr(loss))
        if arch == "conv" and len(data_shape) != 3:
            raise InputError("arch 'conv'", "image data (data_shape [C, H, W])", f"data_shape {list(data_shape)}")
        cfg = {"data_shape": [int(s) for s in data_shape], "latent_dim": int(latent_dim), "arch": arch,
               "hidden": [int(h) for h in hidden], "disc_hidden": [int(h) for h in disc_hidden],
               "activation": activation, "base": int(base), "loss": loss, "data_scale": float(data_scale)}
        self.generator = build_generator(cfg)
        self.discriminator = build_discriminator(cfg)
        self.latent_dim = int(latent_dim)
        if prior == "simplicial":  # 001 §3.3: train on the simplicial-cluster truncated prior
            from .samplers import simplex_seeds

            self.generator.register_buffer("simplex", simplex_seeds(latent_dim, clusters, cluster_seed))

    def prior_sampler(self) -> Any:
        """The sampler of the training prior: plain Gaussian, or simplicial truncation at ``prior_acceptance``."""
        from .samplers import PlainSampler, SimplicialSampler

        if self.config["prior"] == "simplicial":
            return SimplicialSampler(acceptance=self.config["prior_acceptance"])
        return PlainSampler()

    @property
    def kind(self) -> str:
        return "points" if len(self.config["data_shape"]) == 1 else "images"

    def __call__(self, n: int = 64, seed: int | None = 0, sampler: str | Any = None, **options: Any) -> SampleResult:
        """``n`` samples (``sampler``: a registered "gan" sampler name or object; ``options`` build it)."""
        from .samplers import PlainSampler, resolve_sampler

        s = PlainSampler() if sampler is None else resolve_sampler(sampler, pipeline=self, **options)
        with torch.no_grad():
            return s.sample(self.generator, int(n), seed=seed)


class LatentWeightsPipeline(Pipeline):
    """w^φ(z) ≥ 0 over the latent space of a generator (000 eq. 3.4.4); ``m`` is the soft-clipping level used in
    training, which sets latentRS's acceptance 1/m (000 §3.4.3)."""

    def __init__(self, *, latent_dim: int = 2, hidden: int = 0, layers: int = 4, m: float = 3.0):
        super().__init__()
        if not m > 0:
            raise InputError("m", "> 0", repr(m))
        self.weight_net = WeightNet(latent_dim, hidden, layers)
        self.m = float(m)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.weight_net(torch.as_tensor(z, dtype=torch.float32, device=self.device))


def plain_sample(generator: torch.nn.Module, n: int, seed: int | None) -> SampleResult:
    """Plain sampling from the Gaussian prior, as a :class:`SampleResult`."""
    t0 = time.perf_counter()
    z = latents(generator, n, seed)
    with torch.no_grad():
        x = generator(z)
    return SampleResult(x, z, SampleStats(n, n, n, 1, time.perf_counter() - t0))


__all__ = ["GanPipeline", "LatentWeightsPipeline", "LOSSES", "plain_sample", "latents", "latent_dim_of"]
