"""``tryon train template-tone`` and ``tryon demo template``, through the core's training path."""

from __future__ import annotations

import json
from pathlib import Path

SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))


class ToneDataset:
    """Random smooth colour images and their sepia version, in [-1, 1] (deterministic per index)."""

    def __init__(self, n: int = 64, size: int = 16):
        self.n, self.size = int(n), int(size)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import torch

        gen = torch.Generator().manual_seed(int(i))
        low = torch.rand(1, 3, 4, 4, generator=gen)
        x = torch.nn.functional.interpolate(low, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        y = torch.einsum("oc,chw->ohw", torch.tensor(SEPIA), x).clamp(0, 1)
        return x * 2 - 1, y * 2 - 1


def configure(p) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=200, batch_size=16, lr=0.05, ckpt_every=100)


def train(args) -> dict:
    import torch

    from tryon.train import run, train_config_from_args

    from .pipeline import ToneNet, TonePipeline

    config = train_config_from_args(args)
    net = ToneNet()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr or 0.05)

    def step(trainer, batch):
        x, y = (t.to(trainer.device) for t in batch)
        opt.zero_grad(set_to_none=True)
        with trainer.autocast():
            loss = torch.nn.functional.l1_loss(trainer.modules["net"](x), y)
        trainer.backward(loss)            # AMP scaling when on
        trainer.optimizer_step("net")     # gradient clipping (--grad-clip) and the optimiser step
        return {"l1": float(loss)}

    def build_pipeline(trainer, result):
        pipe = TonePipeline()
        pipe.net = trainer.unwrap("net").cpu().eval()
        return pipe

    outcome = run(config, modules={"net": net}, optimizers={"net": opt}, dataset=ToneDataset(),
                  step_fn=step, info={"objective": "L1 to the sepia tone", "data": "generated"},
                  build_pipeline=build_pipeline, resume=args.resume)
    return outcome.summary


def run_train(args) -> int:
    print(json.dumps(train(args), indent=2, default=str))
    return 0


def configure_demo(p) -> None:
    configure(p)
    p.set_defaults(steps=60, out="runs/demo-template")
    for action in p._actions:
        if action.dest == "out":
            action.required = False


def run_demo(args) -> int:
    import torch

    import tryon
    from tryon.report import Report

    summary = train(args)
    out = Path(args.out)
    pipe = tryon.load("template-tone", weights=out, device="cpu")
    x, y = ToneDataset(n=4, size=32)[0]
    toned = pipe(x[None])
    report = Report(out / "report", title="tryon demo — plugin template")
    report.add_image_grid("input | target | output", [[x, y, toned[0]]], ["input", "target", "output"], scale=4)
    report.add_table("result", ["steps", "training l1", "output vs target L1"],
                     [[summary["steps"], summary["last"].get("l1"), float(torch.mean(torch.abs(toned[0] - y)))]])
    report.add_curves("training loss", out / "metrics.csv")
    path = report.write()
    print(f"report: {path}")
    return 0
