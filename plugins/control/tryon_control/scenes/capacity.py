"""The cell-capacity analysis of 003 §5.3 (Fig. 5.2): with ``N`` object centres spread uniformly over ``G`` cells,
the count per cell is ≈ Poisson(λ = N / G), and the probability that no cell holds more than its ``K`` boxes is
``Q(K + 1, λ)^G``, ``Q(K + 1, λ)`` being the Poisson CDF at ``K``. At a fixed capacity ``C = G · K`` (the training
cost) the risk of an overloaded cell drops sharply as ``K`` grows (4×4 × K4 ≫ 32 cells × K2 ≫ 8×8 × K1)."""

from __future__ import annotations


def no_overload_probability(n_objects: float, cells: int, k: int) -> float:
    """``P(no cell has more than k objects) = Q(k + 1, n / cells)^cells`` (scipy's Poisson CDF)."""
    from scipy.stats import poisson

    if cells < 1 or k < 0 or n_objects < 0:
        raise ValueError("no_overload_probability: cells >= 1, k >= 0, n_objects >= 0")
    return float(poisson.cdf(int(k), float(n_objects) / int(cells)) ** int(cells))


__all__ = ["no_overload_probability"]
