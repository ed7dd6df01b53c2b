"""GAN inversion behind one batched protocol (000 §2.2, 003 ch. 2 and ch. 4).

``invert(generator, images, mask=None, method=..., ...) -> InversionResult`` with the methods
``optimisation`` (Image2StyleGAN-style), ``encoder`` (a trained E(x, m)), ``hybrid`` (In-Domain: encoder
start + optimisation with the encoder-consistency term) and ``plumerault`` (blurred MSE, ‖z‖ ≤ √d, and
:func:`recursive_estimation` for transformation trajectories). Modules: ``protocol``, ``losses``, ``encoder``
(the network), ``encoder_training`` (its training), ``pipeline`` (the gan-invert pipeline and the components every
inversion task shares), ``register`` (tasks and verbs). Inversion is a lower layer than :mod:`tryon_gan.editing`
and :mod:`tryon_gan.directions`: they import it, it never imports them (the edit pipelines live in
:mod:`tryon_gan.editing_pipelines`, the report section of ``tryon demo gan`` in :mod:`tryon_gan.demo`).
"""

from __future__ import annotations

from tryon.imports import lazy_exports

_EXPORTS = {
    "invert": "protocol", "recursive_estimation": "protocol", "InversionResult": "protocol", "Trajectory": "protocol",
    "METHODS": "protocol", "project": "protocol", "LatentEncoder": "encoder", "Projector": "encoder",
    "train_encoder": "encoder_training", "train_encoder_run": "encoder_training", "blurred_mse": "losses",
    "gaussian_blur": "losses", "masked_mse": "losses",
}
# Resolved on first use: ``register`` (imported when tryon lists tasks and verbs) must not import torch.
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
