"""``tryon train scene-decompose``: the multi-object model of 003 ch. 5 through the core's run protocol
(``tryon.train.run``).

Each step, on a batch ``x`` of scenes (``B×3×H×W`` in [−1, 1]): one forward pass of the model (latents sampled),
then ``L = L_rec (003 Eq. 5.1) + L_KL^fg (003 Eq. 5.4) + λ_op L_op (003 Eq. 5.6) + λ_rot L_rot (003 §5.5.2)``
(:mod:`tryon_control.scenes.losses`). **Staged training** (003 §5.5.3): two optimisers, ``objects`` (the object VAE)
and ``boxes`` (structure encoder, box encoder, box proposer and the learned prior); for the first ``object_steps``
steps only ``objects`` is stepped (the boxes stay at their initial, cell-centred place), then both. The background
stage of the thesis (GENESIS) does not exist here: the background colour is estimated
(:meth:`~tryon_control.scenes.model.SceneModel.background_colour`).

The run folder is a weights folder for ``scene-decompose``, ``scene-generate`` and ``scene-edit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from tryon.data import parse_data_spec
from tryon.errors import InputError
from tryon.train import TrainConfig, refuse_unsupported, run

from ..scenes.config import SCENE_LOOP, SceneTaskConfig
from ..scenes.losses import foreground_kl, object_prior_loss, reconstruction_nll, rotation_loss
from ..scenes.pipelines import SceneDecomposePipeline

#: the two optimisers of the staged schedule and the model parts each one trains
STAGES = {"objects": ("objects",), "boxes": ("structure", "box_encoder", "prior", "proposer")}


def scene_losses(model: Any, x: Tensor, task: SceneTaskConfig) -> tuple[Tensor, dict[str, float], Any]:
    """The total loss of one forward pass on ``x`` (module doc), its parts (per image) and the forward's output."""
    out = model(x)
    rec = reconstruction_nll(x, out.foreground, out.fg_mask, out.background).mean()
    kl = foreground_kl(out, task.beta_box, task.beta_pres, task.beta_what)
    op, rot = object_prior_loss(out), rotation_loss(out)
    total = rec + kl["kl"] + float(task.object_prior) * op + float(task.rotation) * rot
    b = x.shape[0]
    logs = {"loss": float(total.detach()), "rec": float(rec.detach()), "kl": float(kl["kl"].detach()),
            "kl_box": float(kl["kl_box"].detach()), "kl_pres": float(kl["kl_pres"].detach()),
            "kl_what": float(kl["kl_what"].detach()), "object_prior": float(op.detach()), "rotation": float(rot.detach()),
            "mse": float(((out.recon.detach() - x) ** 2).mean()), "calls": out.calls / b,
            "present": float((out.w_pres.detach() >= 0.5).sum()) / b}
    return total, logs, out


def scene_step(task: SceneTaskConfig):
    """The ``step_fn``: staged (module doc); ``trainer.step`` is the number of steps already done."""

    def step(trainer: Any, batch: Any) -> dict[str, float]:
        x = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(trainer.device)
        with trainer.autocast():
            total, logs, _ = scene_losses(trainer.modules["model"], x, task)
        for opt in trainer.optimizers.values():
            opt.zero_grad(set_to_none=True)
        trainer.backward(total)
        trainer.optimizer_step("objects")
        boxes = int(trainer.step) >= int(task.object_steps)
        if boxes:
            trainer.optimizer_step("boxes")
        logs["stage"] = 2.0 if boxes else 1.0
        return logs

    return step


def load_scenes(spec: Any, size: int, seed: int) -> Any:
    """``scenes`` / ``scenes:n=2000`` → :class:`~tryon_control.scenes.data.ControlScenes` (train split); a dataset
    passes through."""
    if not isinstance(spec, (str, Path)):
        return spec
    name, opts = parse_data_spec(str(spec))
    if name != "scenes":
        raise InputError("--data", "scenes or scenes:n=N (procedural sprite scenes)", repr(str(spec)))
    from ..scenes.data import ControlScenes

    return ControlScenes(int(opts.get("n", 2000)), size=int(size), split=opts.get("split", "train"), seed=int(opts.get("seed", seed)))


def check_task(task: SceneTaskConfig) -> None:
    """Refuse impossible settings in one line."""
    if int(task.size) < 24 or int(task.grid) < 1 or int(task.size) % int(task.grid):
        raise InputError("--size / --grid", "size >= 24 divisible by grid >= 1", f"size {task.size}, grid {task.grid}")
    if int(task.k) < 1:
        raise InputError("--k", "at least 1 box per cell", str(task.k))
    if int(task.glimpse) < 4 or int(task.glimpse) % 4:
        raise InputError("--glimpse", "a multiple of 4 pixels", str(task.glimpse))
    if int(task.object_steps) < 0:
        raise InputError("--object-steps", ">= 0", str(task.object_steps))


def train_scenes(loop: TrainConfig, task: SceneTaskConfig) -> tuple[SceneDecomposePipeline, dict[str, Any]]:
    """Train the chapter-5 model on ``task.data``; the run folder ``loop.out_dir`` becomes a ``scene-decompose``
    weights folder. Adam (lr ``loop.lr``, default 1e-3) for both optimisers. Returns the pipeline and the summary."""
    refuse_unsupported(loop, task)
    check_task(task)
    seed = int(loop.seed)
    torch.manual_seed(seed)
    ds = load_scenes(task.data, int(task.size), seed)
    sample = ds[0]
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    if tuple(sample.shape) != (3, int(task.size), int(task.size)):
        raise InputError("scene data", f"3x{task.size}x{task.size} images", f"items of shape {list(sample.shape)}")
    pipe = SceneDecomposePipeline(size=int(task.size), grid=int(task.grid), k=int(task.k), glimpse=int(task.glimpse),
                                  width=int(task.width), what_dim=int(task.what_dim), hidden=int(task.hidden))
    lr = float(loop.lr) if loop.lr is not None else SCENE_LOOP["lr"]
    model = pipe.model
    optimizers = {name: torch.optim.Adam([p for part in parts for p in getattr(model, part).parameters()], lr=lr)
                  for name, parts in STAGES.items()}
    info = {"objective": "003 ch. 5: L_rec (Eq. 5.1) + KL with the learned prior (Eq. 5.4) + object prior (Eq. 5.6) + rotation",
            "model": f"{task.grid}x{task.grid} cells x K={task.k}", "data": getattr(ds, "name", str(task.data)), "lr": lr,
            "object_steps": int(task.object_steps), "object_prior": float(task.object_prior), "rotation": float(task.rotation),
            "betas": {"box": float(task.beta_box), "pres": float(task.beta_pres), "what": float(task.beta_what)}}
    outcome = run(loop, modules={"model": model}, optimizers=optimizers, dataset=ds, step_fn=scene_step(task), info=info,
                  build_pipeline=lambda trainer, result: pipe.eval())
    return pipe.eval(), outcome.summary


__all__ = ["STAGES", "check_task", "load_scenes", "scene_losses", "scene_step", "train_scenes"]
