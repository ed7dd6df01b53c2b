"""The training loop's settings and the command-line options every ``tryon train <task>`` verb shares.

Torch-free on purpose: plugins call :func:`add_train_arguments` from their verbs' ``configure``, which
``tryon --help`` runs for every verb; :mod:`tryon.train` (the loop, which needs torch) re-exports all three.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .errors import InputError


#: ``precision`` names and the autocast dtype each one means (fp32: no autocast; ``auto``: resolved by the
#: Trainer once the device is known, see :data:`TrainConfig`).
PRECISIONS = {"fp32": None, "bf16": "bfloat16", "fp16": "float16", "auto": None}

#: CPU flags with native bf16 arithmetic (bf16 autocast elsewhere is emulated and slower than fp32).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass
class TrainConfig:
    """Hyper-parameters of the loop (the model's own ones belong to the plugin).

    ``lr`` is recorded (checkpoints, logs) but not applied: the plugin builds its optimisers.
    ``keep_last <= 0`` keeps every checkpoint. ``drop_last`` drops the incomplete last batch of an epoch
    (unless the dataset is smaller than one batch per rank).

    Speed options (none changes the method; see ``docs/benchmarks.md`` for what each one buys):

    * ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"`` — the mixed-precision choice in one word (sets
      ``amp`` / ``amp_dtype``; ``None`` keeps them as given). bf16 autocast also runs on CPU (useful where the
      CPU has avx512_bf16 or AMX); fp16 is CUDA-only (with a GradScaler; ignored with a note on CPU).
      ``"auto"``: bf16 on a CPU with native bf16 (:data:`BF16_CPU_FLAGS`) and on CUDA devices that support
      it, fp16 on other CUDA devices, else fp32 — the fastest choice that trains as well on this machine
      (measured in ``docs/benchmarks.md``); the Trainer logs and records what it resolved to.
    * ``channels_last``: modules (and therefore the activations of their convolutions) in NHWC memory format
      while training; they are put back in the default format when ``fit`` ends, so saved weights are unchanged.
    * ``cache_data``: keep every item the dataset returns in memory (:class:`tryon.cached_dataset.CachedDataset`,
      bounded by ``cache_max_bytes``) — for deterministic datasets whose decoding costs (no random
      augmentation in ``__getitem__``); only with ``num_workers=0`` (workers would each hold a copy).
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
    precision: str | None = None  # "fp32" | "bf16" | "fp16"; None: from amp / amp_dtype
    channels_last: bool = False
    cache_data: bool = False
    cache_max_bytes: int = 2 << 30

    def __post_init__(self) -> None:
        if int(self.max_steps) < 0:
            raise InputError("TrainConfig.max_steps", ">= 0", str(self.max_steps))
        for name in ("batch_size", "log_every", "ckpt_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"TrainConfig.{name}", ">= 1", str(getattr(self, name)))
        if self.precision is not None:
            if self.precision not in PRECISIONS:
                raise InputError("TrainConfig.precision", f"one of {sorted(PRECISIONS)}", repr(self.precision))
            self.amp = self.precision not in ("fp32", "auto")
            if self.amp:
                self.amp_dtype = PRECISIONS[self.precision]
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
    ``--resume/--no-resume``, ``--amp``, ``--amp-dtype``, ``--precision``, ``--channels-last``, ``--cache-data``,
    ``--grad-clip``. Read them back with
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
    p.add_argument("--precision", choices=sorted(PRECISIONS), default=None,
                   help="fp32, bf16 (autocast, also on CPU) or fp16 (CUDA); overrides --amp/--amp-dtype (default: "
                        "the task's choice)")
    p.add_argument("--channels-last", dest="channels_last", action="store_true", default=None,
                   help="train in NHWC memory format (default: the task's choice)")
    p.add_argument("--cache-data", dest="cache_data", action="store_true", default=None,
                   help="keep decoded dataset items in memory (default: the task's choice)")
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
    for name in ("precision", "channels_last", "cache_data"):  # None: leave the TrainConfig / task default
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    values.update(overrides)
    return TrainConfig(**values)


__all__ = ["PRECISIONS", "TrainConfig", "add_train_arguments", "train_config_from_args"]
