"""The pipelines of the control plugin (inference): what ``tryon.load(task, weights=RUN)`` and ``tryon run`` build.

One model, one weights family ``"avae"`` (003 ch. 3): the encoder μ_e with its learned σ, the VAE decoder, the
generator G(z, ξ) and the critic. A run of ``tryon train avae-reconstruct`` is a weights folder for both tasks:

* ``avae-reconstruct`` (:class:`AvaeReconstructPipeline`): ``pipe(image)`` → :class:`Reconstruction` with
  ``image`` = G(μ_e(x), ξ), the *realistic* reconstruction through the generator, and ``decoded`` = μ_d(μ_e(x)),
  the VAE decoder's (blurry) one, plus ``latents`` (a VAE run's ``image`` is its decoder's; a GAN run, with no
  trained encoder, is refused). It is an editing task: ``latent_shift`` moves the latent between
  the encoder and the generator (003 §2.2.2: inversion is ``x ↦ μ_e(x) ↦ G(μ_e(x), ξ)``). Inputs are files, PIL,
  numpy or tensors (``tryon.io``), letterboxed to the model's size and converted to its channels (grey = mean of
  RGB); outputs come back in the kind and size that went in. A model of points (``arch="mlp"``, the 2-D toy) takes
  and returns ``N×D`` tensors.
* ``avae-generate`` (:class:`AvaeGeneratePipeline`): ``pipe(n=16, seed=0)`` → :class:`tryon.SampleResult` of
  G(z, ξ) with z, ξ ∼ N(0, I) (``decoder=True``, the default for a VAE run: the VAE decoder's samples μ_d(z)).

Exportable component (``tryon export avae-reconstruct --component encoder``): the encoder, RGB ``B×3×H×W`` in
[−1, 1] → μ_e(x) ``B×d`` (:data:`ENCODER_EXPORT`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from tryon import ExportSpec, Pipeline, SampleResult, SampleStats
from tryon.errors import InputError

from .models import ImageEncoder, build_networks
from .specs import LATENT_LOSSES, OBJECTIVES

#: the objectives whose images come from the decoder μ_d (they train no generator G)
DECODER_OBJECTIVES = ("vae", "vaegan")


class AvaePipeline(Pipeline):
    """Encoder, decoder, generator and critic of an AVAE (003 §3.3.2; :mod:`tryon_control.models`).

    Args:
        data_shape: ``[C, H, W]`` for images or ``[D]`` for points.
        arch: ``"conv"`` (003 Fig. 3.5, DCGAN-style) or ``"mlp"`` (the 2-D toy, 003 §3.4.1).
        latent_dim: d (the thesis: 100; small images here: 16).
        noise_dim: dimension of ξ (0: the generator is G(z), "without ξ"; the thesis: ξ as large as z).
        width: the conv width multiplier w (the thesis: 128). hidden: the MLPs' hidden units (128).
        data_scale: points only: a fixed per-coordinate scale of the MLPs' inputs and outputs.
        beta: the KL weight it was trained with. latent_loss: ``"a"`` (003 Eq. 3.8) or ``"b"`` (003 Eq. 3.12).
        objective: what was trained: ``"avae"`` (all four networks), ``"vae"`` (encoder + decoder), ``"gan"``
            (generator + critic), ``"vaegan"`` (encoder, decoder, critic: the decoder is its generator) or ``"bigan"``
            (encoder, generator and a joint critic D(x, z): it reconstructs through G(E(x)), it has no decoder).
        letterbox_fill: the value of the bands that letterbox an input of another aspect ratio (−1 black, 1 white).
    """

    def __init__(self, *, data_shape: Sequence[int] = (1, 16, 16), arch: str = "conv", latent_dim: int = 16,
                 noise_dim: int = 0, width: int = 16, hidden: int = 128, data_scale: Sequence[float] | None = None,
                 beta: float = 1.0, latent_loss: str = "b", objective: str = "avae", letterbox_fill: float = 1.0):
        super().__init__()
        if latent_loss not in LATENT_LOSSES:
            raise InputError("latent_loss", "'a' or 'b'", repr(latent_loss))
        if objective not in OBJECTIVES:
            raise InputError("objective", f"one of {', '.join(OBJECTIVES)}", repr(objective))
        nets = build_networks([int(s) for s in data_shape], arch, int(latent_dim), int(noise_dim), int(width), int(hidden),
                              [float(s) for s in data_scale] if data_scale else None, joint_critic=objective == "bigan")
        self.encoder, self.decoder = nets["encoder"], nets["decoder"]
        self.generator, self.critic = nets["generator"], nets["critic"]
        self.shape = tuple(int(s) for s in data_shape)
        self.latent_dim, self.noise_dim = int(latent_dim), int(noise_dim)

    @property
    def kind(self) -> str:
        return "points" if len(self.shape) == 1 else "images"

    # -- tensors --------------------------------------------------------------------------------
    def _generator(self, seed: int | None) -> torch.Generator:
        return torch.Generator().manual_seed(0 if seed is None else int(seed))

    def noise(self, n: int, seed: int | None = 0) -> Tensor | None:
        """ξ ∼ N(0, I) for ``n`` samples (``None`` when the generator takes no ξ)."""
        if not self.noise_dim:
            return None
        return torch.randn(int(n), self.noise_dim, generator=self._generator(seed)).to(self.device)

    @torch.no_grad()
    def encode(self, x: Tensor, sample: bool = False, seed: int | None = 0) -> Tensor:
        """μ_e(x) (``sample=True``: z = μ + σ ε, as the authors' evaluation draws it)."""
        mu = self.encoder(x.to(self.device))
        if sample:
            eps = torch.randn(mu.shape, generator=self._generator(seed)).to(mu.device)
            mu = mu + self.encoder.sigma * eps
        return mu

    @torch.no_grad()
    def generate(self, z: Tensor, seed: int | None = 0, xi: Tensor | None = None) -> Tensor:
        """G(z, ξ) (ξ drawn with ``seed`` unless given)."""
        z = z.to(self.device)
        if xi is None:
            xi = self.noise(z.shape[0], seed)
        return self.generator(z, xi)

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """The VAE decoder's mean μ_d(z)."""
        return self.decoder(z.to(self.device))

    def _latent(self, z: Tensor, latent_shift: Any) -> Tensor:
        if latent_shift is None:
            return z
        shift = torch.as_tensor(latent_shift, dtype=torch.float32, device=z.device)
        if shift.shape[-1] != self.latent_dim or shift.dim() > 2:
            raise InputError("latent_shift", f"a vector of {self.latent_dim} numbers (or one per image)", str(list(shift.shape)))
        return z + shift

    # -- user inputs ----------------------------------------------------------------------------
    def _inputs(self, image: Any, name: str = "image") -> tuple[Any, Tensor]:
        if self.kind == "points":
            x = torch.as_tensor(image, dtype=torch.float32)
            if x.dim() != 2 or x.shape[1] != self.shape[0]:
                raise InputError(name, f"an N×{self.shape[0]} tensor of points", str(list(x.shape)))
            return None, x.to(self.device)
        from tryon.io import as_batch

        batch = as_batch(image, name=name, size=self.shape[1:], fill=float(self.config.get("letterbox_fill", 1.0)))
        x = batch.tensor
        if self.shape[0] == 1:
            x = x.mean(1, keepdim=True)
        return batch, x.to(self.device)

    def _outputs(self, y: Tensor, batch: Any) -> Any:
        if batch is None:
            return y.detach().cpu()
        from tryon.io import restore

        y = y.detach().float().clamp(-1, 1).cpu()
        return restore(y.repeat(1, 3, 1, 1) if y.shape[1] == 1 else y, batch)


@dataclass
class Reconstruction:
    """``image``: G(z, ξ), the generator's reconstruction; ``decoded``: μ_d(z), the VAE decoder's; ``latents``: z
    (``B×d``). Images in the kind and size of the input."""

    image: Any
    decoded: Any
    latents: Tensor


class AvaeReconstructPipeline(AvaePipeline):
    """``avae-reconstruct``: ``pipe(image, latent_shift=None, sample=False, seed=0)`` → :class:`Reconstruction`."""

    def __call__(self, image: Any, latent_shift: Any = None, sample: bool = False, seed: int | None = 0) -> Reconstruction:
        if self.config.get("objective") == "gan":
            raise InputError("avae-reconstruct weights", "a run that trained the encoder (objective avae or vae)",
                             "a GAN run (objective gan: generator and critic only)")
        batch, x = self._inputs(image)
        z = self._latent(self.encode(x, sample=sample, seed=seed), latent_shift)
        decoded = self._outputs(self.decode(z), batch)
        # a VAE or VAE/GAN run trained no generator: its reconstruction is the decoder's; a BiGAN run trained no decoder
        objective = self.config.get("objective")
        image_out = decoded if objective in DECODER_OBJECTIVES else self._outputs(self.generate(z, seed=seed), batch)
        if objective == "bigan":
            decoded = image_out
        return Reconstruction(image_out, decoded, z.detach().cpu())


class AvaeGeneratePipeline(AvaePipeline):
    """``avae-generate``: ``pipe(n=16, seed=0, decoder=None)`` → ``SampleResult(samples, latents, stats)``,
    samples ``n×C×H×W`` in [−1, 1] (or ``n×D`` points); ``decoder=True`` samples the VAE decoder instead (the
    default for a VAE run, which trained no generator)."""

    def __call__(self, n: int = 16, seed: int | None = 0, decoder: bool | None = None) -> SampleResult:
        if decoder is None:
            decoder = self.config.get("objective") in DECODER_OBJECTIVES
        t0 = time.perf_counter()
        z = torch.randn(int(n), self.latent_dim, generator=self._generator(seed))
        x = self.decode(z) if decoder else self.generate(z, seed=None if seed is None else int(seed) + 1)
        return SampleResult(x.cpu(), z, SampleStats(int(n), int(n), int(n), 1, time.perf_counter() - t0))


# ------------------------------------------------------------------------------------------------ export
def _example(pipe: AvaePipeline, batch: int) -> dict[str, Tensor]:
    _, h, w = pipe.shape
    g = torch.Generator().manual_seed(int(batch))
    return {"image": torch.rand(int(batch), 3, h, w, generator=g) * 2 - 1}


def _build_encoder(pipe: AvaePipeline) -> torch.nn.Module:
    if pipe.kind != "images":
        raise InputError("export encoder", "a model of images (arch 'conv')", f"a model of points, data_shape {list(pipe.shape)}")
    return ImageEncoder(pipe.encoder, pipe.shape[0]).eval()


ENCODER_EXPORT = ExportSpec(
    name="encoder", build=_build_encoder, example_inputs=_example, outputs=("latent",), min_opset=16,
    normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                   "per_tensor": {"image": {"kind": "image"}}},
)


__all__ = ["AvaeGeneratePipeline", "AvaePipeline", "AvaeReconstructPipeline", "ENCODER_EXPORT", "Reconstruction"]
