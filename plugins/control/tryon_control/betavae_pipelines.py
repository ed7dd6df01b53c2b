"""The β-VAE pipelines (003 ch. 4 on dSprites-like images): what ``tryon.load("betavae-edit" | "betavae-generate")`` builds.

One weights family ``"betavae"``: the encoder and decoder of 003 Table 4.2 (:mod:`tryon_control.betavae`) and the
learned factor directions (``directions[factor]``: a unit ``u`` and a monotone ``g`` with ``t = g(⟨u, z⟩)``, 003 Eq.
4.12–4.13; :class:`StoredDirection`). A run of ``tryon train betavae-edit`` is a weights folder for both tasks:

* ``betavae-edit`` (:class:`BetaVaeEditPipeline`): ``pipe(image, direction="x", amount=0.1)`` → :class:`BetaVaeEdit`:
  the image is encoded to ``μ_e(x)``, moved along the direction so that the factor changes by ``amount`` (in the
  units of the transformation: a fraction of the image side for ``x``/``y``, a zoom for ``scale``) and decoded;
  ``latent_amount`` moves ``z`` by that much along ``u`` instead. Inputs: files, PIL, numpy or tensors (``tryon.io``),
  letterboxed on black to the model's size, grey = mean of RGB (grey ``B×1×H×W`` tensors too); outputs in the kind and size that went in.
* ``betavae-generate`` (:class:`BetaVaeGeneratePipeline`): ``pipe(n=16, seed=0)`` → :class:`tryon.SampleResult` of
  ``D(z)``, ``z ∼ N(0, I)``; ``direction`` + ``coordinate``: the images of ``z − ⟨z, u⟩u + coordinate·u`` (the
  traversals of the evaluation protocol, 003 §4.4.1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from tryon import Pipeline, SampleResult, SampleStats
from tryon.errors import InputError

from .betavae import LATENT_DIM, BetaVaeDecoder, BetaVaeEncoder
from .specs import BETAVAE_FACTORS


class StoredDirection(nn.Module):
    """A factor direction kept with the weights: ``u`` (``d``, a buffer; zeros until fitted) and the monotone ``g``
    (:class:`tryon.latent.MonotoneMap`, 101 knots on [−5, 5]); :meth:`direction` gives the core's ``LatentDirection``."""

    def __init__(self, latent_dim: int, factor: str):
        super().__init__()
        from tryon.latent import MonotoneMap

        self.factor = str(factor)
        self.register_buffer("u", torch.zeros(int(latent_dim)))
        self.g = MonotoneMap().requires_grad_(False)

    @property
    def fitted(self) -> bool:
        return bool(self.u.abs().sum() > 0)

    def store(self, direction: Any) -> None:
        """Copy a fitted ``LatentDirection``'s ``u`` and ``g`` in."""
        with torch.no_grad():
            self.u.copy_(direction.u.reshape(-1).to(self.u))
            self.g.load_state_dict(direction.g.state_dict())

    def direction(self) -> Any:
        from tryon.latent import LatentDirection

        if not self.fitted:
            raise InputError(f"direction {self.factor!r}", "a learned direction (train with --directions "
                             f"{self.factor})", "none stored in these weights")
        return LatentDirection(self.u.detach().clone(), self.g, self.factor)


