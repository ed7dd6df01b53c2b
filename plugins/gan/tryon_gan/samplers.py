"""Samplers of the "gan" family (``tryon samplers --family gan``): ``sample(generator, n, *, seed)`` returns a
:class:`tryon.SampleResult` ``(samples, latents, stats)``.

* ``gan-plain`` — z ∼ N(0, I_d), x = G(z).
* ``jbt`` — Jacobian-based truncation (000 §3.2.3.4): draw ⌈n / keep⌉ latents, keep the n with the lowest
  ‖J_G(z)‖_F (finite differences, :mod:`tryon_gan.jacobian`). With ``threshold`` set (:meth:`JBTSampler.calibrate`)
  it rejects latents above that JFN instead.
* ``simplicial`` — simplicial-cluster truncation (001 §3.3, 000 §3.3.4): seeds u_i = √d·e_{k_i} (the official
  code's rule), p(z) = softmax((z/‖z‖)·Uᵀ), accept z when max_i p_i(z) > τ; τ is calibrated to a target
  acceptance rate (seeds-gan §4.1: the three printed rules differ, so τ only means something once calibrated).
* ``latent-rs`` — latentRS (002 Alg. 2): accept z with probability w(z)/m; acceptance ≈ E[w]/m = 1/m.
* ``latent-ga`` — latentGA (002 Alg. 5): N steps z ← z + ε ∇w(z) (projected for large d).
* ``latent-rs-ga`` — latentRS then latentGA (002 Alg. 6).
* ``drs`` — discriminator rejection sampling (Azadi et al. 2019, seeds-gan §6) on a BCE discriminator.
* ``sir`` — sampling-importance-resampling (Grover et al. 2019): one of N candidates ∝ D/(1−D).

``model_calls`` counts network evaluations on single latents (a batch of B is B calls), per network, summed, so
the cost model of 002 (seeds-gan §5.4) can be checked against ``wall_time_s``; ``stats.extra`` says how they
split.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from tryon import SampleResult, SampleStats
from tryon.errors import InputError

from .jacobian import jacobian_norms
from .models import MultiGenerator, latent_dim_of, latents
from .specs import SAMPLERS

FAMILY = "gan"
_MAX_ROUNDS = 1000


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError("gan sampler request", "a sample count n >= 1 (int)", repr(n))
    return n


def _check_rate(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(name, "an acceptance rate in (0, 1]", repr(v)) from None
    if not 0.0 < f <= 1.0:
        raise InputError(name, "an acceptance rate in (0, 1]", repr(v))
    return f


def _used(ok: torch.Tensor, need: int) -> int:
    """Proposals of a batch actually consumed to collect ``need`` acceptances (all of them if fewer passed), so
    ``acceptance_rate = returned / proposed`` is not biased by batching slack."""
    hits = torch.nonzero(ok.flatten()).flatten()
    if hits.numel() >= need:
        return int(hits[need - 1]) + 1
    return int(ok.numel())


def _gen(seed: int | None) -> torch.Generator | None:
    return torch.Generator().manual_seed(int(seed)) if seed is not None else None


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _randn(n: int, d: int, g: torch.Generator | None, dev: torch.device) -> torch.Tensor:
    return torch.randn(n, d, generator=g).to(dev)


class PlainSampler:
    """z ∼ N(0, I_d), x = G(z)."""

    family = FAMILY

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        z = latents(model, n, seed)
        with torch.no_grad():
            x = model(z)
        return SampleResult(x, z, SampleStats(n, n, n, n, time.perf_counter() - t0, {"generator_calls": n}))


class JBTSampler:
    """Jacobian-based truncation: keep the ``keep`` fraction of latents with the lowest JFN (000 §3.2.3.4;
    "JBT 70 %" keeps 70 %). ``sigma``/``draws``: the finite-difference estimator (σ = 1e−3, N = 10)."""

    family = FAMILY

    def __init__(self, keep: float = 0.9, sigma: float = 1e-3, draws: int = 10, threshold: float | None = None,
                 batch_size: int = 8192):
        self.keep = _check_rate("jbt keep", keep)
        self.sigma, self.draws, self.batch_size = float(sigma), int(draws), int(batch_size)
        self.threshold = None if threshold is None else float(threshold)

    def calibrate(self, generator: torch.nn.Module, n: int = 10_000, seed: int = 12345) -> float:
        """Fix the JFN threshold to the ``keep`` quantile over ``n`` prior latents; later calls reject above it."""
        z = latents(generator, n, seed)
        jfn = jacobian_norms(generator, z, sigma=self.sigma, draws=self.draws, batch_size=self.batch_size, seed=seed)
        self.threshold = float(torch.quantile(jfn.float(), self.keep))
        return self.threshold

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        g = _gen(seed)
        d, dev = latent_dim_of(model), _device(model)
        per = self.draws + 1
        if self.threshold is None:
            total = math.ceil(n / self.keep - 1e-9)
            z = _randn(total, d, g, dev)
            jfn = jacobian_norms(model, z, sigma=self.sigma, draws=self.draws, batch_size=self.batch_size,
                                 seed=None if seed is None else seed + 1)
            order = torch.argsort(jfn)[:n]
            z_keep, cut = z[order], float(jfn[order[-1]])
            proposed = total
        else:
            kept: list[torch.Tensor] = []
            proposed, got, rounds = 0, 0, 0
            while got < n:
                rounds += 1
                if rounds > _MAX_ROUNDS:
                    raise InputError("jbt threshold", "a threshold some latents pass", f"{self.threshold} (none passed)")
                b = max(64, math.ceil((n - got) / self.keep * 1.2))
                z = _randn(b, d, g, dev)
                jfn = jacobian_norms(model, z, sigma=self.sigma, draws=self.draws, batch_size=self.batch_size,
                                     seed=None if seed is None else seed + rounds)
                mask = jfn <= self.threshold
                kept.append(z[mask])
                proposed += _used(mask, n - got)
                got += int(mask.sum())
            z_keep, cut = torch.cat(kept)[:n], self.threshold
        with torch.no_grad():
            x = model(z_keep)
        calls = proposed * per + n
        return SampleResult(x, z_keep, SampleStats(n, n, proposed, calls, time.perf_counter() - t0,
                                                   {"jfn_threshold": cut, "generator_calls": calls, "keep": self.keep}))


def simplex_seeds(latent_dim: int, clusters: int, seed: int = 0) -> torch.Tensor:
    """Cluster seeds: ``√d·e_k`` on ``clusters`` distinct random axes when clusters ≤ d (001's code); for
    clusters > d, ``clusters`` unit directions (evenly spaced angles when d = 2, random otherwise) ×√d."""
    d, m = int(latent_dim), int(clusters)
    if m < 2:
        raise InputError("simplicial clusters", ">= 2", str(m))
    g = torch.Generator().manual_seed(int(seed))
    if m <= d:
        axes = torch.randperm(d, generator=g)[:m]
        u = torch.zeros(m, d)
        u[torch.arange(m), axes] = 1.0
    elif d == 2:
        a = torch.arange(m, dtype=torch.float32) * (2 * math.pi / m)
        u = torch.stack([a.cos(), a.sin()], 1)
    else:
        u = torch.randn(m, d, generator=g)
        u = u / u.norm(dim=1, keepdim=True)
    return u * math.sqrt(d)


def simplicial_scores(z: torch.Tensor, seeds: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(max_i p_i(z), argmax_i p_i(z))`` with ``p = softmax((z/‖z‖)·Uᵀ / temperature)`` (001's code rule)."""
    logits = (z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)) @ seeds.to(z).T / float(temperature)
    p = torch.softmax(logits, dim=1)
    return p.max(1)


