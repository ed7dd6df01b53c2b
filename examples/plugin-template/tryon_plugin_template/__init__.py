"""Template tryon plugin (copy and rename). See README.md beside this package for the layout.

The public names resolve lazily (``import tryon_plugin_template`` imports no torch), whichever module holds them.
"""

from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {"TonePipeline": "pipelines", "ToneNet": "models", "JitterSampler": "samplers", "train_tone": "training",
            "ToneConfig": "training", "LOOP_DEFAULTS": "training"}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
