"""The seeds' orderings judged over training seeds: one rule for every study.

An ordering "A beats B" measured in several seeds is **held** when A wins in every seed, **mixed** when it wins on
the mean of the per-seed differences but not in every seed, and **not held** otherwise ("n/a" when a difference is
NaN, e.g. a metric undefined at that sample size). The rule of the WUTON quality benchmark (000 Table E.1 and the
orderings of 000 ch. 4), kept here so that every study says "held" in the same sense.
"""

from __future__ import annotations

import math
from typing import Sequence


def seed_verdict(differences: Sequence[float], higher_is_better: bool = True) -> str:
    """``differences`` = metric(A) − metric(B) per seed; ``higher_is_better`` says which sign is a win for A."""
    diffs = [float(d) for d in differences]
    if not diffs or any(math.isnan(d) for d in diffs):
        return "n/a"
    sign = 1.0 if higher_is_better else -1.0
    if all(sign * d > 0 for d in diffs):
        return "held"
    return "mixed" if sign * sum(diffs) / len(diffs) > 0 else "not held"


__all__ = ["seed_verdict"]
