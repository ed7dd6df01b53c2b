"""Every CLI verb of the GAN plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train gan-generate --data SPEC --loss hinge`` — GAN training (progress, resume and report from the core
  loop); the run folder is a ``gan-generate`` weights folder.
* ``tryon train gan-latent-weights --generator RUN --data SPEC`` — latent importance weights (002 Alg. 1).
* ``tryon train gan-invert --generator RUN`` — the inversion encoder; the run folder serves ``gan-invert``,
  ``gan-inpaint``, ``gan-composite`` and ``gan-crossover``.
* ``tryon demo gan`` — the toy reproductions and the report (``runs/demo-gan/report.html``); a study
  (:mod:`tryon.study`: ``--out``, ``--budget``, ``--render-only``; ``--quick`` = ``--budget tiny``).

A train verb's options are generated from its two settings dataclasses (:mod:`.training.config`); its entry point
takes both. The former verb names ``train gan``, ``train gan-weights`` and ``train gan-encoder`` still work for one
release (deprecated aliases).
"""

from __future__ import annotations

from typing import Any

from tryon.study import study_verb
from tryon.trainconfig import train_verb

from .training.config import (
    ENCODER_LOOP,
    GAN_LOOP,
    WEIGHTS_LOOP,
    EncoderTaskConfig,
    GANTaskConfig,
    LatentWeightsTaskConfig,
)

#: verb -> (help, task config, the verb's loop defaults, "module:function" in :mod:`.training`, former names)
TRAIN_VERBS: dict[str, tuple[str, Any, dict[str, Any], str, tuple[str, ...]]] = {
    "train gan-generate": ("train a GAN (MLP or DCGAN-style) with a loss from the core registry (000 ch. 3, 004)",
                           GANTaskConfig, GAN_LOOP, "generate:train_gan", ("train gan",)),
    "train gan-latent-weights": ("train latent importance weights w(z) for a frozen generator (002 Alg. 1)",
                                 LatentWeightsTaskConfig, WEIGHTS_LOOP, "latent_weights:train_latent_weights",
                                 ("train gan-weights",)),
    "train gan-invert": ("train the inversion encoder E(x, m) -> z of a GAN run (000 §2.2); the run folder serves "
                         "gan-invert/-inpaint/-composite/-crossover", EncoderTaskConfig, ENCODER_LOOP,
                         "invert:train_encoder_run", ("train gan-encoder",)),
}


def register_cli(app: Any) -> None:
    for name, (text, task_cls, loop_defaults, target, former) in TRAIN_VERBS.items():
        module, fn = target.split(":")
        # the entry points return (pipeline, summary): the summary is printed
        configure, run = train_verb(task_cls, loop_defaults, f"{__package__}.training.{module}:{fn}", summary=lambda r: r[1])
        app.add_command(name, help=text, configure=configure, run=run, aliases=former)
    app.add_command("demo gan", help="toy GAN reproductions (JBT, latentRS, simplicial, losses) -> runs/demo-gan/report.html",
                    **study_verb(f"{__package__}.experiments.demo", default_out="runs/demo-gan"))


__all__ = ["TRAIN_VERBS", "register_cli"]
