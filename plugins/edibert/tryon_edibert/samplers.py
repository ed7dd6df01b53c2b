"""EdiBERT samplers (family ``"edibert"``): strategies that choose which token positions to resample and how
many per transformer forward. Registered through ``tryon_register_samplers``; the pipelines look them up by
name (``tryon.sampling.get_sampler(name, family="edibert", **options)``), so a plugin adds a strategy without
touching the pipelines.

**The family's protocol.** ``model`` is a token model (``tokens B×h×w → logits B×h×w×N``, e.g.
:class:`tryon_edibert.models.EdiBERTTransformer`); ``request`` is an :class:`EditRequest`;
``sample(model, request, seed=...)`` returns ``SampleResult(samples=tokens B×h×w, latents={"visits": per image
the flat positions in update order}, stats)`` with ``stats.model_calls`` = transformer forwards.

Samplers here:

* ``spiral`` / ``random`` / ``raster`` — one token per forward in that order, ``epochs`` passes (000 App. D
  Alg. 7; the official script's cost, ``epochs × |region|`` forwards);
* ``spiral-rings`` — batched: one ring of the spiral per forward (at most ``max_per_forward`` tokens),
  every token of the ring drawn in parallel from the same forward;
* ``least-likely`` — batched: per forward, the ``ceil(remaining / steps_left)`` positions of the region with
  the highest negative log-likelihood not yet updated this epoch (MaskGIT-like schedule over ``steps``);
* ``denoise`` — 000 Alg. 3: per forward pick ``per_forward`` positions with probability
  ``softmax(NLL / selection_temperature)`` over the allowed positions and resample them, ``steps`` times.

The parallel-decoding samplers ``maskgit`` and ``halton`` (cosine schedule, 16 forwards by default for any
region) live in :mod:`tryon_edibert.parallel`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from tryon.sampling import SampleResult, SampleStats

from .orderings import ORDERINGS, spiral_rings

FAMILY = "edibert"

__all__ = ["EditRequest", "SamplerRun", "TokenSampler", "OneTokenSampler", "RingSampler", "LeastLikelySampler", "DenoiseSampler",
           "FAMILY"]


@dataclass
class EditRequest:
    """What to edit: ``tokens`` (``B×h×w`` long, the start grid) and ``positions`` (``B×h×w`` bool, the tokens
    allowed to change: the dilated latent mask). ``collage(tokens) -> tokens`` (optional) is the periodic
    collage of Alg. 7, called ``collages_per_epoch`` times per epoch at evenly spaced forwards."""

    tokens: Tensor
    positions: Tensor
    epochs: int = 2
    top_k: int | None = 100
    temperature: float = 1.0
    collage: Callable[[Tensor], Tensor] | None = None
    collages_per_epoch: int = 4
    steps: int = 50  # denoise iterations / least-likely forwards per epoch
    extra: dict[str, Any] = field(default_factory=dict)


def draw(logits: Tensor, top_k: int | None, temperature: float, generator: torch.Generator | None) -> Tensor:
    """Sample one code per row of ``logits (n×N)`` after top-k filtering and temperature."""
    logits = logits.float() / max(float(temperature), 1e-6)
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = logits.topk(int(top_k), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(logits.device)


class _Clock:
    """Calls the collage after the forwards ``ceil(j·n / c)``, j = 1..c, of an epoch of ``n`` forwards."""

    def __init__(self, request: EditRequest, n_forwards: int) -> None:
        c = max(0, int(request.collages_per_epoch)) if request.collage is not None else 0
        self.at = {max(1, math.ceil(j * n_forwards / c)) for j in range(1, c + 1)} if c and n_forwards else set()
        self.request = request

    def tick(self, k: int, tokens: Tensor) -> Tensor:
        if k in self.at and self.request.collage is not None:
            return self.request.collage(tokens)
        return tokens


class SamplerRun:
    """State of one ``sample`` call: the seeded generator, the working token grid, the allowed positions, the
    resolved top-k / temperature, the visit lists and the counters that become :class:`SampleStats`."""

    def __init__(self, request: EditRequest, seed: int | None, top_k: int | None, temperature: float | None) -> None:
        self.t0 = time.perf_counter()
        tokens, pos = request.tokens, request.positions.bool()
        if tokens.dim() != 3 or pos.shape != tokens.shape:
            raise ValueError(f"EditRequest: tokens B×h×w and positions of the same shape expected, got "
                             f"{tuple(tokens.shape)} and {tuple(pos.shape)}")
        self.tokens, self.pos = tokens.clone(), pos
        self.b, self.h, self.w = tokens.shape
        self.generator = torch.Generator()
        self.generator.manual_seed(0 if seed is None else int(seed))
        self.top_k = top_k if top_k is not None else request.top_k
        self.temperature = temperature if temperature is not None else request.temperature
        self.visits: list[list[int]] = [[] for _ in range(self.b)]
        self.forwards = self.updates = 0

    def forward(self, model: Any) -> Tensor:
        """One transformer forward on the current grid (counted)."""
        self.forwards += 1
        return model(self.tokens)

    def resample(self, logits: Tensor, i: int, idx: Tensor) -> None:
        """Draw new codes for the flat positions ``idx`` of image ``i`` from its ``logits`` and record the visit."""
        self.tokens.view(self.b, -1)[i, idx] = draw(logits[i].view(self.h * self.w, -1)[idx], self.top_k,
                                                     self.temperature, self.generator)
        self.visits[i] += idx.tolist()
        self.updates += len(idx)

    def nll(self, logits: Tensor) -> Tensor:
        """``B×(h·w)`` negative log-likelihood of the current token at every position."""
        logp = logits.float().log_softmax(-1).view(self.b, self.h * self.w, -1)
        return -logp.gather(-1, self.tokens.view(self.b, -1, 1))[..., 0]

    def result(self) -> SampleResult:
        stats = SampleStats(requested=self.b, returned=self.b, proposed=self.b, model_calls=self.forwards,
                            wall_time_s=time.perf_counter() - self.t0, extra={"token_updates": float(self.updates)})
        return SampleResult(self.tokens, {"visits": self.visits}, stats)


class TokenSampler:
    """Base of the family: ``top_k`` / ``temperature`` given here override the request's."""

    family = FAMILY

    def __init__(self, top_k: int | None = None, temperature: float | None = None) -> None:
        self.top_k, self.temperature = top_k, temperature

    def _start(self, request: EditRequest, seed: int | None) -> SamplerRun:
        return SamplerRun(request, seed, self.top_k, self.temperature)


