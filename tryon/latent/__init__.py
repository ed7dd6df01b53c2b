"""Latent-space tools for any differentiable generator ``z -> image`` (003 ch. 4): inversion, trajectories, directions.

* :mod:`~tryon.latent.losses` — per-image masked MSE, blurred MSE (003 Eq. 4.5), a perceptual distance;
* :mod:`~tryon.latent.inversion` — ``invert(generator, images, mask, method=...)``: optimisation, encoder,
  hybrid and the blurred-MSE projected-gradient method of 003 §4.2 (‖z‖ ≤ √d, Eq. 4.1–4.2);
* :mod:`~tryon.latent.recursive` — warm-started recursive estimation of a trajectory (003 Eq. 4.9);
* :mod:`~tryon.latent.transforms` — shifts, zoom and brightness with their undefined pixels;
* :mod:`~tryon.latent.directions` — 003 Alg. 1 trajectories and the monotone model ``t = g(⟨u, z⟩)``
  (Eq. 4.12–4.13);
* :mod:`~tryon.latent.reshape` — reshaping a factor's distribution by inverse-CDF sampling (Eq. 4.14–4.15).

Names are resolved on first use, so ``import tryon.latent`` imports no torch.
"""

from __future__ import annotations

from ..imports import lazy_exports

#: Where each public name lives (loaded on first use).
_WHERE = {
    **dict.fromkeys(("gaussian_kernel1d", "gaussian_blur", "masked_mse", "blurred_mse", "dssim", "feature_distance"),
                   "losses"),
    **dict.fromkeys(("METHODS", "DEFAULTS", "InversionResult", "StepInfo", "invert", "probe_generator", "check_images",
                     "check_mask", "project", "lr_ramp", "resolve_loss"), "inversion"),
    **dict.fromkeys(("Trajectory", "recursive_estimation"), "recursive"),
    **dict.fromkeys(("Transform", "shift_x", "shift_y", "zoom", "brightness", "TRANSFORMS"), "transforms"),
    **dict.fromkeys(("TrajectoryData", "build_trajectories", "MonotoneMap", "LatentDirection", "Directions",
                     "fit_direction", "find_direction"), "directions"),
    **dict.fromkeys(("InverseCDF", "normal_icdf", "uniform_icdf", "ErfMap", "target_values", "reshaped_coordinate",
                     "reshape_factor", "reshape_reachable"), "reshape"),
}
__getattr__ = lazy_exports(__name__, _WHERE)

__all__ = sorted(_WHERE)
