"""A tiny split-exportable two-input model for the catalogue/batch tests (not a test module).

The core knows no task: like ``test_export.py``'s tiny task, this reaches ``export_onnx`` only through an
:class:`tryon.ExportSpec` (with ``split``). Structure of a try-on student in miniature: a branch per input
(conv + instance norm, two scales), a head that computes a flow from both branches, warps the ``garment``
pixels with ``grid_sample`` and decodes an image from both branches' features.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from tryon.registry import ExportSpec, GraphSpec

SIZE = (32, 24)


class Branch(nn.Module):
    def __init__(self, width: int = 6):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.InstanceNorm2d(width, affine=True), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(width, width, 4, 2, 1), nn.InstanceNorm2d(width, affine=True), nn.ReLU())

    def forward(self, x):
        s0 = self.a(x)
        return s0, self.b(s0)


class Head(nn.Module):
    def __init__(self, width: int = 6):
        super().__init__()
        self.flow = nn.Conv2d(4 * width, 2, 3, padding=1)
        self.up = nn.ConvTranspose2d(2 * width, width, 4, 2, 1)
        self.out = nn.Conv2d(3 * width + 3, 3, 3, padding=1)

    def forward(self, garment, g0, g1, p0, p1):
        h = torch.cat([F.interpolate(torch.cat([g1, p1], 1), scale_factor=2.0, mode="nearest"), g0, p0], 1)
        flow = torch.tanh(self.flow(h)) * 0.2
        _, _, H, W = garment.shape
        ys = (torch.arange(H, dtype=garment.dtype) * 2 + 1) / H - 1
        xs = (torch.arange(W, dtype=garment.dtype) * 2 + 1) / W - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None] + flow.permute(0, 2, 3, 1)
        warped = F.grid_sample(garment - 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 1.0
        image = torch.tanh(self.out(torch.cat([self.up(torch.cat([g1, p1], 1)), g0, p0, warped], 1)))
        return image, warped


class ToyNet(nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.garment_branch, self.person_branch, self.head = Branch(), Branch(), Head()

    def forward(self, person, garment):
        return self.head(garment, *self.garment_branch(garment), *self.person_branch(person))


def _example(pipe, batch):
    gen = torch.Generator().manual_seed(0)
    h, w = pipe.size
    return {"person": torch.rand(batch, 3, h, w, generator=gen) * 2 - 1,
            "garment": torch.rand(batch, 3, h, w, generator=gen) * 2 - 1}


def _split(pipe):
    return (
        GraphSpec("garment", lambda p: p.net.garment_branch, ("garment",), ("g0", "g1")),
        GraphSpec("person", lambda p: p.net.person_branch, ("person",), ("p0", "p1")),
        GraphSpec("pair", lambda p: p.net.head, ("garment", "g0", "g1", "p0", "p1"), ("image", "warped_garment")),
    )


SPEC = ExportSpec("toy", build=lambda p: p.net.eval(), example_inputs=_example, outputs=("image", "warped_garment"),
                  min_opset=16, split=_split)


def toy_pipeline(seed: int = 0):
    return SimpleNamespace(net=ToyNet(seed).eval(), size=SIZE, config={"toy": True})


def export_toy(out: str | Path, seed: int = 0, split: bool = True, exporter: str = "auto") -> dict:
    from tryon.export import export_onnx

    return export_onnx(toy_pipeline(seed), SPEC, out, opset=17, parity_batches=(1, 3), split=split, task="toy-split",
                       exporter=exporter)


def write_images(folder: Path, n: int, seed: int, prefix: str, sizes=((40, 30), (36, 28), (30, 30))) -> list[Path]:
    """``n`` random RGB PNGs of a few different sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        p = folder / f"{prefix}{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths
