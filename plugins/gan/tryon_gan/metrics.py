"""Sample-quality numbers for the GAN plugin: EMD (002 §4.1), the core's PRDC, and the oracle of synthetic data.

* :func:`emd` — ``min_σ (1/n) Σ_i ‖x_i − y_σ(i)‖``, the exact assignment between two equal-size sets
  (``scipy.optimize.linear_sum_assignment``), reported as the mean per point as in 000 Table 3.4 (seeds-gan §1.4).
* :func:`hausdorff` — ``max{max_a min_b ‖a − b‖, max_b min_a ‖a − b‖}`` between two point sets (000 App. A.2.2), from
  scipy's ``directed_hausdorff`` both ways: how far the worst point of either set is from the other set.
* :func:`evaluate_points` — improved precision / recall / density / coverage (:func:`tryon.metrics.prdc.prdc`,
  Euclidean in data space), EMD, the Hausdorff distance and, when the data knows its modes, the oracle precision
  (share of samples within 3σ of a mode) and the number of modes hit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist, directed_hausdorff

from tryon.errors import InputError
from tryon.metrics.prdc import prdc


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def emd(a: Any, b: Any) -> float:
    """Mean matched distance of the optimal one-to-one assignment between two n-point sets (002 §4.1)."""
    x, y = _np(a), _np(b)
    if x.shape != y.shape:
        raise InputError("emd", f"two sets of the same shape ({x.shape})", f"{y.shape}")
    cost = cdist(x, y)
    r, c = linear_sum_assignment(cost)
    return float(cost[r, c].mean())


def hausdorff(a: Any, b: Any) -> float:
    """The Hausdorff distance between two point sets (000 App. A.2.2): sensitive to the single worst outlier of
    either set, by design (it measures how close the two supports are)."""
    x, y = _np(a), _np(b)
    if x.shape[1:] != y.shape[1:] or not len(x) or not len(y):
        raise InputError("hausdorff", f"two non-empty sets of points of one dimension ({x.shape[1:]})", f"{y.shape}")
    return float(max(directed_hausdorff(x, y)[0], directed_hausdorff(y, x)[0]))


def evaluate_points(data: Any, samples: Any, *, n: int | None = None, k: int = 5, emd_n: int = 1000,
                    seed: int = 0) -> dict[str, float]:
    """Metrics of ``samples`` against fresh draws of ``data`` (a :class:`tryon_gan.data.PointData`)."""
    fake = _np(samples)
    n = int(n or len(fake))
    real = _np(data.sample(n, seed=seed))
    out = {k2: v for k2, v in prdc(real, fake[:n], k=k).items() if k2 in ("precision", "recall", "density", "coverage")}
    m = min(emd_n, len(fake), len(real))
    out["emd"] = emd(real[:m], fake[:m])
    out["hausdorff"] = hausdorff(real, fake[:n])
    if getattr(data, "has_oracle", lambda: False)() and data.std is not None:
        out["oracle_precision"] = data.oracle_precision(fake)
        if data.modes is not None:
            out["modes_hit"] = int((data.mode_histogram(fake) > 0).sum())
    return out


__all__ = ["emd", "evaluate_points", "hausdorff"]