class OneTokenSampler(TokenSampler):
    """One token per forward, positions in ``order`` (``spiral``, ``random`` or ``raster``); images of a batch
    advance in lockstep (one batched forward per step)."""

    def __init__(self, order: str = "spiral", top_k: int | None = None, temperature: float | None = None) -> None:
        if order not in ORDERINGS:
            raise ValueError(f"order: expected one of {sorted(ORDERINGS)}, got {order!r}")
        super().__init__(top_k, temperature)
        self.order = order

    def _orders(self, pos: Tensor, g: torch.Generator) -> list[list[int]]:
        if self.order == "random":
            return [ORDERINGS["random"](p.cpu(), g) for p in pos]
        return [ORDERINGS[self.order](p.cpu()) for p in pos]

    @torch.no_grad()
    def sample(self, model: Any, request: EditRequest, *, seed: int | None = None) -> SampleResult:
        run = self._start(request, seed)
        for _ in range(int(request.epochs)):
            orders = self._orders(run.pos, run.generator)
            n = max((len(o) for o in orders), default=0)
            clock = _Clock(request, n)
            for k in range(n):
                logits = run.forward(model)
                rows = [(i, orders[i][k]) for i in range(run.b) if k < len(orders[i])]
                sel = torch.stack([logits[i].view(run.h * run.w, -1)[p] for i, p in rows])
                new = draw(sel, run.top_k, run.temperature, run.generator)
                for (i, p), t in zip(rows, new):
                    run.tokens.view(run.b, -1)[i, p] = t
                    run.visits[i].append(p)
                run.updates += len(rows)
                run.tokens = clock.tick(k + 1, run.tokens)
        return run.result()


