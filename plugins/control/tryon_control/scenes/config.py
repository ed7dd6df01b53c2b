"""The settings of ``tryon train scene-decompose``, stated once (torch-free: the CLI builds its options here).

The run is ``(TrainConfig, SceneTaskConfig)``: the loop's settings are the core's :class:`tryon.train.TrainConfig`
(this verb's defaults: :data:`SCENE_LOOP`), the task's :class:`SceneTaskConfig` (a field with help text is a
command-line option). Every loop option is honoured through the Trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tryon.trainconfig import option

#: this verb's loop defaults: batch 16, Adam 1e-3 (003 gives no optimiser, lr, batch nor step count)
SCENE_LOOP: dict[str, Any] = {"max_steps": 1500, "batch_size": 16, "lr": 1e-3, "log_every": 25, "ckpt_every": 500,
                              "tensorboard": False}


@dataclass
class SceneTaskConfig:
    """``tryon train scene-decompose``: the multi-object model of 003 ch. 5 on procedural sprite scenes."""

    VERB = "train scene-decompose"

    data: Any = option("scenes", help="scenes | scenes:n=2000 (procedural multi-sprite scenes, 2-6 sprites; from Python "
                       "also a dataset of 3xHxW images in [-1, 1])")
    size: int = option(48, help="image side (square images)")
    grid: int = option(4, help="cells per side (003: 4; the SPACE-like ablation: 8)")
    k: int = option(4, help="box proposals per cell, K (003: 4; the SPACE-like ablation: 1)")
    glimpse: int = option(12, help="glimpse side in pixels (a multiple of 4)")
    width: int = option(8, help="conv width of the structure encoder and the object VAE")
    what_dim: int = option(8, help="z_what size")
    hidden: int = option(64, help="box-encoder LSTM width (the prior's: half)")
    object_steps: int = option(200, help="stage 1 (003 §5.5.3): steps training the object VAE alone before the boxes "
                               "and the prior")
    beta_box: float = option(1.0, help="beta_box of 003 Eq. 5.4")
    beta_pres: float = option(1.0, help="beta_pres of 003 Eq. 5.4")
    # 003 gives no beta; at 1 the empty boxes kept w_pres 0.02-0.05 (above the 0.01 skip threshold: 57 of 64 calls per
    # image after 600 steps, count error 0.94); at 2, 50 calls and count error 0.69 (the same run otherwise)
    beta_what: float = option(2.0, help="beta_what of 003 Eq. 5.4 (the cost of a present box's z_what)")
    object_prior: float = option(5.0, help="weight of the object-prior loss (003 Eq. 5.6)")
    rotation: float = option(1.0, help="weight of the rotation loss (003 §5.5.2)")

    def unsupported(self, loop: Any) -> dict[str, str]:
        return {}


__all__ = ["SCENE_LOOP", "SceneTaskConfig"]
