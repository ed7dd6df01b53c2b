"""Training of the plugin's task through the core's single training path (:func:`tryon.train.run`).

* :mod:`.config` — the run's settings, torch-free (the CLI generates its options from them);
* :mod:`.tone` — ``tryon train template-tone``: its data, step and entry point :func:`train_tone`, which takes
  ``(TrainConfig, ToneConfig)``.

One module per train verb, named after the task it trains (without the plugin's prefix).
"""

from tryon.imports import lazy_exports

_EXPORTS = {"LOOP_DEFAULTS": "config", "ToneConfig": "config", "ToneDataset": "tone", "train_tone": "tone"}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
