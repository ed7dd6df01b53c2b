"""Everything that trains the control plugin's models, through the core's run protocol (:func:`tryon.train.run`).

One module per train verb, each entry point taking ``(TrainConfig, TaskConfig)``:

* :mod:`.avae` — ``tryon train avae-reconstruct``: :func:`train_avae`, the AVAE of 003 Fig. 3.4 (or its VAE / GAN
  alone); the run folder serves ``avae-reconstruct`` and ``avae-generate``;
* :mod:`.config` — the run's settings (torch-free; the CLI generates its options from them).

The names below resolve lazily: ``from tryon_control.training import train_avae, AvaeTaskConfig`` works.
"""

from tryon.imports import lazy_exports

_EXPORTS = {"AVAE_LOOP": "config", "AvaeTaskConfig": "config", "train_avae": "avae", "avae_step": "avae",
            "generator_update": "avae", "BETAVAE_LOOP": "config", "BetaVaeTaskConfig": "config",
            "train_betavae": "betavae", "learn_direction": "betavae", "vaegan_step": "baselines", "bigan_step": "baselines",
            "train_scenes": "scenes", "scene_step": "scenes"}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
