"""The DDP plumbing of the Trainer: the ``torchrun`` environment, the process group, wrapping modules, and the
few collectives the loop needs (barrier, loss means, per-rank objects, rank 0's decisions)."""

from __future__ import annotations

import inspect
import os
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import nn


def env_int(name: str, default: int) -> int:
    """``int(os.environ[name])``, ``default`` when unset or not an integer."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _comm_device(device: torch.device) -> torch.device | str:
    return device if device.type == "cuda" else "cpu"


def init_process_group(device: torch.device) -> bool:
    """Select ``device`` (CUDA) and initialise the process group (nccl on CUDA, gloo otherwise) unless one
    exists; True when this call created it (the caller then destroys it)."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return True


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_and_world_size() -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


def wrap(module: nn.Module, device: torch.device, find_unused_parameters: bool, broadcast_buffers: bool) -> nn.Module:
    """``module`` in ``DistributedDataParallel``; ``broadcast_buffers`` syncs buffers in every forward."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    # torch >= 2.14 renamed broadcast_buffers (forward sync) to forward_sync_buffers; buffers
    # are synced from rank 0 at wrap time either way (the new name) or only if asked (the old one)
    sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
            else "broadcast_buffers")
    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=find_unused_parameters, **{sync: broadcast_buffers})


def unwrap(module: nn.Module) -> nn.Module:
    """``module`` without its DistributedDataParallel wrapper."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def barrier(device: torch.device) -> None:
    """Wait for every rank (nothing without a process group)."""
    if dist.is_initialized():
        if device.type == "cuda":
            dist.barrier(device_ids=[device.index])
        else:
            dist.barrier()


def mean_over_ranks(acc: Mapping[str, list[float]], device: torch.device) -> dict[str, float]:
    """``{key: [sum, count]}`` of every rank → ``{key: total sum / total count}`` (NaN for no count); every
    rank must hold the same keys."""
    keys = sorted(acc)
    t = torch.tensor([[acc[k][0], acc[k][1]] for k in keys], dtype=torch.float64,
                     device=_comm_device(device)).reshape(-1, 2)
    dist.all_reduce(t)
    return {k: float(t[i, 0] / t[i, 1]) if t[i, 1] > 0 else float("nan") for i, k in enumerate(keys)}


def gather_objects(obj: Any, world_size: int) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    out: list[Any] = [None] * world_size
    dist.all_gather_object(out, obj)
    return out


def from_main(obj: Any) -> Any:
    """Rank 0's ``obj`` (picklable)."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def flag_from_main(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` (a tensor broadcast, no pickling)."""
    t = torch.tensor([int(flag)], device=_comm_device(device))
    dist.broadcast(t, src=0)
    return bool(t.item())


__all__ = ["barrier", "destroy_process_group", "env_int", "flag_from_main", "from_main", "gather_objects",
           "init_process_group", "mean_over_ranks", "rank_and_world_size", "unwrap", "wrap"]
