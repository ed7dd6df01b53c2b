"""EdiBERT (000 §4.2): a VQGAN tokenizer and a bidirectional transformer trained once with one generic
objective, serving image denoising, inpainting, compositing, crossovers and scribble edits.

Layout (the same in every first-party plugin): ``plugin`` (hooks) → ``specs`` (tasks, samplers, datasets) and ``cli``
(verbs); ``models``, ``pipelines``, ``training/``, ``experiments/``; domain modules ``data``, ``editing``,
``objective``, ``orderings``, ``samplers``, ``parallel``. Importing this package is cheap; the pipelines below resolve
lazily (``from tryon_edibert import InpaintPipeline``).
"""

from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {name: "pipelines" for name in ("VQGANPipeline", "DenoisePipeline", "InpaintPipeline", "CompositePipeline",
                                           "CrossoverPipeline")}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
