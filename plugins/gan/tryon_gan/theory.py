"""Precision bounds of 000 ch. 3 as small exact functions (seeds-gan §2, §11.1).

* :func:`two_modes_precision_bound` — Th. 3.2.2: a generator sampling two equal-mass modes at distance D with a
  L-Lipschitz map of N(0, I) has ``ᾱ + 2ε/√(2π)·exp(−Φ⁻¹(ᾱ/2)²/2) ≤ 1`` with ε = D/(2L); returns the largest ᾱ.
* :func:`two_modes_lambert_bound` — its approximation ``1 − √(2/π)·W(ε²)`` (valid for ᾱ ≥ 3/4).
* :func:`multi_modes_precision_bound` — Th. 3.2.3: ``ᾱ ≤ (1+x²)/x² e^{−ε²/2} e^{−εx}``, ``x = Φ⁻¹(1 − 1/(β̄M))``.
* :func:`multi_modes_asymptotic_bound` — (3.2.1): ``e^{−ε²/2} e^{−ε√(2 log(β̄M))}``.
* :func:`simplicial_precision_bound` / :func:`simplicial_asymptotic_bound` — Cor. 3.3.1 and (3.3.5) for a
  well-balanced generator onto m ≤ d+1 equidistant modes.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.special import lambertw
from scipy.stats import norm

from tryon.errors import InputError


def _positive(name: str, v: float) -> float:
    v = float(v)
    if not v > 0 or not math.isfinite(v):
        raise InputError(name, "a finite number > 0", repr(v))
    return v


def epsilon(distance: float, lipschitz: float) -> float:
    """ε = D / (2L) (000 Th. 3.2.2)."""
    return _positive("distance", distance) / (2.0 * _positive("lipschitz", lipschitz))


def two_modes_precision_bound(eps: float) -> float:
    """Largest ᾱ ∈ (0, 1) with ``ᾱ + 2ε/√(2π)·exp(−Φ⁻¹(ᾱ/2)²/2) ≤ 1`` (000 Th. 3.2.2, solved exactly).

    Exact values (seeds-gan §2): ε = 0.1, 0.25, 0.5, 1, 2 → 0.9206, 0.8064, 0.6419, 0.4220, 0.2281.
    """
    e = _positive("epsilon", eps)

    def slack(a: float) -> float:
        return a + 2.0 * e / math.sqrt(2.0 * math.pi) * math.exp(-norm.ppf(a / 2.0) ** 2 / 2.0) - 1.0

    # slack(a) increases from -1 (a → 0) to > 0 (a → 1), so the constraint holds exactly below its root
    return float(brentq(slack, 1e-15, 1.0 - 1e-15, xtol=1e-14))


def two_modes_lambert_bound(eps: float) -> float:
    """``1 − √(2/π)·W(ε²)`` with W the Lambert function (000 Th. 3.2.2, for ᾱ ≥ 3/4; at ε = 1: 0.5475)."""
    e = _positive("epsilon", eps)
    return float(1.0 - math.sqrt(2.0 / math.pi) * lambertw(e * e).real)


def _x(num_modes: int, recall: float) -> float:
    if int(num_modes) < 2:
        raise InputError("num_modes", "an integer >= 2", repr(num_modes))
    if not 0 < recall <= 1:
        raise InputError("recall", "a value in (0, 1]", repr(recall))
    if recall * num_modes <= 1:
        raise InputError("recall", f"> 1/M = {1 / num_modes:.4g} (000 Th. 3.2.3)", repr(recall))
    return float(norm.ppf(1.0 - 1.0 / (recall * num_modes)))


def multi_modes_precision_bound(num_modes: int, eps: float, recall: float = 1.0) -> float:
    """000 Th. 3.2.3: ``(1+x²)/x² · e^{−ε²/2} · e^{−εx}``, ``x = Φ⁻¹(1 − 1/(β̄M))`` (> 1 means vacuous).

    E.g. M = 25, ε = 1 → 0.1397; M = 9, ε = 1 → 0.2991 (seeds-gan §2 table)."""
    e = _positive("epsilon", eps)
    x = _x(num_modes, recall)
    return float((1.0 + x * x) / (x * x) * math.exp(-e * e / 2.0) * math.exp(-e * x))


def multi_modes_asymptotic_bound(num_modes: int, eps: float, recall: float = 1.0) -> float:
    """000 eq. (3.2.1): ``e^{−ε²/2} e^{−ε√(2 log(β̄M))}``."""
    e = _positive("epsilon", eps)
    _x(num_modes, recall)
    return float(math.exp(-e * e / 2.0) * math.exp(-e * math.sqrt(2.0 * math.log(recall * num_modes))))


def simplicial_precision_bound(num_modes: int, eps_min: float) -> float:
    """000 Cor. 3.3.1: ``α_G ≤ 1 − ε_min √(log m) e^{−3/2}`` for m ≤ d+1 equidistant modes (clipped at 0)."""
    if int(num_modes) < 2:
        raise InputError("num_modes", "an integer >= 2", repr(num_modes))
    e = _positive("eps_min", eps_min)
    return float(max(0.0, 1.0 - e * math.sqrt(math.log(num_modes)) * math.exp(-1.5)))


def simplicial_asymptotic_bound(num_modes: int, eps_min: float) -> float:
    """000 eq. (3.3.5): ``e^{−ε²/8} e^{−ε √(log(m)/2)}``."""
    if int(num_modes) < 2:
        raise InputError("num_modes", "an integer >= 2", repr(num_modes))
    e = _positive("eps_min", eps_min)
    return float(math.exp(-e * e / 8.0) * math.exp(-e * math.sqrt(math.log(num_modes) / 2.0)))


__all__ = ["epsilon", "two_modes_precision_bound", "two_modes_lambert_bound", "multi_modes_precision_bound",
           "multi_modes_asymptotic_bound", "simplicial_precision_bound", "simplicial_asymptotic_bound"]