class SimplicialSampler:
    """Simplicial-cluster truncation (001 §3.3): accept z when max_i p_i(z) > τ.

    ``acceptance`` calibrates τ as the (1 − acceptance) quantile of max p over ``calibration`` prior latents
    (seeded); ``tau`` fixes it instead. The seeds come from the generator (``generator.simplex``, set when it
    was trained with a simplicial prior) or from ``clusters``/``cluster_seed``.
    """

    family = FAMILY

    def __init__(self, acceptance: float | None = 0.5, tau: float | None = None, clusters: int | None = None,
                 cluster_seed: int = 0, calibration: int = 50_000, temperature: float = 1.0):
        if tau is None and acceptance is None:
            raise InputError("simplicial sampler", "an acceptance rate or a tau", "neither")
        self.acceptance = None if acceptance is None or tau is not None else _check_rate("simplicial acceptance", acceptance)
        self.tau = None if tau is None else float(tau)
        self.clusters, self.cluster_seed = clusters, int(cluster_seed)
        self.calibration, self.temperature = int(calibration), float(temperature)
        self._calibrated_for: Any = None

    def seeds_for(self, generator: torch.nn.Module) -> torch.Tensor:
        s = getattr(generator, "simplex", None)
        if isinstance(s, torch.Tensor) and s.numel():
            return s
        if self.clusters is None:
            raise InputError("simplicial sampler", "clusters=N (the generator has no simplex seeds)", "none")
        return simplex_seeds(latent_dim_of(generator), self.clusters, self.cluster_seed)

    def calibrate(self, generator: torch.nn.Module, seed: int = 12345) -> float:
        """τ such that a fraction ``acceptance`` of prior latents pass (deterministic for ``seed``)."""
        if self.acceptance is None:
            raise InputError("simplicial calibrate", "an acceptance rate", "tau given")
        seeds = self.seeds_for(generator)
        z = torch.randn(self.calibration, latent_dim_of(generator), generator=_gen(seed))
        pmax, _ = simplicial_scores(z, seeds.cpu(), self.temperature)
        self.tau = float(torch.quantile(pmax.double(), 1.0 - self.acceptance))
        self._calibrated_for = id(generator)
        return self.tau

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        if self.acceptance is not None and self._calibrated_for != id(model):
            self.calibrate(model)
        assert self.tau is not None
        g = _gen(seed)
        d, dev = latent_dim_of(model), _device(model)
        seeds = self.seeds_for(model).to(dev)
        target = self.acceptance or 0.5
        kept, labels = [], []
        proposed, got, rounds = 0, 0, 0
        while got < n:
            rounds += 1
            if rounds > _MAX_ROUNDS:
                raise InputError("simplicial tau", "a threshold some latents pass", f"{self.tau} (none in {proposed})")
            b = max(256, math.ceil((n - got) / max(target, 1e-3) * 1.2))
            z = _randn(b, d, g, dev)
            pmax, idx = simplicial_scores(z, seeds, self.temperature)
            ok = pmax > self.tau
            kept.append(z[ok])
            labels.append(idx[ok])
            proposed += _used(ok, n - got)
            got += int(ok.sum())
        z_keep = torch.cat(kept)[:n]
        with torch.no_grad():
            x = model(z_keep)
        return SampleResult(x, z_keep, SampleStats(n, n, proposed, n, time.perf_counter() - t0,
                                                   {"tau": self.tau, "generator_calls": n, "clusters": int(seeds.shape[0])}))


