"""Where and in what precision a run trains: the device, ``precision="auto"`` resolved for it, and the
mixed-precision plumbing (autocast, GradScaler, unscale once before clipping) behind ``Trainer.autocast``,
``backward``, ``clip`` and ``optimizer_step``."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import torch

from ..errors import TryonError
from ..trainconfig import PRECISIONS, TrainConfig

log = logging.getLogger("tryon.train")


def pick_device(device: Any, local_rank: int = 0, distributed: bool = False) -> torch.device:
    """``TrainConfig.device`` as a :class:`torch.device`: None → CUDA when available, else CPU; a bare ``"cuda"``
    → the local rank's GPU under DDP, the current one otherwise."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TryonError(f"TrainConfig.device: {device!r} asked for, but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", local_rank if distributed else torch.cuda.current_device())
    return dev


def resolve_auto_precision(device: torch.device) -> str:
    """What ``precision="auto"`` means on ``device``: ``bf16`` on a CPU with native bf16 instructions and on
    CUDA devices that support bf16, ``fp16`` on other CUDA devices, ``fp32`` otherwise."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        from ..hardware import has

        return "bf16" if has("bf16") else "fp32"
    return "fp32"


class MixedPrecision:
    """The AMP of one run on ``device``. Resolves ``precision="auto"`` into ``config`` (the run records what it
    trained in); float16 autocasts only on CUDA (with a GradScaler; on CPU a logged note, then fp32), bfloat16
    on CUDA and CPU. Between :meth:`begin_step` and :meth:`end_step` each optimiser is unscaled at most once
    and the scaler is updated only if an optimiser stepped through it."""

    def __init__(self, config: TrainConfig, device: torch.device):
        if config.precision == "auto":
            resolved = resolve_auto_precision(device)
            config.precision, config.amp = resolved, resolved != "fp32"
            if config.amp:
                config.amp_dtype = PRECISIONS[resolved]
            log.info("precision auto -> %s on %s", resolved, device)
        self.device = device
        self.dtype = torch.float16 if config.amp_dtype == "float16" else torch.bfloat16
        self.enabled = bool(config.amp) and (device.type == "cuda" or
                                             (device.type == "cpu" and self.dtype == torch.bfloat16))
        if config.amp and not self.enabled:
            log.info("amp=True ignored: float16 mixed precision is only used on CUDA (device %s; on CPU use "
                     "precision='bf16')", device)
        self.scaler = torch.amp.GradScaler("cuda") if self.enabled and self.dtype == torch.float16 else None
        #: what the bf16 convolution probe found on this CPU (None: sound, or not training in bf16 on a CPU); when
        #: set, :meth:`autocast` runs the convolutions it breaks in fp32 (:mod:`tryon.train.bf16_conv`)
        self.conv_fault: str | None = None
        if self.enabled and device.type == "cpu" and self.dtype == torch.bfloat16:
            from .bf16_conv import bf16_conv_fault

            self.conv_fault = bf16_conv_fault()
            if self.conv_fault:
                log.warning("%s; convolutions with a 1-pixel strided output run in fp32 (the others in bf16)",
                            self.conv_fault)
        self._stepped = False
        self._unscaled: set[int] = set()

    @property
    def name(self) -> str:
        """``"bf16"``, ``"fp16"`` or ``"fp32"``: what the run trains in."""
        if not self.enabled:
            return "fp32"
        return "bf16" if self.dtype == torch.bfloat16 else "fp16"

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` on the device when enabled (with :class:`~tryon.train.bf16_conv.NarrowConvsInFp32` where
        the CPU's bf16 convolutions are faulty), else a no-op context."""
        if not self.enabled:
            return contextlib.nullcontext()
        if not self.conv_fault:
            return torch.autocast(device_type=self.device.type, dtype=self.dtype)
        return self._guarded_autocast()

    @contextlib.contextmanager
    def _guarded_autocast(self) -> Iterator[None]:
        """bf16 autocast with the faulty convolutions in fp32, entered when the ``with`` block is (not before)."""
        from .bf16_conv import NarrowConvsInFp32

        with torch.autocast(device_type=self.device.type, dtype=self.dtype), NarrowConvsInFp32():
            yield

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the GradScaler when there is one."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscale the gradients of ``optimizer`` (once per step; nothing without a GradScaler)."""
        if self.scaler is not None and id(optimizer) not in self._unscaled:
            self.scaler.unscale_(optimizer)
            self._unscaled.add(id(optimizer))

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``, through the GradScaler when there is one."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self._stepped = True
        else:
            optimizer.step()

    def begin_step(self) -> None:
        self._stepped = False
        self._unscaled.clear()

    def end_step(self) -> None:
        if self.scaler is not None and self._stepped:
            self.scaler.update()


__all__ = ["MixedPrecision", "pick_device", "resolve_auto_precision"]
