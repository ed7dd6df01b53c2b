"""Every CLI verb of the control plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train avae-reconstruct --data digits|toy|DIR [--size HxW] [--arch mlp|conv] [--latent-loss a|b] [--no-xi]
  [--objective avae|vae|gan] [--minutes M] …`` — AVAE training (003 Fig. 3.4; progress, resume, time budget and
  logs from the core loop); the run folder is a weights folder for ``avae-reconstruct`` and ``avae-generate``.

A train verb's options are generated from its two settings dataclasses (:mod:`.training.config`); its entry point
takes both and returns ``(pipeline, summary)``, whose summary is printed.
"""

from __future__ import annotations

from typing import Any

from tryon.trainconfig import train_verb

from .specs import TRAIN_TASK
from .training.config import AVAE_LOOP, AvaeTaskConfig

#: verb -> (help, task config, the verb's loop defaults, "module:function" in :mod:`.training`)
TRAIN_VERBS: dict[str, tuple[str, Any, dict[str, Any], str]] = {
    f"train {TRAIN_TASK}": ("train an AVAE: VAE + generator G(z, xi) trained through the VAE encoder and a critic "
                            "(003 Fig. 3.4); --objective vae|gan trains a baseline on the same networks",
                            AvaeTaskConfig, AVAE_LOOP, "avae:train_avae"),
}


def register_cli(app: Any) -> None:
    for name, (text, task_cls, loop_defaults, target) in TRAIN_VERBS.items():
        module, fn = target.split(":")
        configure, run = train_verb(task_cls, loop_defaults, f"{__package__}.training.{module}:{fn}", summary=lambda r: r[1])
        app.add_command(name, help=text, configure=configure, run=run)


__all__ = ["TRAIN_VERBS", "register_cli"]
