"""Improved precision / recall (Kynkäänniemi et al. 2019) and density / coverage (Naeem et al. 2020).

Definitions (seeds-gan §1.2–1.3; 000 Tables 4.1–4.5 report density/coverage; 002 reports all four
×100 with ``prdc.compute_prdc(fake, real, nearest_k=5)``): with real features X₁..X_N, fake Y₁..Y_M and
``NND_k(A_i)`` the distance from A_i to its k-th nearest neighbour in its own set (itself excluded),

* precision = (1/M) Σ_j 1[∃ i: ‖Y_j − X_i‖ < NND_k(X_i)]       (fake inside the real manifold)
* recall    = (1/N) Σ_i 1[∃ j: ‖X_i − Y_j‖ < NND_k(Y_j)]       (real inside the fake manifold)
* density   = (1/(kM)) Σ_j Σ_i 1[‖Y_j − X_i‖ < NND_k(X_i)]      (can exceed 1)
* coverage  = (1/N) Σ_i 1[min_j ‖X_i − Y_j‖ < NND_k(X_i)]

Strict ``<`` as in the ``prdc`` package, whose ``compute_prdc`` this matches exactly on the same k
(tests). Distances are Euclidean, computed in float64 in row blocks so memory stays O(block × N) rather
than the package's full N×M matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from .fid import as_features

_BLOCK_ELEMENTS = 1 << 24  # ≈ 128 MB of float64 per distance block


def _sq_norms(a: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, a)


def _distances(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d2 = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def knn_radii(features: Any, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest *other* row (the k-NN ball radius)."""
    a = as_features(features)
    n = a.shape[0]
    if not 1 <= k < n:
        raise InputError("prdc k", f"an integer in 1..{n - 1} (fewer than the {n} feature vectors)", repr(k))
    sq = _sq_norms(a)
    radii = np.empty(n)
    for s, e in _blocks(n, n):
        d = _distances(a[s:e], a, sq[s:e], sq)
        d[np.arange(e - s), np.arange(s, e)] = 0.0  # self distance exactly 0 (it is the 1st neighbour)
        radii[s:e] = np.partition(d, k, axis=1)[:, k]
    return radii


def prdc(real_features: Any, fake_features: Any, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake_features`` w.r.t. ``real_features`` (k-NN balls).

    Returns ``{"precision", "recall", "density", "coverage", "k", "num_real", "num_fake"}``. When the
    features come from a proxy extractor, :mod:`tryon.metrics.evaluate` reports these as ``proxy-*``.
    """
    r = as_features(real_features, "real_features")
    f = as_features(fake_features, "fake_features")
    if r.shape[1] != f.shape[1]:
        raise InputError("fake_features", f"{r.shape[1]}-d features like real_features", f"{f.shape[1]}-d")
    k = int(k)
    for what, arr in (("real_features", r), ("fake_features", f)):
        if not 1 <= k < arr.shape[0]:
            raise InputError("prdc k", f"1 ≤ k < number of {what} ({arr.shape[0]})", repr(k))
    r_radii = knn_radii(r, k)
    f_radii = knn_radii(f, k)
    r_sq, f_sq = _sq_norms(r), _sq_norms(f)
    inside_count = np.zeros(f.shape[0])  # per fake: number of real balls containing it
    recall_hit = np.zeros(r.shape[0], dtype=bool)
    coverage_hit = np.zeros(r.shape[0], dtype=bool)
    for s, e in _blocks(r.shape[0], f.shape[0]):
        d = _distances(r[s:e], f, r_sq[s:e], f_sq)  # (block of real) × fake
        in_real_ball = d < r_radii[s:e, None]
        inside_count += in_real_ball.sum(axis=0)
        recall_hit[s:e] = (d < f_radii[None, :]).any(axis=1)
        coverage_hit[s:e] = d.min(axis=1) < r_radii[s:e]
    return {
        "precision": float((inside_count > 0).mean()),
        "recall": float(recall_hit.mean()),
        "density": float(inside_count.mean() / k),
        "coverage": float(coverage_hit.mean()),
        "k": k,
        "num_real": int(r.shape[0]),
        "num_fake": int(f.shape[0]),
    }
