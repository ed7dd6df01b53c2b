"""The tiny in-process test task "tiny-tryon" shared by the export, runtime, bench, int8, OpenVINO and serve
tests: two images person/garment → a small conv net with an InstanceNorm2d and an F.grid_sample whose base grid
is built from arange/meshgrid (what an exported try-on graph holds, without try-on knowledge: the core reaches it
only through its specs). Imported by name (``tests/`` is on ``sys.path``, see conftest.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import tryon
import tryon.plugins
from tryon.io import as_batch, restore


class TinyNet(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1), nn.InstanceNorm2d(width, affine=True), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        )
        self.flow = nn.Conv2d(width, 2, 3, padding=1)
        self.out = nn.Conv2d(width + 3, 3, 3, padding=1)

    def forward(self, person, garment):
        h = self.enc(torch.cat([person, garment], 1))
        flow = torch.tanh(self.flow(h)) * 0.1
        _, _, H, W = person.shape
        ys = (torch.arange(H, dtype=person.dtype, device=person.device) * 2 + 1) / H - 1
        xs = (torch.arange(W, dtype=person.dtype, device=person.device) * 2 + 1) / W - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None] + flow.permute(0, 2, 3, 1)
        warped = F.grid_sample(garment, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return torch.tanh(self.out(torch.cat([h, warped], 1))), warped


class BadNet(nn.Module):
    """Not exportable: torch.linalg.solve has no ONNX op in either exporter (deps.md §4)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, person, garment):
        a = torch.eye(3) + 0.1 * person.mean((2, 3))[..., None]
        x = torch.linalg.solve(a, garment.mean((2, 3))[..., None])
        return self.conv(person) + x[..., None], garment


class TinyPipeline(tryon.Pipeline):
    def __init__(self, size=(64, 48), width: int = 8, seed: int = 0, bad: bool = False):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        torch.manual_seed(seed)
        self.net = (BadNet() if bad else TinyNet(width)).eval()

    def __call__(self, person, garment):
        pb = as_batch(person, name="person", size=self.size)
        gb = as_batch(garment, name="garment", size=self.size)
        if len(gb) == 1 and len(pb) > 1:
            gb.tensor = gb.tensor.expand(len(pb), -1, -1, -1)
        with torch.inference_mode():
            img, _ = self.net(pb.tensor.to(self.device), gb.tensor.to(self.device))
        return restore(img.cpu(), pb)


def example_inputs(pipe, batch):
    g = torch.Generator().manual_seed(1)
    h, w = pipe.size
    return {"person": torch.rand(batch, 3, h, w, generator=g) * 2 - 1,
            "garment": torch.rand(batch, 3, h, w, generator=g) * 2 - 1}


def _task(name, **factory_kw):
    spec = tryon.ExportSpec("generator", build=lambda p: p.net, example_inputs=example_inputs,
                            outputs=("image", "warped"), min_opset=16)
    return tryon.TaskSpec(name=name, summary="tiny test task", factory=lambda **kw: TinyPipeline(**{**factory_kw, **kw}),
                          inputs=("person", "garment"), outputs=("image",), exportable=(spec,),
                          bench_inputs=example_inputs)


class TinyPlugin:
    @tryon.hookimpl
    def tryon_register_tasks(self, registry):
        registry.register(_task("tiny-tryon"))
        registry.register(_task("tiny-wide", width=16))
        registry.register(_task("tiny-bad", bad=True))


def register_tiny_tasks():
    tryon.plugins.reset_manager(autoload=False)
    assert tryon.plugins.get_manager().register(TinyPlugin(), name="tiny-test-plugin")


def smooth_image(h, w, seed=0):
    """A photo-like (smooth, structured) uint8 image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [np.sin(xx / (5 + 7 * rng.random()) + rng.random() * 6) * np.cos(yy / (4 + 9 * rng.random())) for _ in range(3)]
    return ((np.stack(chans, -1) * 0.5 + 0.5) * 255).round().astype(np.uint8)
