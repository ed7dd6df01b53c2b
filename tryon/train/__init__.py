"""The training loop every plugin uses: seeded, resumable, logged, DDP-ready.

The loop itself is task-agnostic: a plugin supplies its modules, optimisers, dataset and a ``step_fn`` that
does one optimisation step (for WUTON: discriminator update then generator update with Adam β=(0.5, 0.999),
batch size 8, 000 App. E.1; for the GANs of 004 §3.3: n critic steps per generator step). The Trainer adds:

* **Seeding** — python ``random``, numpy and torch are seeded from ``config.seed`` (+ rank under DDP, so
  dropout / augmentation noise differ between ranks). The data order comes from :class:`SeededSampler`:
  a permutation of the dataset that depends only on ``(seed, epoch)``, split between ranks like
  ``torch.utils.data.DistributedSampler`` (padded to a multiple of the world size, rank ``r`` takes
  ``perm[r::world_size]``).
* **Logging** — every ``log_every`` steps (and at the last step) the mean of each loss over the steps since
  the previous row goes to ``out_dir/metrics.csv`` (``step, wall_time, <losses>``; flushed per row), to
  TensorBoard (``out_dir/tensorboard``; skipped with one logged note if tensorboard is not importable — it
  is not a core dependency) and to the progress display of the main process (:mod:`tryon.progress`: a rich
  bar on a terminal, a plain line per 5 % in a log). Under DDP the means are averaged over ranks.
* **Checkpoints** — every ``ckpt_every`` steps and at the end: ``out_dir/checkpoints/step_XXXXXXXX.pt`` with
  module and optimiser state dicts, the AMP scaler, step, epoch and position in the epoch, the RNG states
  of every rank (torch CPU, CUDA when used, numpy, python ``random``), the config and the logging
  accumulators. Everything is plain tensors / lists / numbers / strings, so the file loads with
  ``torch.load(path, weights_only=True)`` (no pickle). Files are written to a temp file in the same folder,
  fsynced and renamed (``os.replace``); the ``latest`` pointer file is then replaced the same way, and only
  the last ``keep_last`` checkpoints are kept. A half-written file therefore never carries a checkpoint
  name; a checkpoint that fails to load anyway is skipped (with a warning) in favour of the previous one.
* **Resume** — ``fit(resume=True)`` restores everything from the newest loadable checkpoint and continues
  at the next step with the data iterator positioned exactly where it was (same epoch, same batch);
  ``metrics.csv`` rows past the checkpoint are dropped and TensorBoard events past it are purged. With
  ``num_workers=0`` a resumed run is bit-identical to an uninterrupted one (same thread count assumed).
  With worker processes, worker-side randomness is seeded from ``(seed, epoch, rank, start position)``:
  reproducible from run to run, but a resumed epoch's augmentations can differ from an uninterrupted one.
* **DDP** — under ``torchrun`` (``WORLD_SIZE > 1``) the process group is initialised (gloo on CPU, nccl on
  CUDA), modules with trainable parameters are wrapped in ``DistributedDataParallel`` (buffers are not
  broadcast by default: GAN discriminators with batch norm are called several times per step, see
  ``ddp_broadcast_buffers``), only rank 0 writes logs and checkpoints (with barriers around the writes) and
  the process group is destroyed at the end of ``fit`` if the Trainer created it.
* **AMP** — ``precision="fp16"`` (``amp=True``, the default ``amp_dtype``) only on CUDA (on CPU it logs a
  note and trains in fp32); ``precision="bf16"`` (``amp=True, amp_dtype="bfloat16"``) autocasts on CUDA and
  on CPU (no GradScaler). With AMP, ``step_fn`` should use ``trainer.autocast()``, ``trainer.backward(loss)``
  and ``trainer.optimizer_step(name)`` (which unscale, clip to ``grad_clip`` and step through the GradScaler);
  without AMP these are plain calls.
* **Speed options** (none changes the method) — ``channels_last`` trains the modules in NHWC
  memory format (put back to the default format when ``fit`` ends); ``cache_data`` wraps the dataset in a
  :class:`tryon.cached_dataset.CachedDataset` (decoded once, with ``num_workers=0``); optimiser gradients are
  reset with ``set_to_none`` by the plugins' step functions.
* **Time budget** — ``minutes``: ``fit`` stops after the step that spends the budget (wall clock of this call,
  so a resumed run gets a fresh one; under DDP rank 0 decides for all), logs and checkpoints that step as the
  last one and returns ``stopped_by="minutes"``; :func:`run` records the steps reached.

Step numbering: ``trainer.step`` counts completed steps. Inside ``step_fn`` it is the number of steps done
before the current one (0 on the first call); in callbacks, logs and checkpoint names it is the number
just completed (``step_00000010.pt`` holds the state after 10 steps).
"""

from __future__ import annotations

from ..imports import lazy_exports
from ..trainconfig import (  # noqa: F401 - the configuration is torch-free and part of this face
    BF16_CPU_FLAGS, PRECISIONS, TrainConfig, add_config_arguments, add_train_arguments, config_from_args, option,
    refuse_unsupported, train_config_from_args,
)

#: Where each public name lives (loaded on first use, so ``import tryon.train`` stays light).
_WHERE = {
    "Trainer": "trainer", "TrainResult": "trainer", "frozen": "trainer", "resolve_auto_precision": "precision",
    "RunOutcome": "runner", "run": "runner",
    "SeededSampler": "sampler", "seed_everything": "rng", "rng_state": "rng", "set_rng_state": "rng",
    "CKPT_FORMAT": "checkpoint", "find_checkpoint": "checkpoint", "checkpoint_files": "checkpoint",
    "load_checkpoint_file": "checkpoint", "save_checkpoint_file": "checkpoint", "read_metrics": "logs",
}
__getattr__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "TrainConfig", "TrainResult", "Trainer", "SeededSampler", "seed_everything", "rng_state", "set_rng_state",
    "find_checkpoint", "checkpoint_files", "load_checkpoint_file", "save_checkpoint_file", "read_metrics",
    "CKPT_FORMAT", "RunOutcome", "run", "add_train_arguments", "train_config_from_args", "add_config_arguments",
    "config_from_args", "option", "refuse_unsupported", "frozen", "resolve_auto_precision", "PRECISIONS", "BF16_CPU_FLAGS",
]
