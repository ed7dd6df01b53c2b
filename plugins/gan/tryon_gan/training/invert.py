"""``tryon train gan-invert``: the inversion encoder (:class:`~tryon_gan.inversion.encoder.LatentEncoder`) of a
frozen image generator, trained through the core's run protocol on the generator's own samples.

The objective (random masks, latent regression plus the pixel term) is the one of
:func:`tryon_gan.inversion.encoder_training.train_encoder`, the in-process fit; here every update goes through the
Trainer (checkpoints, resume, precision, time budget) and the run folder becomes a ``gan-invert`` weights folder.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from tryon.train import TrainConfig, refuse_unsupported, run

from ..inversion.encoder_training import encoder_loss, random_masks
from ..pipelines import GanEncoderPipeline
from .config import ENCODER_LOOP, EncoderTaskConfig


class LatentSeeds(torch.utils.data.Dataset):
    """``n`` fixed latent draws (index → z): the "dataset" of encoder training in the core loop."""

    def __init__(self, latent_dim: int, n: int = 100_000, seed: int = 0):
        self.latent_dim, self.n, self.seed = int(latent_dim), int(n), int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(i))
        return torch.randn(self.latent_dim, generator=g)


def _generator_data_terms(generator_run: Any) -> dict[str, Any]:
    """The encoder learns from the generator's samples: its data's terms are the generator run's (as recorded)."""
    import json
    from pathlib import Path

    from tryon.data.terms import UNRECORDED

    try:
        recorded = json.loads((Path(generator_run) / "config.json").read_text(encoding="utf-8")).get("training", {})
    except (OSError, ValueError):
        recorded = {}
    return recorded.get("data_terms") or UNRECORDED.as_dict()


def train_encoder_run(loop: TrainConfig, task: EncoderTaskConfig) -> tuple[GanEncoderPipeline, dict[str, Any]]:
    """``tryon train gan-invert --generator RUN``: the encoder trained through :func:`tryon.train.run`
    (``loop``: a :class:`tryon.train.TrainConfig`, ``lr`` ``None``: 1e-3; ``task``: an :class:`EncoderTaskConfig`); the
    run folder is a weights folder for every ``gan-invert`` / ``gan-inpaint`` / ``gan-composite`` / ``gan-crossover``
    pipeline."""
    refuse_unsupported(loop, task)
    generator_run, image_weight, p_masked = task.generator_run, float(task.image_weight), float(task.p_masked)
    pipe = GanEncoderPipeline.from_generator_run(generator_run, encoder_width=task.width, method=task.method,
                                                 steps=task.inversion_steps)
    pipe.task = "gan-invert"  # recorded with the weights; the other inversion tasks share its weights family
    generator, encoder = pipe.generator.eval().requires_grad_(False), pipe.encoder
    opt = torch.optim.Adam(encoder.parameters(), lr=float(loop.lr if loop.lr is not None else ENCODER_LOOP["lr"]))
    side, seed = int(pipe.config["data_shape"][1]), int(loop.seed)

    def step(trainer: Any, z: Tensor) -> dict[str, float]:
        generator.to(trainer.device)
        g = torch.Generator().manual_seed(seed * 7919 + int(trainer.step))
        masks = random_masks(z.shape[0], side, g, p_masked)
        opt.zero_grad(set_to_none=True)
        with trainer.autocast():
            loss, logs = encoder_loss(encoder, generator, z.to(trainer.device), masks, image_weight)
        trainer.backward(loss)
        trainer.optimizer_step("encoder")
        return logs

    outcome = run(loop, modules={"encoder": encoder}, optimizers={"encoder": opt},
                  dataset=LatentSeeds(pipe.latent_dim, seed=seed), step_fn=step,
                  info={"objective": "encoder: |E(x,m)-z|^2 + image_weight*mse(G(E(x,m)), x)",
                        "generator": str(generator_run), "image_weight": image_weight, "p_masked": p_masked,
                        "data_terms": _generator_data_terms(generator_run)},
                  build_pipeline=lambda trainer, result: pipe.to("cpu"))
    return outcome.pipeline, outcome.summary


__all__ = ["LatentSeeds", "train_encoder_run"]
