"""Everything that trains the EdiBERT plugin's models, through the core's run protocol (:func:`tryon.train.run`).

One module per train verb, named after the task it trains, each entry point taking ``(TrainConfig, TaskConfig)``:

* :mod:`.vqgan` — ``tryon train edibert-vqgan``: :func:`train_vqgan`, the tokenizer;
* :mod:`.inpaint` — ``tryon train edibert-inpaint``: :func:`train_edibert`, the token model on a frozen VQGAN's
  tokens (the run serves every EdiBERT editing task);
* :mod:`.config` — the two runs' settings (torch-free; the CLI generates its options from them).

The names below resolve lazily: ``from tryon_edibert.training import train_vqgan, VQGANTaskConfig`` works.
"""

from tryon.imports import lazy_exports

_EXPORTS = {
    "VQGAN_LOOP": "config", "EDIBERT_LOOP": "config", "VQGANTaskConfig": "config", "EdiBERTTaskConfig": "config",
    "train_vqgan": "vqgan", "vqgan_step": "vqgan", "train_edibert": "inpaint", "edibert_step": "inpaint",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