class _LearntPriorSampler:
    """A sampler that draws every latent from a prior the generator learnt (:meth:`latents`, no rejection); its
    stats name what the prior holds (:meth:`extra`)."""

    family = FAMILY

    def latents(self, model: torch.nn.Module, n: int, seed: int | None = None) -> torch.Tensor:
        raise NotImplementedError

    def extra(self, model: torch.nn.Module, z: torch.Tensor) -> dict[str, Any]:
        raise NotImplementedError

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        with torch.no_grad():
            z = self.latents(model, n, seed)
            x = model(z)
        return SampleResult(x, z, SampleStats(n, n, n, n, time.perf_counter() - t0,
                                              {"generator_calls": n, **self.extra(model, z)}))


class DeliGANSampler(_LearntPriorSampler):
    """DeliGAN's prior (Gurumurthy et al. 2017; the baseline of 000 Tables 3.1 / 3.3): ``z = ε + μ_k``, ``ε ∼ N(0, I)``,
    ``k`` uniform over the ``K`` means the generator learnt with its weights (``generator.mixture_means``, set when
    it was trained with ``prior="deligan"``). :meth:`latents` keeps the graph to the means, so a training step's
    generator loss moves them."""

    @staticmethod
    def means_of(generator: torch.nn.Module) -> torch.Tensor:
        mu = getattr(generator, "mixture_means", None)
        if not isinstance(mu, torch.Tensor) or mu.dim() != 2:
            raise InputError("deligan sampler", "a generator trained with prior='deligan' (mixture_means)", "none")
        return mu

    def latents(self, model: torch.nn.Module, n: int, seed: int | None = None) -> torch.Tensor:
        mu = self.means_of(model)
        g = _gen(seed)
        k = torch.randint(0, mu.shape[0], (int(n),), generator=g).to(mu.device)
        return _randn(int(n), mu.shape[1], g, mu.device) + mu[k]

    def extra(self, model: torch.nn.Module, z: torch.Tensor) -> dict[str, Any]:
        return {"components": int(self.means_of(model).shape[0])}


