"""The :class:`Trainer` (see :mod:`tryon.train` for what it does) and its result."""

from __future__ import annotations

import contextlib
import csv
import inspect
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.distributed as dist
from torch import nn

from ..fs import atomic_write_text
from ..errors import DatasetError, TryonError, WeightsError
from ..trainconfig import BF16_CPU_FLAGS, PRECISIONS, TrainConfig  # noqa: F401
from .checkpoint import CKPT_FORMAT, checkpoint_files, find_checkpoint, save_checkpoint_file
from .logs import RESERVED_COLUMNS, fmt_cell, read_csv, row_step, to_float, write_csv_atomic
from .rng import rng_state, seed_everything, set_rng_state
from .sampler import ListBatchSampler, SeededSampler, mix_seed

log = logging.getLogger("tryon.train")


@dataclass
class TrainResult:
    """What ``fit`` returns. ``steps``: the step reached (completed steps, checkpoint included);
    ``history``: the rows logged by this call (dicts with ``step``, ``wall_time`` and the loss means);
    ``last``: the losses of the last step run by this call; ``resumed_from``: checkpoint step or None;
    ``stopped_by``: ``"max_steps"`` or ``"minutes"`` (the ``TrainConfig.minutes`` budget was spent first)."""

    steps: int
    history: list[dict[str, float]]
    out_dir: str
    last: dict[str, float] = field(default_factory=dict)
    resumed_from: int | None = None
    steps_run: int = 0
    elapsed: float = 0.0
    checkpoint: str | None = None
    stopped_by: str = "max_steps"



def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@contextlib.contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Inside the block, the parameters of ``modules`` (``None`` skipped) do not require gradients; their
    flags are restored after. For the fixed critic of a generator update: gradients still flow *through*
    the module to its inputs, but autograd no longer computes (and the next ``zero_grad`` no longer discards)
    the critic's weight gradients. Pass the unwrapped module (``trainer.unwrap``), not its DDP wrapper, so the
    wrapper does not wait for gradients that never come."""
    saved = [(p, p.requires_grad) for m in modules if m is not None for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def resolve_auto_precision(device: torch.device) -> str:
    """What ``precision="auto"`` means on ``device``: ``bf16`` on a CPU with native bf16 instructions and on
    CUDA devices that support bf16, ``fp16`` on other CUDA devices, ``fp32`` otherwise."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        from ..hardware import has

        return "bf16" if has("bf16") else "fp32"
    return "fp32"


