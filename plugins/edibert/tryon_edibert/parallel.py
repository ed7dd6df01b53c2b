"""Parallel-decoding samplers of the ``"edibert"`` family: a whole region in a few transformer forwards.

EdiBERT resamples one token per forward (000 App. D Alg. 7: ``epochs × |region|`` forwards, 512 for a full
16×16 grid). MaskGIT (Chang et al., CVPR 2022) fills 256 tokens in 8–12 forwards: each iteration predicts every
still-masked token in one forward, keeps some, and re-masks the rest, the number still masked following a
cosine schedule. Both samplers here follow that schedule and differ in *which* tokens they keep:

* ``maskgit`` (:class:`MaskGITSampler`) — the most confident draws: confidence ``log p(s_i) + τ_t·g_i`` with
  Gumbel noise ``g_i`` and ``τ_t = choice_temperature × (1 − t/T)`` annealed to 0 (MaskGIT's
  ``parallel_decode``; its default ``choice_temperature`` 4.5);
* ``halton`` (:class:`HaltonSampler`) — the next positions of the region in the 2-D Halton order
  (:func:`tryon_edibert.orderings.halton_order`; Besnier et al., Halton-MaskGIT, ICLR 2025): a fixed,
  low-discrepancy order that spreads each step's tokens evenly over the region, so tokens drawn in the same
  forward are rarely neighbours (neighbours are the most dependent, and parallel draws are independent).

**Schedule.** ``N`` tokens of an image's region, ``T = steps`` iterations per pass: after iteration ``t`` the
number still masked is ``ceil(N·cos(π/2·t/T))`` (0 at ``t = T``), so iteration ``t`` commits the difference
(:func:`cosine_remaining`). Few at first, when the context is poorest, most at the end. Images of a batch run
in lockstep, one batched forward per iteration, each on its own schedule; an iteration at which no image
commits anything (tiny regions) costs no forward.

**No [MASK] token** (000 eq. 4.2.6): EdiBERT was trained to fix random codes among correct ones, so a
"masked" position holds its value at the start of the pass (``renoise="start"``: the random codes of inpainting's
randomisation, the pasted content of compositing, the previous pass's result) or a fresh uniform code at every
iteration (``renoise="random"``: Paella's renoising). Tokens outside ``request.positions`` never change.

**Passes.** ``epochs`` passes (default: the request's, 2 in the pipelines), each a full schedule starting from
the previous pass's result (the second pass refines, as the second epoch of Alg. 7 does). The default
``steps = 8`` × 2 passes = **16 forwards** for any region, a full 16×16 grid included (EdiBERT: 512). The
periodic collage of Alg. 7 (when the request has one) runs once at the end of each pass, when every position
holds a committed token: mid-pass grids hold noise at the masked positions, whose decode would pollute it.

**Cost.** ``stats.model_calls`` counts transformer forwards, ``stats.wall_time_s`` the call's wall time
(including the draws and the collage), ``stats.extra`` the token updates, passes and steps. Every forward
recomputes the keys/values of the fixed tokens: with full bidirectional attention they depend on the masked
tokens from the second layer on, so a cache would be approximate (ReCAP-style); not done here.

``latents = {"visits": per image the flat positions in commit order, "revealed": per image the number of
tokens committed at each iteration (passes concatenated)}``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from tryon.sampling import SampleResult

from .orderings import halton_order
from .samplers import EditRequest, SamplerRun, TokenSampler, draw

__all__ = ["cosine_remaining", "MaskGITSampler", "HaltonSampler"]


def cosine_remaining(n: int, t: int, steps: int) -> int:
    """Tokens still masked after iteration ``t`` of ``steps`` for a region of ``n``: ``ceil(n·cos(π/2·t/T))``,
    ``n`` at ``t = 0`` and 0 at ``t = T`` (where ``cos`` is ``6e-17``, not 0, in floating point). The ``1e-9``
    keeps a product that lands on an integer (``cos(π/3) = 0.5000000000000001``) from rounding up."""
    if t <= 0:
        return int(n)
    if t >= steps:
        return 0
    return min(int(n), math.ceil(n * math.cos(math.pi / 2 * t / steps) - 1e-9))


def _codebook_size(model: Any) -> int:
    n = getattr(model, "n_codes", None)
    if n is None:
        raise ValueError("renoise='random' needs the token model's codebook size (a 'n_codes' attribute)")
    return int(n)


class _ScheduledSampler(TokenSampler):
    """The cosine-scheduled loop; subclasses choose the positions to commit (:meth:`_commit`)."""

    def __init__(self, steps: int = 8, epochs: int | None = None, renoise: str = "start", top_k: int | None = None,
                 temperature: float | None = None) -> None:
        super().__init__(top_k, temperature)
        if int(steps) < 1:
            raise ValueError(f"steps: expected at least 1, got {steps!r}")
        if renoise not in ("start", "random"):
            raise ValueError(f"renoise: expected 'start' or 'random', got {renoise!r}")
        self.steps, self.epochs, self.renoise = int(steps), epochs, renoise

    def _pass_state(self, run: SamplerRun) -> Any:
        return None

    def _commit(self, run: SamplerRun, logits: Tensor, free: Tensor, counts: list[int], t: int, state: Any) -> list[tuple[Tensor, Tensor]]:
        """Per image ``(flat positions, new codes)``: ``counts[i]`` positions among ``free[i]`` (``B×L`` bool)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, model: Any, request: EditRequest, *, seed: int | None = None) -> SampleResult:
        run = self._start(request, seed)
        b, steps = run.b, self.steps
        pos = run.pos.view(b, -1)
        sizes = [int(n) for n in pos.sum(1).tolist()]
        passes = int(self.epochs if self.epochs is not None else request.epochs)
        revealed: list[list[int]] = [[] for _ in range(b)]
        for _ in range(passes):
            committed = torch.zeros_like(pos)
            done = [0] * b
            state = self._pass_state(run)
            for t in range(1, steps + 1):
                counts = [n - cosine_remaining(n, t, steps) - d for n, d in zip(sizes, done)]
                for i, k in enumerate(counts):
                    revealed[i].append(k)
                if not any(counts):
                    continue
                free = pos & ~committed
                grid = run.tokens
                if self.renoise == "random":
                    noise = torch.randint(0, _codebook_size(model), grid.shape, generator=run.generator).to(grid.device)
                    grid = torch.where(free.view_as(grid), noise, grid)
                run.forwards += 1
                logits = model(grid)
                for i, (idx, codes) in enumerate(self._commit(run, logits, free, counts, t, state)):
                    if len(idx) == 0:
                        continue
                    run.tokens.view(b, -1)[i, idx] = codes
                    committed[i, idx] = True
                    run.visits[i] += idx.tolist()
                    run.updates += len(idx)
                    done[i] += len(idx)
            if request.collage is not None and int(request.collages_per_epoch) > 0:
                run.tokens = request.collage(run.tokens)
        result = run.result()
        result.stats.extra.update(passes=float(passes), steps=float(steps))
        return SampleResult(result.samples, {"visits": run.visits, "revealed": revealed}, result.stats)


