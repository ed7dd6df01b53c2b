"""A tiny training run for tests/test_train.py (run as a subprocess, also under torchrun).

A 2-layer MLP with dropout regresses random tensors; the dataset adds torch noise per item and the step
scales its loss by python ``random`` and numpy draws, so a resume that failed to restore any RNG (or the
data position, or the optimiser state) would not end bit-identical to an uninterrupted run.
``--plain`` removes every random element (for the DDP-vs-single-process comparison).

Writes into ``--dump``: ``params_rank{R}.pt`` (the net's state dict, ``torch.save``) and
``result_rank{R}.json`` (steps, resumed_from, the steps this process ran, world size).
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)

from tryon.train import TrainConfig, Trainer  # noqa: E402


class TinyData(torch.utils.data.Dataset):
    def __init__(self, n: int = 28, plain: bool = False):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=g)
        w = torch.randn(8, 1, generator=g)
        self.y = torch.tanh(self.x @ w) + 0.1
        self.plain = plain

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        x = self.x[i]
        if not self.plain:
            x = x + 0.05 * torch.randn(8)  # augmentation noise from the global torch RNG
        return x, self.y[i]


def build_net(plain: bool) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(8, 16), nn.Tanh()]
    if not plain:
        layers.append(nn.Dropout(0.25))
    layers.append(nn.Linear(16, 1))
    return nn.Sequential(*layers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--dump", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--ckpt-every", type=int, default=5)
    ap.add_argument("--log-every", type=int, default=1)
    ap.add_argument("--keep-last", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--n", type=int, default=28)
    ap.add_argument("--kill-at", type=int, default=None, help="os._exit(1) right after this step")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--ddp", action="store_true", help="expect to run under torchrun")
    ap.add_argument("--no-resume", action="store_true")
    args = ap.parse_args()

    if args.ddp:
        assert int(os.environ.get("WORLD_SIZE", "1")) > 1, "--ddp needs torchrun"
    net = build_net(args.plain)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    seen: list[int] = []

    def step_fn(tr: Trainer, batch):
        x, y = batch
        model = tr.modules["net"]
        model.train()
        scale = 1.0 if args.plain else 1.0 + 0.1 * random.random() + 0.1 * float(np.random.rand())
        loss = F.mse_loss(model(x.to(tr.device)), y.to(tr.device)) * scale
        tr.optimizers["net"].zero_grad(set_to_none=True)
        tr.backward(loss)
        tr.optimizer_step("net")
        seen.append(tr.step + 1)
        return {"mse": loss, "scale": scale}

    cfg = TrainConfig(out_dir=args.out, max_steps=args.steps, batch_size=args.batch_size, seed=7, lr=1e-2,
                      log_every=args.log_every, ckpt_every=args.ckpt_every, keep_last=args.keep_last,
                      device="cpu", progress=False)
    tr = Trainer(cfg, {"net": net}, {"net": opt}, TinyData(args.n, args.plain), step_fn)
    if args.kill_at is not None:
        tr.add_callback(1, lambda t: os._exit(1) if t.step == args.kill_at else None)
    res = tr.fit(resume=not args.no_resume)
    dump = Path(args.dump)
    dump.mkdir(parents=True, exist_ok=True)
    torch.save(tr.unwrap("net").state_dict(), dump / f"params_rank{tr.rank}.pt")
    (dump / f"result_rank{tr.rank}.json").write_text(json.dumps({
        "steps": res.steps, "resumed_from": res.resumed_from, "seen": seen, "world_size": tr.world_size,
        "is_main": tr.is_main, "ddp": type(tr.modules["net"]).__name__, "last": res.last,
    }))


if __name__ == "__main__":
    main()
