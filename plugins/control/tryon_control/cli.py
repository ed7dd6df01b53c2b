"""Every CLI verb of the control plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train avae-reconstruct --data digits|toy|DIR [--size HxW] [--arch mlp|conv] [--latent-loss a|b] [--no-xi]
  [--objective avae|vae|gan|vaegan|bigan] [--minutes M] …`` — AVAE training (003 Fig. 3.4; progress, resume, time budget and
  logs from the core loop); the run folder is a weights folder for ``avae-reconstruct`` and ``avae-generate``.
* ``tryon demo control`` — the three contributions of 003 on built-in data and their report (a study:
  :mod:`.experiments.demo`).

A train verb's options are generated from its two settings dataclasses (:mod:`.training.config`); its entry point
takes both and returns ``(pipeline, summary)``, whose summary is printed.
"""

from __future__ import annotations

from typing import Any

from tryon.study import study_verb
from tryon.trainconfig import train_verb

from .specs import TRAIN_TASK
from .scenes.config import SCENE_LOOP, SceneTaskConfig
from .training.config import AVAE_LOOP, BETAVAE_LOOP, AvaeTaskConfig, BetaVaeTaskConfig

#: verb -> (help, task config, the verb's loop defaults, "module:function" in :mod:`.training`)
TRAIN_VERBS: dict[str, tuple[str, Any, dict[str, Any], str]] = {
    f"train {TRAIN_TASK}": ("train an AVAE: VAE + generator G(z, xi) trained through the VAE encoder and a critic "
                            "(003 Fig. 3.4); --objective vae|gan|vaegan|bigan trains a baseline on the same networks",
                            AvaeTaskConfig, AVAE_LOOP, "avae:train_avae"),
    "train betavae-edit": ("train the beta-VAE of 003 Table 4.2 on procedural sprites, then learn its factor directions "
                           "(003 Alg. 1 or the encoder) for betavae-edit / betavae-generate", BetaVaeTaskConfig,
                           BETAVAE_LOOP, "betavae:train_betavae"),
    "train scene-decompose": ("train the multi-object model of 003 ch. 5 (K boxes per cell, learned geometric prior, "
                              "staged) on procedural sprite scenes, for scene-decompose / scene-generate / scene-edit",
                              SceneTaskConfig, SCENE_LOOP, "scenes:train_scenes"),
}


def register_cli(app: Any) -> None:
    for name, (text, task_cls, loop_defaults, target) in TRAIN_VERBS.items():
        module, fn = target.split(":")
        configure, run = train_verb(task_cls, loop_defaults, f"{__package__}.training.{module}:{fn}", summary=lambda r: r[1])
        app.add_command(name, help=text, configure=configure, run=run)
    app.add_command("demo control", help="AVAE, beta-VAE directions and multi-object scenes on built-in data (003) -> "
                    "runs/demo-control/report.html", **study_verb(f"{__package__}.experiments.demo", default_out="runs/demo-control"))


__all__ = ["TRAIN_VERBS", "register_cli"]
