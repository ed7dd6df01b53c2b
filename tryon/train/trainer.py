"""The :class:`Trainer` (see :mod:`tryon.train` for what it does) and its result.

The loop, the data order and the checkpointed state live here; the device and mixed precision in
:mod:`.precision`, the DDP plumbing in :mod:`.distributed`, ``metrics.csv`` / TensorBoard in :mod:`.metrics_log`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn

from ..fs import atomic_write_text
from ..errors import DatasetError, TryonError, WeightsError
from ..trainconfig import BF16_CPU_FLAGS, PRECISIONS, TrainConfig  # noqa: F401
from . import distributed as ddp
from .checkpoint import CKPT_FORMAT, checkpoint_files, find_checkpoint, save_checkpoint_file
from .distributed import env_int
from .logs import RESERVED_COLUMNS, to_float
from .metrics_log import MetricsLog
from .precision import MixedPrecision, pick_device, resolve_auto_precision  # noqa: F401 - resolve_*: tryon.train's face
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
        self.device = pick_device(config.device, self.local_rank, self.distributed)
        if self.distributed:
            self._owns_group = ddp.init_process_group(self.device)
            self.rank, self.world_size = ddp.rank_and_world_size()
        self.is_main = self.rank == 0

        self._mp = MixedPrecision(config, self.device)  # AMP: autocast dtype, GradScaler

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
                self.modules[name] = ddp.wrap(m, self.device, config.ddp_find_unused_parameters,
                                              config.ddp_broadcast_buffers)
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
        self._metrics = MetricsLog(self.out_dir, config.tensorboard)
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
        return ddp.unwrap(self.modules[name])

    @property
    def amp(self) -> bool:
        """Whether autocast is on (float16 only on CUDA, bfloat16 on CUDA and CPU)."""
        return self._mp.enabled

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        """The GradScaler of float16 AMP, else None."""
        return self._mp.scaler

    @property
    def precision(self) -> str:
        """What the run trains in: ``"bf16"``, ``"fp16"`` or ``"fp32"`` (after ``auto`` and the CPU fallback)."""
        return self._mp.name

    @property
    def bf16_conv_fault(self) -> str | None:
        """What the bf16 convolution probe found on this CPU when training in bf16 there (see
        :mod:`tryon.train.bf16_conv`), else None."""
        return self._mp.conv_fault

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` on the training device when ``amp`` is on (bf16 on CPU), else a no-op context."""
        return self._mp.autocast()

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the GradScaler when AMP (float16) is on."""
        self._mp.backward(loss)

    def clip(self, params: Any, optimizer: torch.optim.Optimizer | str | None = None) -> float | None:
        """Clip the gradient norm of ``params`` to ``config.grad_clip`` (no-op returning None if unset).

        With AMP, pass the ``optimizer`` owning ``params`` so the gradients are unscaled first.
        Returns the total norm before clipping.
        """
        if self.config.grad_clip is None:
            return None
        if self.scaler is not None and optimizer is not None:
            self._mp.unscale(self.optimizers[optimizer] if isinstance(optimizer, str) else optimizer)
        norm = torch.nn.utils.clip_grad_norm_(params, float(self.config.grad_clip))
        return float(norm)

    def optimizer_step(self, optimizer: torch.optim.Optimizer | str, clip: bool = True) -> None:
        """Clip (if ``grad_clip``) and step ``optimizer``, through the GradScaler when AMP is on."""
        opt = self.optimizers[optimizer] if isinstance(optimizer, str) else optimizer
        if clip and self.config.grad_clip is not None:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            self.clip(params, opt)
        self._mp.step(opt)

    # ---------------------------------------------------------------- set-up helpers
    def _barrier(self) -> None:
        if self.distributed:
            ddp.barrier(self.device)

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
        if self.is_main:
            self._metrics.open(resumed_step)

    def _accumulate(self, losses: Mapping[str, float]) -> None:
        for k, v in losses.items():
            acc = self._acc.setdefault(k, [0.0, 0.0])
            acc[0] += v
            acc[1] += 1.0

    def _reduce_means(self) -> dict[str, float]:
        if self.distributed:  # every rank must report the same loss names (step_fn contract under DDP)
            return ddp.mean_over_ranks(self._acc, self.device)
        return {k: self._acc[k][0] / self._acc[k][1] for k in sorted(self._acc) if self._acc[k][1] > 0}

    def _log_row(self) -> None:
        means = self._reduce_means()
        self._acc = {}
        if not self.is_main:
            return
        row = self._metrics.write(self.step, round(self.elapsed, 3), means)
        self.history.append(dict(row))

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
        return ddp.gather_objects(mine, self.world_size)

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
                mine = int(found[1]["step"]) if found else -1
                chosen = ddp.from_main(mine)
                if chosen != mine:
                    raise WeightsError(f"rank {self.rank} found checkpoint step {mine}, rank 0 step {chosen}: "
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
                from tryon.progress import open_progress

                pbar = open_progress(cfg.max_steps, f"train {self.out_dir.name}", completed=start, unit="step",
                                     stream=sys.stderr)
            last: dict[str, float] = {}
            budget = float(cfg.minutes) * 60.0 if cfg.minutes is not None else None
            stopped_by = "max_steps"
            while self.step < cfg.max_steps:
                batch = self._next_batch()
                self._mp.begin_step()
                out = self.step_fn(self, batch)
                self._mp.end_step()
                self.step += 1
                last = {str(k): to_float(k, v) for k, v in (out or {}).items()}
                self._accumulate(last)
                if budget is not None and self._spent(budget):
                    stopped_by = "minutes"
                final = self.step == cfg.max_steps or stopped_by == "minutes"
                if self.step % cfg.log_every == 0 or final:
                    self._log_row()
                    if pbar is not None and self.history:
                        pbar.fields.update({k: f"{v:.4g}" for k, v in self.history[-1].items() if k not in RESERVED_COLUMNS})
                if self.step % cfg.ckpt_every == 0 or final:
                    self.save_checkpoint()
                if pbar is not None:
                    pbar.advance(1)
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
            self._metrics.close()
            self._loader_iter = None
            if self._owns_group:
                ddp.destroy_process_group()
                self._owns_group = False

    def _spent(self, budget_s: float) -> bool:
        """Whether this call of ``fit`` has used ``budget_s`` seconds (rank 0 decides for every rank)."""
        spent = time.perf_counter() - self._t0 >= budget_s
        return ddp.flag_from_main(spent, self.device) if self.distributed else spent

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
