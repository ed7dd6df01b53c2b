"""tryon-control: controlling image generative models without supervision (003) as a tryon plugin.

The three contributions of 003, each a task family with its train verb:

* **AVAE** (003 ch. 3): a VAE whose latent space a separate GAN generator is trained to respect (latent
  reconstruction loss through the VAE encoder, 003 Eq. 3.8 / 3.12, plus the critic's manifold loss, Eq. 3.11), with
  the VAE, GAN, VAE/GAN and BiGAN baselines of Table 3.1 on the same networks: ``avae-reconstruct`` (image → μ_e(x) →
  G(z, ξ), an editing task since the latent can be changed in between), ``avae-generate``; the encoder exports to ONNX;
* **directions on β-VAEs** (003 ch. 4): the Table 4.2 β-VAE on procedural sprites, its factor directions from Alg. 1
  through the core's :mod:`tryon.latent`: ``betavae-edit``, ``betavae-generate``;
* **multi-object scenes** (003 ch. 5): K boxes per cell with a learned geometric prior: ``scene-decompose``,
  ``scene-generate``, ``scene-edit``.

Layout (the same in every first-party plugin): ``plugin`` (hooks) → ``specs`` (tasks, datasets) and ``cli`` (verbs);
``models``, ``pipelines``, ``training/``, ``experiments/``; domain modules ``data``, ``losses``, ``sprites``,
``betavae`` and the ``scenes`` package. Importing this package is cheap; the pipelines resolve lazily
(``from tryon_control import AvaeReconstructPipeline``).
"""
from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {"AvaePipeline": "pipelines", "AvaeReconstructPipeline": "pipelines", "AvaeGeneratePipeline": "pipelines"}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