class Trainer:
    """Runs ``step_fn(trainer, batch) -> dict[str, float]`` for ``config.max_steps`` steps (see module doc).

    Attributes: ``config``, ``modules`` (DDP-wrapped when distributed), ``optimizers``, ``dataset``,
    ``device``, ``step``, ``epoch``, ``rank``, ``local_rank``, ``world_size``, ``is_main``, ``distributed``,
    ``out_dir``, ``ckpt_dir``, ``amp`` (True only on CUDA), ``scaler`` (GradScaler or None).
    """

    def __init__(
        self,
        config: TrainConfig,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        dataset: Any,
        step_fn: Callable[["Trainer", Any], Mapping[str, Any]],
        collate_fn: Callable[[list], Any] | None = None,
    ):
        self.config = config
        self.dataset = dataset
        self.step_fn = step_fn
        self.collate_fn = collate_fn
        self.optimizers: dict[str, torch.optim.Optimizer] = dict(optimizers)
        self.out_dir = Path(config.out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.step = 0
        self.epoch = 0
        self._pos = 0  # batches of the current epoch already consumed (per rank)
        self._callbacks: list[tuple[int, Callable[["Trainer"], Any], bool]] = []
        self._raw: dict[str, nn.Module] = dict(modules)

        # --- distributed set-up
        self.world_size = env_int("WORLD_SIZE", 1)
        self.rank = env_int("RANK", 0)
        self.local_rank = env_int("LOCAL_RANK", 0)
        self.distributed = self.world_size > 1
        self._owns_group = False
        self.device = self._pick_device(config.device)
        if self.distributed:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
                self._owns_group = True
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0

        # --- AMP
        if config.precision == "auto":
            resolved = resolve_auto_precision(self.device)
            config.precision, config.amp = resolved, resolved != "fp32"  # the run records what it trained in
            if config.amp:
                config.amp_dtype = PRECISIONS[resolved]
            log.info("precision auto -> %s on %s", resolved, self.device)
        self._amp_dtype = torch.float16 if config.amp_dtype == "float16" else torch.bfloat16
        self.amp = bool(config.amp) and (self.device.type == "cuda" or
                                         (self.device.type == "cpu" and self._amp_dtype == torch.bfloat16))
        if config.amp and not self.amp:
            log.info("amp=True ignored: float16 mixed precision is only used on CUDA (device %s; on CPU use "
                     "precision='bf16')", self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp and self._amp_dtype == torch.float16 else None
        self._scaler_stepped = False
        self._unscaled: set[int] = set()

        if config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True

        # --- modules on the device (NHWC if asked), DDP-wrapped when they have something to train
        if config.channels_last and not any(p.dim() == 4 for m in self._raw.values() for p in m.parameters()):
            from ..errors import UnsupportedOptionError

            raise UnsupportedOptionError("--channels-last", f"training {', '.join(self._raw)}",
                                         "no module has a convolution to run in NHWC memory format")
        for m in self._raw.values():
            m.to(self.device)
            if config.channels_last:
                m.to(memory_format=torch.channels_last)
        self.modules: dict[str, nn.Module] = {}
        for name, m in self._raw.items():
            if self.distributed and any(p.requires_grad for p in m.parameters()):
                from torch.nn.parallel import DistributedDataParallel as DDP

                # torch >= 2.14 renamed broadcast_buffers (forward sync) to forward_sync_buffers; buffers
                # are synced from rank 0 at wrap time either way (the new name) or only if asked (the old one)
                sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                        else "broadcast_buffers")
                self.modules[name] = DDP(
                    m, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    find_unused_parameters=config.ddp_find_unused_parameters,
                    **{sync: config.ddp_broadcast_buffers},
                )
            else:
                self.modules[name] = m

        try:
            n = len(dataset)
        except TypeError as e:
            raise DatasetError("dataset", "a map-style dataset with __len__ and __getitem__", type(dataset).__name__) from e
        if n == 0:
            raise DatasetError("dataset", "at least one item", "an empty dataset")
        if config.cache_data:
            if int(config.num_workers) == 0:
                from ..cached_dataset import CachedDataset

                # a dataset that knows what is worth keeping (e.g. the decoded files under generated pairs)
                # caches itself through with_cache(max_bytes); any other one is wrapped whole
                own = getattr(dataset, "with_cache", None)
                self.dataset = dataset = (own(config.cache_max_bytes) if callable(own)
                                          else CachedDataset(dataset, max_bytes=config.cache_max_bytes))
            else:
                log.warning("cache_data ignored with num_workers=%d (each worker would hold a copy)", config.num_workers)
        self.sampler = SeededSampler(n, seed=config.seed, rank=self.rank, world_size=self.world_size)
        self._loader_iter: Iterator[Any] | None = None
        self._csv_fields: list[str] | None = None
        self._tb: Any = None
        self._acc: dict[str, list[float]] = {}  # key -> [sum, count] since the last logged row
        self._elapsed0 = 0.0
        self._t0 = time.perf_counter()
        self._last_ckpt_step: int | None = None
        self._last_ckpt_path: str | None = None
        self.history: list[dict[str, float]] = []

    # ---------------------------------------------------------------- public helpers
    def add_callback(self, every: int, fn: Callable[["Trainer"], Any], main_only: bool = False) -> None:
        """Call ``fn(trainer)`` after every ``every``-th step (after logging and checkpointing).

        Callbacks run with the RNG states saved and restored around them, so sampling or evaluating in a
        callback never changes the training trajectory. ``main_only`` restricts them to rank 0 (keep it
        False if ``fn`` does collective operations).
        """
        if int(every) < 1:
            raise TryonError(f"add_callback: every must be >= 1, got {every}")
        self._callbacks.append((int(every), fn, bool(main_only)))

    def unwrap(self, name: str) -> nn.Module:
        """The module ``name`` without its DistributedDataParallel wrapper."""
        m = self.modules[name]
        return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` on the training device when ``amp`` is on (bf16 on CPU), else a no-op context."""
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=self._amp_dtype)
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the GradScaler when AMP (float16) is on."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def clip(self, params: Any, optimizer: torch.optim.Optimizer | str | None = None) -> float | None:
        """Clip the gradient norm of ``params`` to ``config.grad_clip`` (no-op returning None if unset).

        With AMP, pass the ``optimizer`` owning ``params`` so the gradients are unscaled first.
        Returns the total norm before clipping.
        """
        if self.config.grad_clip is None:
            return None
        if self.scaler is not None and optimizer is not None:
            opt = self.optimizers[optimizer] if isinstance(optimizer, str) else optimizer
            if id(opt) not in self._unscaled:
                self.scaler.unscale_(opt)
                self._unscaled.add(id(opt))
        norm = torch.nn.utils.clip_grad_norm_(params, float(self.config.grad_clip))
        return float(norm)

    def optimizer_step(self, optimizer: torch.optim.Optimizer | str, clip: bool = True) -> None:
        """Clip (if ``grad_clip``) and step ``optimizer``, through the GradScaler when AMP is on."""
        opt = self.optimizers[optimizer] if isinstance(optimizer, str) else optimizer
        if clip and self.config.grad_clip is not None:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            self.clip(params, opt)
        if self.scaler is not None:
            self.scaler.step(opt)
            self._scaler_stepped = True
        else:
            opt.step()

    # ---------------------------------------------------------------- set-up helpers
    def _pick_device(self, device: Any) -> torch.device:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise TryonError(f"TrainConfig.device: {device!r} asked for, but CUDA is not available")
            if dev.index is None:
                dev = torch.device("cuda", self.local_rank if self.distributed else torch.cuda.current_device())
        return dev

    def _barrier(self) -> None:
        if self.distributed and dist.is_initialized():
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def _batches_of(self, epoch: int) -> list[list[int]]:
        return self.sampler.batches(epoch, self.config.batch_size, self.config.drop_last)

    def _make_iter(self) -> Iterator[Any]:
        from torch.utils.data import DataLoader, default_collate

        batches = self._batches_of(self.epoch)[self._pos:]
        # An explicit generator: creating a DataLoader iterator otherwise draws its base seed from the
        # global torch RNG, which would make a resumed run (iterator created mid-epoch) diverge.
        gen = torch.Generator().manual_seed(mix_seed(self.config.seed, self.epoch, self.rank, self._pos))
        pin = self.config.pin_memory if self.config.pin_memory is not None else self.device.type == "cuda"
        loader = DataLoader(
            self.dataset, batch_sampler=ListBatchSampler(batches), num_workers=int(self.config.num_workers),
            collate_fn=self.collate_fn or default_collate, pin_memory=bool(pin), generator=gen,
        )
        return iter(loader)

    def _next_batch(self) -> Any:
        for _ in range(3):
            if self._loader_iter is None:
                if self._pos >= len(self._batches_of(self.epoch)):
                    self.epoch, self._pos = self.epoch + 1, 0
                self._loader_iter = self._make_iter()
            try:
                batch = next(self._loader_iter)
            except StopIteration:
                self._loader_iter = None
                self.epoch, self._pos = self.epoch + 1, 0
                continue
            self._pos += 1
            return batch
        raise DatasetError("dataset", "at least one batch per epoch", f"{len(self.dataset)} items")

    # ---------------------------------------------------------------- logging
    def _open_logs(self, resumed_step: int | None) -> None:
        if not self.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        csv_path = self.out_dir / "metrics.csv"
        self._csv_fields = None
        if csv_path.is_file():
            keep = resumed_step if resumed_step is not None else 0
            fieldnames, rows = read_csv(csv_path)
            kept = [r for r in rows if row_step(r) is not None and row_step(r) <= keep]
            if fieldnames and kept:
                self._csv_fields = fieldnames
                if len(kept) != len(rows):
                    log.info("metrics.csv: dropping %d row(s) logged after step %d", len(rows) - len(kept), keep)
                    write_csv_atomic(csv_path, fieldnames, kept)
            else:
                if rows:
                    log.info("metrics.csv: starting a fresh log (no checkpoint covers its %d row(s))", len(rows))
                csv_path.unlink()
        self._tb = None
        if self.config.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except Exception as e:  # tensorboard is an optional dependency
                log.info("TensorBoard logging skipped: tensorboard is not importable (%s); metrics.csv still written", e)
            else:
                # purge_step hides events a killed run logged after the checkpoint we resume from
                self._tb = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"), purge_step=(resumed_step or 0) + 1)

    def _accumulate(self, losses: Mapping[str, float]) -> None:
        for k, v in losses.items():
            acc = self._acc.setdefault(k, [0.0, 0.0])
            acc[0] += v
            acc[1] += 1.0

    def _reduce_means(self) -> dict[str, float]:
        keys = sorted(self._acc)
        if self.distributed:
            # every rank must report the same loss names (step_fn contract under DDP)
            t = torch.tensor([[self._acc[k][0], self._acc[k][1]] for k in keys], dtype=torch.float64,
                             device=self.device if self.device.type == "cuda" else "cpu").reshape(-1, 2)
            dist.all_reduce(t)
            return {k: float(t[i, 0] / t[i, 1]) if t[i, 1] > 0 else float("nan") for i, k in enumerate(keys)}
        return {k: self._acc[k][0] / self._acc[k][1] for k in keys if self._acc[k][1] > 0}

    def _log_row(self) -> None:
        means = self._reduce_means()
        self._acc = {}
        if not self.is_main:
            return
        row = {"step": self.step, "wall_time": round(self.elapsed, 3), **means}
        self.history.append(dict(row))
        self._write_csv_row(row)
        if self._tb is not None:
            for k, v in means.items():
                self._tb.add_scalar(k, v, self.step)
            self._tb.flush()

    def _write_csv_row(self, row: Mapping[str, Any]) -> None:
        path = self.out_dir / "metrics.csv"
        keys = [k for k in row if k not in RESERVED_COLUMNS]
        if self._csv_fields is None:
            self._csv_fields = list(RESERVED_COLUMNS) + keys
            with open(path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(self._csv_fields)
        elif any(k not in self._csv_fields for k in keys):
            # a loss appeared that the header lacks: rewrite the file with the wider header
            fieldnames, rows = read_csv(path)
            self._csv_fields = list(fieldnames or self._csv_fields) + [k for k in keys if k not in (fieldnames or self._csv_fields)]
            write_csv_atomic(path, self._csv_fields, rows)
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=self._csv_fields, restval="").writerow({k: fmt_cell(v) for k, v in row.items()})
            f.flush()  # a killed process must not lose (or half-write) logged rows

    @property
    def elapsed(self) -> float:
        """Training wall time in seconds, accumulated over resumed runs."""
        return self._elapsed0 + (time.perf_counter() - self._t0)

    # ---------------------------------------------------------------- checkpoints
    def _gather_rng(self) -> list[dict[str, Any]]:
        mine = rng_state(cuda=self.device.type == "cuda")
        if not self.distributed:
            return [mine]
        if self.device.type == "cuda":  # all_gather_object moves tensors through the current device
            mine = {**mine, "cuda": [s.cpu() for s in mine["cuda"]] if mine["cuda"] is not None else None}
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, mine)
        return out

    def state_dict(self, rng: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Everything a resume needs (tensors, lists, numbers, strings only)."""
        return {
            "format": CKPT_FORMAT,
            "step": int(self.step),
            "epoch": int(self.epoch),
            "pos": int(self._pos),
            "world_size": int(self.world_size),
            "batch_size": int(self.config.batch_size),
            "modules": {k: self.unwrap(k).state_dict() for k in self.modules},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng if rng is not None else [rng_state(cuda=self.device.type == "cuda")],
            "log_acc": {k: [float(v[0]), float(v[1])] for k, v in self._acc.items()},
            "elapsed": float(self.elapsed),
            "config": self.config.to_dict(),
            "torch_version": str(torch.__version__),
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_XXXXXXXX.pt`` and point ``latest`` at it (collective under DDP)."""
        self._barrier()
        rng = self._gather_rng()
        path = self.ckpt_dir / f"step_{self.step:08d}.pt"
        if self.is_main:
            save_checkpoint_file(self.state_dict(rng), path)
            atomic_write_text(self.ckpt_dir / "latest", path.name + "\n")
            self._prune()
        self._barrier()
        self._last_ckpt_step, self._last_ckpt_path = self.step, str(path)
        return path

    def _prune(self) -> None:
        keep = int(self.config.keep_last)
        if keep <= 0:
            return
        for p in checkpoint_files(self.ckpt_dir)[:-keep]:
            with contextlib.suppress(OSError):
                p.unlink()

    def _clean_temp_files(self) -> None:
        if self.is_main and self.ckpt_dir.is_dir():
            for p in self.ckpt_dir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()

    def load_state_dict(self, state: Mapping[str, Any], source: str = "checkpoint") -> None:
        """Restore a :meth:`state_dict` (modules, optimisers, scaler, position, RNG, log accumulators)."""
        missing = set(self.modules) - set(state["modules"])
        if missing:
            raise WeightsError(f"{source}: no state for module(s) {sorted(missing)} (has {sorted(state['modules'])})")
        for name in self.modules:
            try:
                self.unwrap(name).load_state_dict(state["modules"][name])
            except RuntimeError as e:
                raise WeightsError(f"{source}: module {name!r} does not match: {e}") from e
        for name, opt in self.optimizers.items():
            if name not in state["optimizers"]:
                raise WeightsError(f"{source}: no state for optimizer {name!r}")
            opt.load_state_dict(state["optimizers"][name])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.epoch, self._pos = int(state["epoch"]), int(state["pos"])
        old_world, old_bs = int(state.get("world_size", 1)), int(state.get("batch_size", self.config.batch_size))
        if (old_world, old_bs) != (self.world_size, self.config.batch_size):
            consumed = self._pos * old_bs * old_world
            self._pos = consumed // (self.config.batch_size * self.world_size)
            log.warning("%s: saved with world size %d x batch %d, resuming with %d x %d: data position "
                        "approximated (%d samples into epoch %d)", source, old_world, old_bs, self.world_size,
                        self.config.batch_size, consumed, self.epoch)
        rngs = state.get("rng") or []
        if self.rank < len(rngs) and old_world == self.world_size:
            set_rng_state(rngs[self.rank])
        else:
            seed_everything(mix_seed(self.config.seed, self.rank, self.step))
            log.warning("%s: no RNG state for rank %d: reseeded", source, self.rank)
        self._acc = {k: [float(v[0]), float(v[1])] for k, v in (state.get("log_acc") or {}).items()}
        self._elapsed0 = float(state.get("elapsed", 0.0))
        self._loader_iter = None

    # ---------------------------------------------------------------- the loop
    def fit(self, resume: bool = True) -> TrainResult:
        """Train up to ``config.max_steps`` (resuming from the newest checkpoint if ``resume``)."""
        cfg = self.config
        seed_everything(cfg.seed + self.rank)
        self.step, self.epoch, self._pos, self._acc, self._elapsed0 = 0, 0, 0, {}, 0.0
        self._loader_iter, self.history = None, []
        self._last_ckpt_step = self._last_ckpt_path = None
        resumed_from: int | None = None
        pbar = None
        try:
            self._clean_temp_files()
            found = find_checkpoint(self.ckpt_dir) if resume else None
            if self.distributed:  # every rank must resume from the same checkpoint
                chosen = [int(found[1]["step"]) if found else -1]
                mine = chosen[0]
                dist.broadcast_object_list(chosen, src=0)
                if chosen[0] != mine:
                    raise WeightsError(f"rank {self.rank} found checkpoint step {mine}, rank 0 step {chosen[0]}: "
                                       f"is {self.ckpt_dir} on a file system shared by all ranks?")
            if found is not None:
                path, state = found
                self.load_state_dict(state, source=str(path))
                resumed_from = self.step
                self._last_ckpt_step, self._last_ckpt_path = self.step, str(path)
                if self.is_main:
                    log.info("resuming from %s (step %d, epoch %d, batch %d)", path, self.step, self.epoch, self._pos)
            elif not resume and checkpoint_files(self.ckpt_dir) and self.is_main:
                aside = self.ckpt_dir.with_name(f"checkpoints.old-{time.strftime('%Y%m%d-%H%M%S')}")
                log.warning("resume=False: moving the existing checkpoints to %s", aside)
                os.replace(self.ckpt_dir, aside)
            self._barrier()
            self._open_logs(resumed_from)
            start = self.step
            self._t0 = time.perf_counter()
            if self.is_main and cfg.progress and cfg.max_steps > start:
                from tqdm.auto import tqdm

                pbar = tqdm(total=cfg.max_steps, initial=start, desc=f"train {self.out_dir.name}", unit="step",
                            dynamic_ncols=True, mininterval=0.5, file=sys.stderr)
            last: dict[str, float] = {}
            budget = float(cfg.minutes) * 60.0 if cfg.minutes is not None else None
            stopped_by = "max_steps"
            while self.step < cfg.max_steps:
                batch = self._next_batch()
                self._scaler_stepped = False
                self._unscaled.clear()
                out = self.step_fn(self, batch)
                if self.scaler is not None and self._scaler_stepped:
                    self.scaler.update()
                self.step += 1
                last = {str(k): to_float(k, v) for k, v in (out or {}).items()}
                self._accumulate(last)
                if budget is not None and self._spent(budget):
                    stopped_by = "minutes"
                final = self.step == cfg.max_steps or stopped_by == "minutes"
                if self.step % cfg.log_every == 0 or final:
                    self._log_row()
                    if pbar is not None and self.history:
                        pbar.set_postfix({k: f"{v:.4g}" for k, v in self.history[-1].items() if k not in RESERVED_COLUMNS}, refresh=False)
                if self.step % cfg.ckpt_every == 0 or final:
                    self.save_checkpoint()
                if pbar is not None:
                    pbar.update(1)
                self._run_callbacks()
                if stopped_by == "minutes":
                    if self.is_main:
                        log.info("time budget of %g min spent: stopped at step %d of %d", cfg.minutes, self.step,
                                 cfg.max_steps)
                    break
            return TrainResult(
                steps=self.step, history=list(self.history), out_dir=str(self.out_dir), last=last,
                resumed_from=resumed_from, steps_run=self.step - start, elapsed=self.elapsed,
                checkpoint=self._last_ckpt_path, stopped_by=stopped_by,
            )
        finally:
            if self.config.channels_last:  # saved pipelines get the default (contiguous) layout back
                for m in self._raw.values():
                    m.to(memory_format=torch.contiguous_format)
            if pbar is not None:
                pbar.close()
            if self._tb is not None:
                self._tb.close()
                self._tb = None
            self._loader_iter = None
            if self._owns_group and dist.is_initialized():
                dist.destroy_process_group()
                self._owns_group = False

    def _spent(self, budget_s: float) -> bool:
        """Whether this call of ``fit`` has used ``budget_s`` seconds (rank 0 decides for every rank)."""
        spent = time.perf_counter() - self._t0 >= budget_s
        if self.distributed:
            flag = torch.tensor([int(spent)], device=self.device if self.device.type == "cuda" else "cpu")
            dist.broadcast(flag, src=0)
            spent = bool(flag.item())
        return spent

    @property
    def precision(self) -> str:
        """What the run trains in: ``"bf16"``, ``"fp16"`` or ``"fp32"`` (after ``auto`` and the CPU fallback)."""
        if not self.amp:
            return "fp32"
        return "bf16" if self._amp_dtype == torch.bfloat16 else "fp16"

    def _run_callbacks(self) -> None:
        due = [(fn, main_only) for every, fn, main_only in self._callbacks if self.step % every == 0]
        if not due:
            return
        saved = rng_state(cuda=self.device.type == "cuda")
        try:
            for fn, main_only in due:
                if self.is_main or not main_only:
                    fn(self)
        finally:
            set_rng_state(saved)



__all__ = ["TrainResult", "Trainer", "frozen", "resolve_auto_precision"]
