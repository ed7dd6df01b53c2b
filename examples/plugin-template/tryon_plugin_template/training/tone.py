"""``tryon train template-tone``: generated data, the step and the run, through the core's training path."""

from __future__ import annotations

from typing import Any

import torch

from tryon.train import TrainConfig, refuse_unsupported, run

from ..models import ToneNet
from ..pipelines import TonePipeline
from .config import LOOP_DEFAULTS, ToneConfig

SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))


class ToneDataset:
    """Random smooth colour images and their sepia version, in [-1, 1] (deterministic per index)."""

    def __init__(self, n: int = 64, size: int = 16):
        self.n, self.size = int(n), int(size)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        gen = torch.Generator().manual_seed(int(i))
        low = torch.rand(1, 3, 4, 4, generator=gen)
        x = torch.nn.functional.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        y = torch.einsum("oc,chw->ohw", torch.tensor(SEPIA), x).clamp(0, 1)
        return x * 2 - 1, y * 2 - 1


def train_tone(loop: TrainConfig, task: ToneConfig) -> dict[str, Any]:
    """Train the tone net: ``loop`` a :class:`tryon.train.TrainConfig`, ``task`` a :class:`ToneConfig`. The run
    folder ``loop.out_dir`` becomes a ``template-tone`` weights folder. Returns the run's summary."""
    refuse_unsupported(loop, task)
    net = ToneNet()
    opt = torch.optim.Adam(net.parameters(), lr=loop.lr if loop.lr is not None else LOOP_DEFAULTS["lr"])

    def step(trainer, batch):
        x, y = (t.to(trainer.device) for t in batch)
        opt.zero_grad(set_to_none=True)
        with trainer.autocast():
            loss = torch.nn.functional.l1_loss(trainer.modules["net"](x), y)
        trainer.backward(loss)            # AMP scaling when on
        trainer.optimizer_step("net")     # gradient clipping (--grad-clip) and the optimiser step
        return {"l1": float(loss.detach())}

    def build_pipeline(trainer, result):
        pipe = TonePipeline()
        pipe.net = trainer.unwrap("net").cpu().eval()
        return pipe

    outcome = run(loop, modules={"net": net}, optimizers={"net": opt}, dataset=ToneDataset(task.images, task.size),
                  step_fn=step, info={"objective": "L1 to the sepia tone", "data": "generated"},
                  build_pipeline=build_pipeline)
    return outcome.summary


__all__ = ["SEPIA", "ToneDataset", "train_tone"]