class MaskGITSampler(_ScheduledSampler):
    """MaskGIT's confidence schedule (Chang et al., CVPR 2022): each iteration draws every masked token of the
    region from one forward and keeps the ``counts[i]`` most confident, confidence ``log p(s_i) + τ_t·Gumbel``
    with ``τ_t = choice_temperature·(1 − t/T)``; the rest are re-masked. ``steps`` (8) iterations per pass."""

    def __init__(self, steps: int = 8, epochs: int | None = None, choice_temperature: float = 4.5,
                 renoise: str = "start", top_k: int | None = None, temperature: float | None = None) -> None:
        super().__init__(steps, epochs, renoise, top_k, temperature)
        self.choice_temperature = float(choice_temperature)

    def _commit(self, run: SamplerRun, logits: Tensor, free: Tensor, counts: list[int], t: int, state: Any) -> list[tuple[Tensor, Tensor]]:
        rows = free.reshape(-1).nonzero()[:, 0]
        flat = logits.reshape(run.b * run.h * run.w, -1)[rows]
        codes = draw(flat, run.top_k, run.temperature, run.generator)
        logp = flat.float().log_softmax(-1).gather(-1, codes[:, None])[:, 0]
        tau = self.choice_temperature * (1.0 - t / self.steps)
        u = torch.rand(len(rows), generator=run.generator).clamp_(1e-20, 1.0).to(logp.device)
        conf = torch.full((run.b * run.h * run.w,), float("-inf"), device=logp.device)
        conf[rows] = logp - tau * torch.log(-torch.log(u))
        new = run.tokens.reshape(-1).clone()
        new[rows] = codes
        conf, new = conf.view(run.b, -1), new.view(run.b, -1)
        out = []
        for i, k in enumerate(counts):
            idx = conf[i].topk(k).indices if k > 0 else conf.new_empty(0, dtype=torch.long)
            out.append((idx, new[i, idx]))
        return out


class HaltonSampler(_ScheduledSampler):
    """Halton order (Halton-MaskGIT, ICLR 2025): each iteration commits the next ``counts[i]`` positions of the
    region in the 2-D Halton order, drawn in parallel from one forward. ``steps`` (8) iterations per pass."""

    def _pass_state(self, run: SamplerRun) -> Any:
        return {"orders": [halton_order(p.cpu()) for p in run.pos], "next": [0] * run.b}

    def _commit(self, run: SamplerRun, logits: Tensor, free: Tensor, counts: list[int], t: int, state: Any) -> list[tuple[Tensor, Tensor]]:
        picks = []
        for i, k in enumerate(counts):
            start = state["next"][i]
            picks.append(torch.tensor(state["orders"][i][start : start + k], dtype=torch.long, device=run.tokens.device))
            state["next"][i] = start + k
        rows = torch.cat([i * run.h * run.w + p for i, p in enumerate(picks)])
        if len(rows) == 0:
            return [(p, p) for p in picks]
        codes = draw(logits.reshape(run.b * run.h * run.w, -1)[rows], run.top_k, run.temperature, run.generator)
        return list(zip(picks, codes.split([len(p) for p in picks])))
