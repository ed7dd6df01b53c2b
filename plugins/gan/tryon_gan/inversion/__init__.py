"""GAN inversion behind one batched protocol (000 §2.2, 003 ch. 2 and ch. 4).

``invert(generator, images, mask=None, method=..., ...) -> InversionResult`` with the methods
``optimisation`` (Image2StyleGAN-style), ``encoder`` (a trained E(x, m)), ``hybrid`` (In-Domain: encoder
start + optimisation with the encoder-consistency term) and ``plumerault`` (blurred MSE, ‖z‖ ≤ √d, and
:func:`recursive_estimation` for transformation trajectories). The generic protocol and losses live in the core
(:mod:`tryon.latent`) and are re-exported by ``protocol`` and ``losses`` (which adds ``RandomFeatures``); the plugin's
own modules are ``encoder`` (the network) and ``encoder_training`` (its in-process fit). Inversion is a lower layer
than :mod:`tryon_gan.editing` and :mod:`tryon_gan.directions`: it never imports them. The inversion tasks' pipelines are in
:mod:`tryon_gan.pipelines`, the ``tryon train gan-invert`` run in :mod:`tryon_gan.training.invert`, the report section
of ``tryon demo gan`` in :mod:`tryon_gan.experiments.inversion`.
"""

from __future__ import annotations

from tryon.imports import lazy_exports

_EXPORTS = {
    "invert": "protocol", "recursive_estimation": "protocol", "InversionResult": "protocol", "Trajectory": "protocol",
    "METHODS": "protocol", "project": "protocol", "LatentEncoder": "encoder", "Projector": "encoder",
    "train_encoder": "encoder_training", "blurred_mse": "losses",
    "gaussian_blur": "losses", "masked_mse": "losses",
}
# Resolved on first use: importing the package imports no torch.
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
