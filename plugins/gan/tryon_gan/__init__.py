"""tryon-gan: GANs, their losses and better samplers (000 ch. 3, 001, 002, 004) as a tryon plugin.

Tasks ``gan-generate``, ``gan-latent-weights`` and the inversion tasks ``gan-invert`` / ``gan-inpaint`` /
``gan-composite`` / ``gan-crossover``; samplers of family "gan" (``tryon samplers --family gan``); verbs ``tryon train
gan-generate``, ``tryon train gan-latent-weights``, ``tryon train gan-invert`` and ``tryon demo gan``.

Layout (the same in every first-party plugin): ``plugin`` (hooks) → ``specs`` (tasks, datasets, samplers) and ``cli``
(verbs); ``models``, ``pipelines``, ``training/``, ``experiments/``; domain modules ``data``, ``samplers``,
``inversion/``, ``editing``, ``directions``, ``jacobian``, ``theory``, ``metrics``, ``render``, ``sprites``. Importing
this package is cheap; the pipelines below resolve lazily (``from tryon_gan import GanPipeline``).
"""

from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {name: "pipelines" for name in ("GanPipeline", "LatentWeightsPipeline", "GanInvertPipeline",
                                           "GanInpaintPipeline", "GanCompositePipeline", "GanCrossoverPipeline")}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
