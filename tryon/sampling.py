"""The sampler protocol: how plugins contribute sampling strategies (hook ``tryon_register_samplers``).

A *sampler* turns a trained model into outputs by a strategy that is separate from the model: GAN
samplers that reject or move latents (latent reweighting, 002 Alg. 1; Jacobian-based truncation,
000 §3.2.3.4; simplicial truncation, 001), EdiBERT orderings that choose which token positions to
resample (000 §4.2.3.4, App. D Alg. 3/7). Both families follow one contract so that a plugin author adds a
strategy without touching the pipelines, and ``tryon samplers`` lists them all::

    from tryon.sampling import SamplerSpec, SampleResult, SampleStats

    class KeepAll:
        family = "gan"                                   # which task family's models it serves
        def sample(self, model, request, *, seed=None):  # request: family-defined (GAN: a count n)
            ...
            return SampleResult(samples, latents, SampleStats(requested=n, returned=n, proposed=n, model_calls=1))

    @tryon.hookimpl
    def tryon_register_samplers(registry):
        registry.register(SamplerSpec("keep-all", family="gan", summary="no rejection", factory=KeepAll))

* ``factory(**options)`` returns the sampler (a class is a factory); options are the strategy's settings
  (an acceptance rate, a top-k, a temperature …).
* ``sampler.family`` names the task family whose models it serves; :func:`get_sampler` refuses a sampler
  of another family than the caller asks for. The family defines what ``model`` and ``request`` are:
  ``"gan"``: a generator and a sample count ``n``; ``"edibert"``: a token model and an edit request (the
  token grid, the latent mask, the positions allowed). Families are documented by the plugins that
  define them.
* ``sample(model, request, *, seed)`` is deterministic for a given seed and returns a
  :class:`SampleResult` ``(samples, latents, stats)`` (a named tuple, so ``samples, latents, stats =
  sampler.sample(...)`` works), with the cost recorded in :class:`SampleStats` so that strategies can be
  compared at equal cost (002's cost model: proposals and model calls per returned sample).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .errors import InputError, PluginError
from .registry import SamplerRegistry, SamplerSpec  # re-exported: the spec and registry live with the others


@dataclass
class SampleStats:
    """What a sampling call cost and how much it kept.

    ``requested`` outputs were asked for, ``returned`` came back, ``proposed`` candidates were drawn
    (``>= returned`` for rejection samplers), ``model_calls`` counts forward passes of the model(s) the
    strategy used (generator, discriminator, weight network, transformer …), ``wall_time_s`` is the
    time of the call. ``extra`` holds strategy-specific figures (a threshold, a calibration quantile).
    """

    requested: int
    returned: int
    proposed: int
    model_calls: int = 0
    wall_time_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def acceptance_rate(self) -> float:
        return self.returned / self.proposed if self.proposed else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acceptance_rate": self.acceptance_rate}


class SampleResult(NamedTuple):
    """``(samples, latents, stats)``: the outputs, what produced them (latents, token positions, or
    ``None``) and the :class:`SampleStats` of the call."""

    samples: Any
    latents: Any
    stats: SampleStats


@runtime_checkable
class Sampler(Protocol):
    """The object a :class:`SamplerSpec` factory returns."""

    family: str

    def sample(self, model: Any, request: Any, *, seed: int | None = None) -> SampleResult: ...


def get_sampler(name: str, family: str | None = None, **options: Any) -> Sampler:
    """Build the registered sampler ``name`` with ``options``; check it serves ``family`` when given."""
    from .plugins import samplers

    spec: SamplerSpec = samplers().get(name)
    if family is not None and spec.family != family:
        known = ", ".join(s.name for s in samplers().for_family(family)) or "none"
        raise InputError(f"sampler {name!r}", f"a sampler for {family!r} models (known: {known})",
                         f"one for {spec.family!r} models")
    sampler = spec.factory(**options)
    check_sampler(sampler, spec)
    return sampler


def check_sampler(sampler: Any, spec: SamplerSpec) -> None:
    """Raise :class:`PluginError` when ``sampler`` does not follow the protocol of ``spec``."""
    if not isinstance(sampler, Sampler):
        raise PluginError(f"sampler {spec.name!r}: factory returned {type(sampler).__name__}, which has no "
                          "'family' attribute and 'sample(model, request, *, seed)' method")
    if sampler.family != spec.family:
        raise PluginError(f"sampler {spec.name!r}: registered for family {spec.family!r} but its object says "
                          f"{sampler.family!r}")


__all__ = ["SampleResult", "SampleStats", "Sampler", "SamplerRegistry", "SamplerSpec", "check_sampler", "get_sampler"]
