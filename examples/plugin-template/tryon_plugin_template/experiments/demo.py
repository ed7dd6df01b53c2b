"""``tryon demo template``: train briefly, tone an image, write a report."""

from __future__ import annotations

from pathlib import Path

import torch

import tryon
from tryon.report import Report
from tryon.train import TrainConfig

from ..training.config import ToneConfig
from ..training.tone import ToneDataset, train_tone


def run_demo(loop: TrainConfig, task: ToneConfig) -> Path:
    """Train into ``loop.out_dir``, load the run back as a weights folder and write ``report/``; returns its path."""
    summary = train_tone(loop, task)
    out = Path(loop.out_dir)
    pipe = tryon.load("template-tone", weights=out, device="cpu")
    x, y = ToneDataset(n=4, size=32)[0]
    toned = pipe(x[None])
    report = Report(out / "report", title="tryon demo — plugin template")
    report.add_image_grid("input | target | output", [[x, y, toned[0]]], ["input", "target", "output"], scale=4)
    report.add_table("result", ["steps", "training l1", "output vs target L1"],
                     [[summary["steps"], summary["last"].get("l1"), float(torch.mean(torch.abs(toned[0] - y)))]])
    report.add_curves("training loss", out / "metrics.csv")
    return Path(report.write())


__all__ = ["run_demo"]
