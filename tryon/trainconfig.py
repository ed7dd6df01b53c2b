"""The training loop's settings and the command-line options every ``tryon train <task>`` verb shares.

Torch-free on purpose: plugins call :func:`add_train_arguments` from their verbs' ``configure``, which
``tryon --help`` runs for every verb; :mod:`tryon.train` (the loop, which needs torch) re-exports all three.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .errors import InputError


@dataclass
class TrainConfig:
    """Hyper-parameters of the loop (the model's own ones belong to the plugin).

    ``lr`` is recorded (checkpoints, logs) but not applied: the plugin builds its optimisers.
    ``keep_last <= 0`` keeps every checkpoint. ``drop_last`` drops the incomplete last batch of an epoch
    (unless the dataset is smaller than one batch per rank).
    """

    out_dir: str
    max_steps: int
    batch_size: int = 8
    seed: int = 0
    lr: float | None = None
    log_every: int = 10
    ckpt_every: int = 100
    keep_last: int = 3
    num_workers: int = 0
    device: Any = None
    amp: bool = False
    grad_clip: float | None = None
    # additions beyond the contract (all optional)
    amp_dtype: str = "float16"  # "float16" (with a GradScaler) or "bfloat16" (no scaler)
    drop_last: bool = True
    progress: bool = True
    tensorboard: bool = True
    deterministic: bool = False  # torch.use_deterministic_algorithms(warn_only=True) + cudnn flags
    pin_memory: bool | None = None  # None: when training on CUDA
    ddp_broadcast_buffers: bool = False
    ddp_find_unused_parameters: bool = False

    def __post_init__(self) -> None:
        if int(self.max_steps) < 0:
            raise InputError("TrainConfig.max_steps", ">= 0", str(self.max_steps))
        for name in ("batch_size", "log_every", "ckpt_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"TrainConfig.{name}", ">= 1", str(getattr(self, name)))
        if self.amp_dtype not in ("float16", "bfloat16"):
            raise InputError("TrainConfig.amp_dtype", "'float16' or 'bfloat16'", repr(self.amp_dtype))

    def to_dict(self) -> dict[str, Any]:
        """JSON-/``weights_only``-safe dict (devices and paths become strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
        return out



def add_train_arguments(
    p: Any, *, steps: int, batch_size: int = 8, lr: float | None = None, log_every: int = 10, ckpt_every: int = 200,
) -> None:
    """Add the options every ``tryon train <task>`` verb shares to an argparse parser: ``--out``, ``--steps``,
    ``--batch-size``, ``--lr``, ``--seed``, ``--device``, ``--log-every``, ``--ckpt-every``, ``--workers``,
    ``--resume/--no-resume``, ``--amp``, ``--amp-dtype``, ``--grad-clip``. Read them back with
    :func:`train_config_from_args`."""
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs and the final pipeline weights")
    p.add_argument("--steps", type=int, default=steps, help=f"training steps (default {steps})")
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"batch size (default {batch_size})")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr if lr is not None else 'the task default'})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--log-every", type=int, default=log_every)
    p.add_argument("--ckpt-every", type=int, default=ckpt_every)
    p.add_argument("--workers", type=int, default=0, help="data-loader workers")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start from scratch even if checkpoints exist")
    p.add_argument("--resume", dest="resume", action="store_true", help="resume from the last checkpoint (default)")
    p.add_argument("--amp", action="store_true", help="automatic mixed precision (CUDA only; ignored with a note on CPU)")
    p.add_argument("--amp-dtype", choices=("float16", "bfloat16"), default="float16")
    p.add_argument("--grad-clip", type=float, default=None, help="clip each optimiser's gradient norm to this value")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(resume=True, progress=True)


def train_config_from_args(args: Any, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of options added by :func:`add_train_arguments` (``overrides`` win)."""
    values = {
        "out_dir": str(args.out), "max_steps": int(args.steps), "batch_size": int(args.batch_size), "seed": int(args.seed),
        "lr": args.lr, "log_every": int(args.log_every), "ckpt_every": int(args.ckpt_every), "device": args.device,
        "num_workers": int(args.workers), "amp": bool(args.amp), "amp_dtype": args.amp_dtype, "grad_clip": args.grad_clip,
        "progress": bool(getattr(args, "progress", True)),
    }
    values.update(overrides)
    return TrainConfig(**values)


__all__ = ["TrainConfig", "add_train_arguments", "train_config_from_args"]
