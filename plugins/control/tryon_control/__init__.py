"""tryon-control: controlling image generative models without supervision (003) as a tryon plugin.

Part built so far: **AVAE** (003 ch. 3), a VAE whose latent space a separate GAN generator is trained to respect
(latent reconstruction loss through the VAE encoder, 003 Eq. 3.8 / 3.12, plus the critic's manifold loss, 003 Eq.
3.11). Tasks ``avae-reconstruct`` (image → μ_e(x) → G(z, ξ): an editing task, since the latent can be changed in
between) and ``avae-generate`` (z, ξ ∼ N(0, I) → G(z, ξ)), one weights family ``avae``; the verb ``tryon train
avae-reconstruct``; the encoder as an ONNX component.

Layout (the same in every first-party plugin): ``plugin`` (hooks) → ``specs`` (tasks, datasets) and ``cli`` (verbs);
``models``, ``pipelines``, ``training/``, ``experiments/``; domain modules ``data`` (the 2-D toy of 003 §3.4.1,
scikit-learn digits, image folders through the core) and ``losses`` (003 Eq. 3.3–3.12). Importing this package is
cheap; the pipelines resolve lazily (``from tryon_control import AvaeReconstructPipeline``).
"""

from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {"AvaePipeline": "pipelines", "AvaeReconstructPipeline": "pipelines", "AvaeGeneratePipeline": "pipelines"}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