class RingSampler(TokenSampler):
    """Batched spiral: every token of one ring (border → inside) is drawn from one forward; rings longer
    than ``max_per_forward`` are cut into chunks."""

    def __init__(self, max_per_forward: int = 64, top_k: int | None = None, temperature: float | None = None) -> None:
        super().__init__(top_k, temperature)
        self.max_per_forward = max(1, int(max_per_forward))

    @torch.no_grad()
    def sample(self, model: Any, request: EditRequest, *, seed: int | None = None) -> SampleResult:
        run = self._start(request, seed)
        groups_per_image = []
        for p in run.pos:
            groups = []
            for ring in spiral_rings(p.cpu()):
                groups += [ring[s : s + self.max_per_forward] for s in range(0, len(ring), self.max_per_forward)]
            groups_per_image.append(groups)
        n = max((len(gr) for gr in groups_per_image), default=0)
        for _ in range(int(request.epochs)):
            clock = _Clock(request, n)
            for k in range(n):
                logits = run.forward(model)
                for i in range(run.b):
                    if k < len(groups_per_image[i]):
                        run.resample(logits, i, torch.tensor(groups_per_image[i][k], device=run.tokens.device))
                run.tokens = clock.tick(k + 1, run.tokens)
        return run.result()


class LeastLikelySampler(TokenSampler):
    """Batched: ``steps`` forwards per epoch; each resamples the least likely positions (highest NLL of the
    current token) among those of the region not yet updated this epoch, ``ceil(remaining / steps_left)``
    at a time."""

    def __init__(self, steps: int | None = None, top_k: int | None = None, temperature: float | None = None) -> None:
        super().__init__(top_k, temperature)
        self.steps = steps

    @torch.no_grad()
    def sample(self, model: Any, request: EditRequest, *, seed: int | None = None) -> SampleResult:
        run = self._start(request, seed)
        steps = max(1, int(self.steps if self.steps is not None else min(request.steps, 8)))
        for _ in range(int(request.epochs)):
            remaining = run.pos.clone().view(run.b, -1)
            clock = _Clock(request, steps)
            for k in range(steps):
                if not bool(remaining.any()):
                    break
                logits = run.forward(model)
                nll = run.nll(logits)
                for i in range(run.b):
                    left = int(remaining[i].sum())
                    if left == 0:
                        continue
                    score = nll[i].masked_fill(~remaining[i], float("-inf"))
                    idx = score.topk(math.ceil(left / (steps - k))).indices
                    run.resample(logits, i, idx)
                    remaining[i, idx] = False
                run.tokens = clock.tick(k + 1, run.tokens)
        return run.result()


class DenoiseSampler(TokenSampler):
    """000 Alg. 3: ``steps`` iterations; each draws ``per_forward`` positions with probability
    ``softmax(NLL / selection_temperature)`` over the allowed positions and resamples them from
    ``p(· | s)`` (the denoising notebook's ``multiple_sampling`` when ``per_forward > 1``)."""

    def __init__(self, per_forward: int = 1, selection_temperature: float = 0.05, top_k: int | None = None,
                 temperature: float | None = None) -> None:
        super().__init__(top_k, temperature)
        self.per_forward = max(1, int(per_forward))
        self.selection_temperature = float(selection_temperature)

    @torch.no_grad()
    def sample(self, model: Any, request: EditRequest, *, seed: int | None = None) -> SampleResult:
        run = self._start(request, seed)
        for _ in range(int(request.steps)):
            logits = run.forward(model)
            nll = run.nll(logits)
            for i in range(run.b):
                allowed = run.pos[i].view(-1)
                n_allowed = int(allowed.sum())
                if n_allowed == 0:
                    continue
                # normalise the NLL per image so the selection temperature is scale-free
                score = nll[i] / nll[i][allowed].max().clamp_min(1e-6)
                probs = (score / self.selection_temperature).masked_fill(~allowed, float("-inf")).softmax(-1)
                idx = torch.multinomial(probs.cpu(), min(self.per_forward, n_allowed), replacement=False,
                                        generator=run.generator).to(run.tokens.device)
                run.resample(logits, i, idx)
        return run.result()


def spiral_sampler(**kw: Any) -> OneTokenSampler:
    return OneTokenSampler("spiral", **kw)


def random_sampler(**kw: Any) -> OneTokenSampler:
    return OneTokenSampler("random", **kw)


def raster_sampler(**kw: Any) -> OneTokenSampler:
    return OneTokenSampler("raster", **kw)