class DMLGANSampler(_LearntPriorSampler):
    """DMLGAN's prior (Khayatkhoei et al. 2018; the baseline of 000 Table 3.1): the generator ``c ∼ r`` with
    ``r = softmax(prior_logits)`` learnt during training, ``z ∼ N(0, I_d)``; the latent ``[z, onehot(c)]`` of a
    :class:`tryon_gan.models.MultiGenerator` (trained with ``prior="dmlgan"``). ``stats.extra["per_generator"]``
    counts the samples each generator drew."""

    @staticmethod
    def multi(generator: torch.nn.Module) -> MultiGenerator:
        if not isinstance(generator, MultiGenerator):
            raise InputError("dmlgan sampler", "a generator trained with prior='dmlgan' (several generators and a prior)",
                             type(generator).__name__)
        return generator

    def latents(self, model: torch.nn.Module, n: int, seed: int | None = None) -> torch.Tensor:
        m = self.multi(model)
        g = _gen(seed)
        probs = torch.softmax(m.prior_logits.detach().float().cpu(), 0)
        c = torch.multinomial(probs, int(n), replacement=True, generator=g)
        dev = m.prior_logits.device
        z = _randn(int(n), m.z_dim, g, dev)
        return torch.cat([z, torch.nn.functional.one_hot(c, len(m.generators)).to(dev, z.dtype)], 1)

    def extra(self, model: torch.nn.Module, z: torch.Tensor) -> dict[str, Any]:
        return {"per_generator": torch.bincount(self.multi(model).choice(z).cpu(), minlength=len(model.generators)).tolist()}


# ------------------------------------------------------------------------------------ latent reweighting
def _weight_net(weights: Any, m: float | None) -> tuple[torch.nn.Module, float]:
    """(w module, m) from a ``gan-latent-weights`` run folder, a LatentWeightsPipeline, or a module + m."""
    if weights is None:
        raise InputError("latent sampler", "weights=RUN (a `tryon train gan-latent-weights` run) or a w(z) module", "none")
    if isinstance(weights, (str, Path)):
        import tryon

        weights = tryon.load("gan-latent-weights", weights=weights, device="cpu")
    if hasattr(weights, "weight_net"):
        return weights.weight_net.eval(), float(m if m is not None else weights.m)
    if isinstance(weights, torch.nn.Module) or callable(weights):
        if m is None:
            raise InputError("latent sampler", "m (the clipping level of w) with a bare w(z) module", "none")
        return weights, float(m)
    raise InputError("latent sampler weights", "a run folder, a LatentWeightsPipeline or a module", type(weights).__name__)


def _project(g: torch.Tensor, z: torch.Tensor, mode: Any) -> torch.Tensor:
    """002 Alg. 5 projection ``g ← g − (g·z) z/√d`` for Gaussian priors in large d (as printed; DOT's code)."""
    d = z.shape[1]
    if mode is True or (mode == "auto" and d >= 16):
        return g - (g * z).sum(1, keepdim=True) * z / math.sqrt(d)
    return g


def _ascend(w: Any, z: torch.Tensor, steps: int, step_size: float, project: Any) -> torch.Tensor:
    for _ in range(int(steps)):
        zz = z.detach().requires_grad_(True)
        with torch.enable_grad():
            out = w(zz).sum()
            # a piecewise-constant w (e.g. a hand-made indicator) has no gradient: the latent stays put
            grad = torch.autograd.grad(out, zz)[0] if out.requires_grad else torch.zeros_like(zz)
        z = (z + step_size * _project(grad, z, project)).detach()
    return z