class BetaVaePipeline(Pipeline):
    """Encoder, decoder and directions of a β-VAE (003 Table 4.2).

    Args:
        size: the image side (4·2^k; 64 in 003, 32 here by default). channels: 1 (binary sprites).
        latent_dim: d (003: 10). beta: the KL weight it was trained with (003 §4.4: 1, 5, 10, 20).
        directions: the factors whose directions the weights hold (of ``x``, ``y``, ``scale``).
    """

    def __init__(self, *, size: int = 32, channels: int = 1, latent_dim: int = LATENT_DIM, beta: float = 4.0,
                 directions: Sequence[str] = ("x",)):
        super().__init__()
        unknown = [f for f in directions if f not in BETAVAE_FACTORS]
        if unknown:
            raise InputError("directions", f"factors among {', '.join(BETAVAE_FACTORS)}", repr(list(directions)))
        self.encoder = BetaVaeEncoder(int(size), int(channels), int(latent_dim))
        self.decoder = BetaVaeDecoder(int(size), int(channels), int(latent_dim))
        self.directions = nn.ModuleDict({f: StoredDirection(int(latent_dim), f) for f in directions})
        self.size, self.channels, self.latent_dim = int(size), int(channels), int(latent_dim)

    # -- tensors ----------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """μ_e(x) (``B×d``) of images ``B×C×H×W`` in [−1, 1]."""
        return self.encoder(x.to(self.device))[0]

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """``2·sigmoid(D(z)) − 1``: images ``B×C×H×W`` in [−1, 1]."""
        return self.decoder.image(z.to(self.device))

    def direction(self, factor: str) -> Any:
        """The learned ``LatentDirection`` of ``factor`` (``u``, ``g``)."""
        if factor not in self.directions:
            raise InputError("direction", f"one of {sorted(self.directions) or 'none (no direction stored)'}", repr(factor))
        return self.directions[factor].direction()

    def along(self, z: Tensor, factor: str, coordinate: Any) -> Tensor:
        """``z − ⟨z, u⟩u + coordinate·u`` (003 §4.4.1): ``coordinate`` a number or one per latent."""
        u = self.direction(factor).u.to(z)
        c = torch.as_tensor(coordinate, dtype=z.dtype, device=z.device).reshape(-1, 1)
        return z - (z @ u)[:, None] * u + c * u

    # -- user inputs ------------------------------------------------------------------------------
    def _inputs(self, image: Any) -> tuple[Any, Tensor]:
        from tryon.io import as_batch

        if isinstance(image, Tensor) and image.dim() in (3, 4) and image.shape[-3] == 1:  # grey tensors, as the model's
            image = image.repeat_interleave(3, dim=-3)
        batch = as_batch(image, name="image", size=(self.size, self.size), fill=-1.0)
        x = batch.tensor
        if self.channels == 1 and x.shape[1] != 1:
            x = x.mean(1, keepdim=True)
        return batch, x.to(self.device)

    @staticmethod
    def _outputs(y: Tensor, batch: Any) -> Any:
        from tryon.io import restore

        y = y.detach().float().clamp(-1, 1).cpu()
        return restore(y.repeat(1, 3, 1, 1) if y.shape[1] == 1 else y, batch)


@dataclass
class BetaVaeEdit:
    """``image``: the decoded edited latent; ``reconstruction``: the decoded unedited one (both in the kind and size
    of the input); ``latents``: the edited ``z`` (``B×d``)."""

    image: Any
    reconstruction: Any
    latents: Tensor


class BetaVaeEditPipeline(BetaVaePipeline):
    """``betavae-edit``: ``pipe(image, direction="x", amount=0.0, latent_amount=None)`` → :class:`BetaVaeEdit`."""

    def __call__(self, image: Any, direction: str = "x", amount: Any = 0.0, latent_amount: Any = None) -> BetaVaeEdit:
        batch, x = self._inputs(image)
        z = self.encode(x)
        d = self.direction(direction)
        if latent_amount is not None:
            shift = torch.as_tensor(latent_amount, dtype=z.dtype, device=z.device).reshape(-1, 1)
            edited = z + shift * d.u.to(z)
        else:
            edited = d.edit(z, torch.as_tensor(amount, dtype=z.dtype, device=z.device))
        return BetaVaeEdit(self._outputs(self.decode(edited), batch), self._outputs(self.decode(z), batch), edited.cpu())


class BetaVaeGeneratePipeline(BetaVaePipeline):
    """``betavae-generate``: ``pipe(n=16, seed=0, direction=None, coordinate=None)`` → ``SampleResult(samples,
    latents, stats)``, samples ``n×C×H×W`` in [−1, 1]; with ``direction`` and ``coordinate`` the latents are first
    set to that coordinate along the direction (:meth:`BetaVaePipeline.along`)."""

    def __call__(self, n: int = 16, seed: int | None = 0, direction: str | None = None, coordinate: Any = None) -> SampleResult:
        if (direction is None) != (coordinate is None):
            raise InputError("direction and coordinate", "both or neither", f"direction={direction!r}, coordinate={coordinate!r}")
        t0 = time.perf_counter()
        z = torch.randn(int(n), self.latent_dim, generator=torch.Generator().manual_seed(0 if seed is None else int(seed)))
        if direction is not None:
            z = self.along(z, direction, coordinate)
        x = self.decode(z).cpu()
        return SampleResult(x, z, SampleStats(int(n), int(n), int(n), 1, time.perf_counter() - t0))


__all__ = ["BetaVaeEdit", "BetaVaeEditPipeline", "BetaVaeGeneratePipeline", "BetaVaePipeline", "StoredDirection"]
