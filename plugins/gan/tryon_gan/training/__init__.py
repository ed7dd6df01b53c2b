"""Everything that trains the GAN plugin's models, through the core's run protocol (:func:`tryon.train.run`).

One module per train verb, named after the task it trains, each entry point taking ``(TrainConfig, TaskConfig)``:

* :mod:`.generate` — ``tryon train gan-generate``: :func:`train_gan` (and :func:`finetune_discriminator` for the
  DRS / SIR samplers);
* :mod:`.latent_weights` — ``tryon train gan-latent-weights``: :func:`train_latent_weights` (002 Alg. 1);
* :mod:`.invert` — ``tryon train gan-invert``: :func:`train_encoder_run`, the inversion encoder;
* :mod:`.config` — the three runs' settings (torch-free; the CLI generates its options from them).

The names below resolve lazily: ``from tryon_gan.training import train_gan, GANTaskConfig`` works.
"""

from tryon.imports import lazy_exports

_EXPORTS = {
    "GAN_LOOP": "config", "WEIGHTS_LOOP": "config", "ENCODER_LOOP": "config", "LOSSES": "config",
    "GANTaskConfig": "config", "LatentWeightsTaskConfig": "config", "EncoderTaskConfig": "config",
    "train_gan": "generate", "finetune_discriminator": "generate", "summary_json": "generate",
    "train_latent_weights": "latent_weights", "train_encoder_run": "invert", "LatentSeeds": "invert",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