class LatentRSSampler:
    """latentRS (002 Alg. 2/4): repeat z ∼ N(0, I), u ∼ U[0, 1] until w(z)/m ≥ u; acceptance E[w]/m ≈ 1/m."""

    family = FAMILY

    def __init__(self, weights: Any = None, m: float | None = None, batch_size: int = 4096):
        self.w, self.m = _weight_net(weights, m)
        if not self.m > 0:
            raise InputError("m", "> 0", repr(self.m))
        self.batch_size = int(batch_size)

    def _rs(self, model: torch.nn.Module, n: int, g: torch.Generator | None) -> tuple[torch.Tensor, int]:
        d, dev = latent_dim_of(model), _device(model)
        kept, proposed, got, rounds = [], 0, 0, 0
        while got < n:
            rounds += 1
            if rounds > _MAX_ROUNDS:
                raise InputError("latentRS weights", "w(z) > 0 somewhere", f"no latent accepted in {proposed}")
            b = max(self.batch_size, min(1 << 20, math.ceil((n - got) * self.m * 1.2)))
            z = _randn(b, d, g, dev)
            u = torch.rand(b, generator=g).to(dev)
            with torch.no_grad():
                w = self.w(z)
            ok = w / self.m >= u
            kept.append(z[ok])
            proposed += _used(ok, n - got)
            got += int(ok.sum())
        return torch.cat(kept)[:n], proposed

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        z, proposed = self._rs(model, n, _gen(seed))
        with torch.no_grad():
            x = model(z)
        return SampleResult(x, z, SampleStats(n, n, proposed, proposed + n, time.perf_counter() - t0,
                                              {"m": self.m, "w_calls": proposed, "generator_calls": n}))


class LatentGASampler:
    """latentGA (002 Alg. 5): ``steps`` of z ← z + ε ∇_z w(z) from z ∼ N(0, I); N = 10, ε = 0.05 (000 Table 3.5)."""

    family = FAMILY

    def __init__(self, weights: Any = None, m: float | None = None, steps: int = 10, step_size: float = 0.05,
                 project: Any = "auto"):
        self.w, self.m = _weight_net(weights, m if m is not None else 1.0)
        self.steps, self.step_size, self.project = int(steps), float(step_size), project

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        z = _ascend(self.w, latents(model, n, seed), self.steps, self.step_size, self.project)
        with torch.no_grad():
            x = model(z)
        return SampleResult(x, z, SampleStats(n, n, n, n + n * self.steps, time.perf_counter() - t0,
                                              {"grad_w_calls": n * self.steps, "generator_calls": n}))


class LatentRSGASampler(LatentRSSampler):
    """latentRS+GA (002 Alg. 6): latentRS picks z, then latentGA moves it."""

    def __init__(self, weights: Any = None, m: float | None = None, steps: int = 10, step_size: float = 0.05,
                 project: Any = "auto", batch_size: int = 4096):
        super().__init__(weights, m, batch_size)
        self.steps, self.step_size, self.project = int(steps), float(step_size), project

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        z, proposed = self._rs(model, n, _gen(seed))
        z = _ascend(self.w, z, self.steps, self.step_size, self.project)
        with torch.no_grad():
            x = model(z)
        return SampleResult(x, z, SampleStats(n, n, proposed, proposed + n + n * self.steps, time.perf_counter() - t0,
                                              {"m": self.m, "w_calls": proposed, "grad_w_calls": n * self.steps,
                                               "generator_calls": n}))


# ------------------------------------------------------------------------------------ density-ratio baselines
def _disc(discriminator: Any) -> torch.nn.Module:
    if discriminator is None:
        raise InputError("drs/sir sampler", "discriminator=<a BCE-trained discriminator module>", "none")
    if hasattr(discriminator, "discriminator"):
        discriminator = discriminator.discriminator
    return discriminator.eval()


