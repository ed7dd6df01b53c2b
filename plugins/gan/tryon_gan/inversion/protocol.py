"""The GAN plugin's inversion protocol: the generic protocol of the core, re-exported under its old home.

``invert(generator, images, mask, method=...)`` (methods ``optimisation``, ``encoder``, ``hybrid``, ``plumerault``;
000 §2.2, 003 ch. 2 and §4.2) and ``recursive_estimation`` (003 Eq. 4.9) live in :mod:`tryon.latent.inversion` and
:mod:`tryon.latent.recursive`: any differentiable generator works, and the encoder of the encoder / hybrid methods is
this plugin's :class:`~tryon_gan.inversion.encoder.LatentEncoder` (any ``nn.Module`` ``E(x, mask) -> B×d``).
"""

from __future__ import annotations

from tryon.latent.inversion import (DEFAULTS, METHODS, InversionResult, StepInfo, check_images, check_mask, invert,
                                    lr_ramp, probe_generator, project, resolve_loss)
from tryon.latent.recursive import Trajectory, recursive_estimation

__all__ = ["METHODS", "DEFAULTS", "InversionResult", "StepInfo", "Trajectory", "invert", "recursive_estimation",
           "probe_generator", "check_images", "check_mask", "project", "lr_ramp", "resolve_loss"]