class DRSSampler:
    """Discriminator rejection sampling (Azadi et al. 2019; seeds-gan §6): with logit D̃ and D_M its max over a
    burn-in, ``F = D̃ − D_M − log(1 − exp(D̃ − D_M − ε)) − γ``, accept with probability σ(F); γ is the
    ``gamma_quantile`` of F over the burn-in."""

    family = FAMILY

    def __init__(self, discriminator: Any = None, burn_in: int = 10_000, gamma_quantile: float = 0.8,
                 eps: float = 1e-6, batch_size: int = 4096):
        self.D = _disc(discriminator)
        self.burn_in, self.gamma_q, self.eps, self.batch_size = int(burn_in), float(gamma_quantile), float(eps), int(batch_size)
        self._fit: tuple[int, float, float] | None = None

    def _f(self, logit: torch.Tensor, dmax: float) -> torch.Tensor:
        diff = (logit - dmax).double()
        return diff - torch.log1p(-torch.exp(diff - self.eps).clamp(max=1 - 1e-12))

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        g = _gen(seed)
        d, dev = latent_dim_of(model), _device(model)
        calls = 0
        if self._fit is None or self._fit[0] != id(model):
            with torch.no_grad():
                logit = self.D(model(_randn(self.burn_in, d, g, dev))).flatten()
            dmax = float(logit.max())
            gamma = float(torch.quantile(self._f(logit, dmax), self.gamma_q))
            self._fit = (id(model), dmax, gamma)
            calls += 2 * self.burn_in
        _, dmax, gamma = self._fit
        kept_z, kept_x, proposed, got, rounds = [], [], 0, 0, 0
        while got < n:
            rounds += 1
            if rounds > _MAX_ROUNDS:
                raise InputError("drs", "a discriminator that accepts some samples", f"none in {proposed}")
            z = _randn(self.batch_size, d, g, dev)
            with torch.no_grad():
                x = model(z)
                logit = self.D(x).flatten()
            dmax = max(dmax, float(logit.max()))
            p = torch.sigmoid(self._f(logit, dmax) - gamma)
            ok = torch.rand(self.batch_size, generator=g).to(dev).double() < p
            kept_z.append(z[ok])
            kept_x.append(x[ok])
            used = _used(ok, n - got)
            proposed += used
            calls += 2 * used
            got += int(ok.sum())
        return SampleResult(torch.cat(kept_x)[:n], torch.cat(kept_z)[:n],
                            SampleStats(n, n, proposed, calls, time.perf_counter() - t0, {"gamma": gamma, "d_max": dmax}))


class SIRSampler:
    """Sampling-importance-resampling (Grover et al. 2019): per output, draw ``candidates`` samples and pick one
    with probability ∝ r = D/(1 − D) = exp(logit) (000 eq. 3.4.3); N = 10 in the seeds' tables."""

    family = FAMILY

    def __init__(self, discriminator: Any = None, candidates: int = 10):
        self.D = _disc(discriminator)
        if int(candidates) < 1:
            raise InputError("sir candidates", ">= 1", repr(candidates))
        self.candidates = int(candidates)

    def sample(self, model: torch.nn.Module, request: Any, *, seed: int | None = None) -> SampleResult:
        n = _check_n(request)
        t0 = time.perf_counter()
        g = _gen(seed)
        d, dev = latent_dim_of(model), _device(model)
        k = self.candidates
        z = _randn(n * k, d, g, dev)
        with torch.no_grad():
            x = model(z)
            logit = self.D(x).flatten().view(n, k).double()
        probs = torch.softmax(logit, dim=1)
        pick = torch.multinomial(probs.cpu(), 1, generator=g).flatten().to(dev)
        rows = torch.arange(n, device=dev) * k + pick
        return SampleResult(x[rows], z[rows], SampleStats(n, n, n * k, 2 * n * k, time.perf_counter() - t0,
                                                          {"candidates": k}))


# ------------------------------------------------------------------------------------ registration


def resolve_sampler(sampler: Any, *, pipeline: Any = None, **options: Any) -> Any:
    """A sampler object from a registered name (+ options) or an object; ``drs``/``sir`` default to the
    pipeline's own discriminator when none is given."""
    if not isinstance(sampler, str):
        return sampler
    from tryon.sampling import get_sampler

    if sampler in ("drs", "sir") and "discriminator" not in options and pipeline is not None:
        options["discriminator"] = pipeline.discriminator
    return get_sampler(sampler, family=FAMILY, **options)


__all__ = ["PlainSampler", "JBTSampler", "SimplicialSampler", "LatentRSSampler", "LatentGASampler", "LatentRSGASampler",
           "DRSSampler", "SIRSampler", "DeliGANSampler", "DMLGANSampler", "SAMPLERS", "resolve_sampler", "simplex_seeds",
           "simplicial_scores", "FAMILY"]
