"""The scene pipelines of the control plugin (003 ch. 5), one weights family ``"scenes"``: a run of ``tryon train
scene-decompose`` is a weights folder for the three tasks.

* ``scene-decompose`` (:class:`SceneDecomposePipeline`): ``pipe(image)`` → :class:`SceneDecomposition` — per image
  the tight boxes (pixels of the model's ``size×size`` frame), scores (``w_pres``), rotated boxes, RGBA object
  layers, every proposal's presence, the reconstruction and the object-VAE calls;
* ``scene-generate`` (:class:`SceneGeneratePipeline`): ``pipe(n=16, seed=0)`` → :class:`tryon.SampleResult`, scenes
  sampled from the learned prior (003 §5.4, Fig. 5.5);
* ``scene-edit`` (:class:`SceneEditPipeline`): ``pipe(image, obj=0, move=(dx, dy), scale=1.0, rotate=0.0,
  remove=False)`` — decompose, change one object's explicit box (move in pixels, scale factor, rotation in radians)
  or remove it, re-render: the geometric control of 003 ch. 5.

Inputs: tensors ``B×3×size×size`` in [−1, 1], or anything :func:`tryon.tensors.as_batch` reads (letterboxed to the
model's size on black); outputs are tensors in the model's frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from tryon import Pipeline, SampleResult, SampleStats
from tryon.errors import InputError

from .detect import Detections, detections
from .model import SceneModel


class ScenePipeline(Pipeline):
    """The chapter-5 model (:class:`~.model.SceneModel`) as the component ``model``; arguments are its own."""

    def __init__(self, *, size: int = 48, grid: int = 4, k: int = 4, glimpse: int = 12, width: int = 8, what_dim: int = 8,
                 hidden: int = 64):
        super().__init__()
        if int(size) % int(grid) or int(grid) < 1 or int(k) < 1:
            raise InputError("scene model", "grid >= 1 dividing size, k >= 1", f"size {size}, grid {grid}, k {k}")
        self.model = SceneModel(size=int(size), grid=int(grid), k=int(k), glimpse=int(glimpse), width=int(width),
                                what_dim=int(what_dim), hidden=int(hidden))
        self.size = int(size)

    def _images(self, image: Any) -> Tensor:
        if isinstance(image, Tensor):
            x = image.unsqueeze(0) if image.dim() == 3 else image
            if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (self.size, self.size):
                raise InputError("image", f"a 3x{self.size}x{self.size} or Bx3x{self.size}x{self.size} tensor in [-1, 1]",
                                 f"a tensor of shape {list(image.shape)}")
            if not torch.isfinite(x).all():
                raise InputError("image", "finite values in [-1, 1]", "NaN or infinite values")
            return x.float().clamp(-1, 1).to(self.device)
        from tryon.tensors import as_batch

        return as_batch(image, size=(self.size, self.size), fill=-1.0).tensor.float().to(self.device)

    @torch.no_grad()
    def decompose_tensors(self, x: Tensor, min_presence: float = 0.5) -> tuple[Any, list[Detections]]:
        """The model's :class:`~.model.SceneOutput` (posterior means) and each image's :class:`~.detect.Detections`
        (boxes with ``w_pres ≥ min_presence``)."""
        self.model.eval()
        out = self.model(x, sample=False)
        return out, detections(out, min_presence=float(min_presence))


@dataclass
class SceneDecomposition:
    """``boxes`` / ``scores`` / ``rotated`` / ``layers``: one entry per image (``n×4`` tight boxes in pixels, ``n``
    presences, ``n×5`` (cx, cy, half_w, half_h, angle) in pixels / radians, ``n×4×H×W`` RGBA layers in [−1, 1] /
    [0, 1]); ``presence`` ``B×P`` every proposal's ``w_pres``; ``reconstruction`` ``B×3×H×W``; ``calls`` object-VAE
    calls of the batch."""

    boxes: list[Tensor]
    scores: list[Tensor]
    rotated: list[Tensor]
    layers: list[Tensor]
    presence: Tensor
    reconstruction: Tensor
    calls: int


def _rotated(out: Any, rows: Tensor, size: int) -> Tensor:
    i, j = out.index[rows], out.slot[rows]
    half = size / 2
    centre = (out.shift[i, j] + 1) * half
    return torch.cat([centre, out.scale[i, j] * half, out.angle[i, j].unsqueeze(-1)], -1).reshape(-1, 5)


class SceneDecomposePipeline(ScenePipeline):
    """``scene-decompose``: ``pipe(image, min_presence=0.5)`` → :class:`SceneDecomposition` (module doc); a lower
    ``min_presence`` also returns the less confident boxes (AP ranks them by score)."""

    def __call__(self, image: Any, min_presence: float = 0.5) -> SceneDecomposition:
        x = self._images(image)
        out, dets = self.decompose_tensors(x, min_presence)
        layers = []
        for d in dets:
            rgb = self._layer_rgb(out, d.kept)
            alpha = self.model.full_layers(out.alpha_windows[d.kept], out.window_origin[d.kept])
            layers.append(torch.cat([rgb, alpha], 1).cpu())
        return SceneDecomposition([d.boxes for d in dets], [d.scores for d in dets], [_rotated(out, d.kept, self.size).cpu() for d in dets],
                                  layers, out.w_pres.cpu(), out.recon.cpu(), out.calls)

    def _layer_rgb(self, out: Any, rows: Tensor) -> Tensor:
        from .glimpse import project_glimpses

        i, j = out.index[rows], out.slot[rows]
        return project_glimpses(out.glimpse_rgb[rows], out.shift[i, j], out.scale[i, j], out.angle[i, j], self.size, self.size)


@dataclass
class SceneEdit:
    """``image``: the edited render ``B×3×H×W``; ``original``: the unedited render; ``layer`` / ``layer_before``:
    the edited object's alpha after / before (``B×1×H×W``); ``box_before`` / ``box_after``: its rotated box
    (cx, cy, half_w, half_h, angle, pixels) per image (``B×5``)."""

    image: Tensor
    original: Tensor
    layer: Tensor
    layer_before: Tensor
    box_before: Tensor
    box_after: Tensor


class SceneEditPipeline(ScenePipeline):
    """``scene-edit``: decompose, then move / scale / rotate / remove object ``obj`` (its rank by score in each
    image's detections), re-render (module doc)."""

    def __call__(self, image: Any, obj: int = 0, move: Any = (0.0, 0.0), scale: float = 1.0, rotate: float = 0.0,
                 remove: bool = False) -> SceneEdit:
        move = torch.as_tensor(move, dtype=torch.float32).flatten()
        if move.numel() != 2 or not torch.isfinite(move).all():
            raise InputError("move", "(dx, dy) in pixels, two finite numbers", str(move.tolist()))
        if not (math.isfinite(float(scale)) and float(scale) > 0) or not math.isfinite(float(rotate)):
            raise InputError("scale / rotate", "a positive scale factor and a finite angle (radians)", f"{scale} / {rotate}")
        x = self._images(image)
        out, dets = self.decompose_tensors(x)
        rows = []
        for b, d in enumerate(dets):
            if not 0 <= int(obj) < len(d):
                raise InputError("obj", f"an object index in 0..{len(d) - 1} (image {b} has {len(d)} objects)", str(obj))
            rows.append(int(d.kept[int(obj)]))
        rows_t = torch.tensor(rows, dtype=torch.long)
        i, j = out.index, out.slot
        shift, box_scale, angle = out.shift[i, j].clone(), out.scale[i, j].clone(), out.angle[i, j].clone()
        w_pres = out.w_pres[i, j].clone()
        before = _rotated(out, rows_t, self.size)
        shift[rows_t] += move.to(shift.device) * 2 / self.size
        box_scale[rows_t] *= float(scale)
        angle[rows_t] += float(rotate)
        if remove:
            w_pres[rows_t] = 0.0
        with torch.no_grad():
            image_out, _, _, windows, origin = self.model.render(i, w_pres, shift, box_scale, angle, out.glimpse_rgb, out.glimpse_alpha,
                                                        out.background)
        after = torch.cat([(shift[rows_t] + 1) * self.size / 2, box_scale[rows_t] * self.size / 2, angle[rows_t, None]], -1)
        layer = self.model.full_layers(windows[rows_t], origin[rows_t])
        layer_before = self.model.full_layers(out.alpha_windows[rows_t], out.window_origin[rows_t])
        return SceneEdit(image_out.cpu(), out.recon.cpu(), layer.cpu(), layer_before.cpu(), before.cpu(), after.cpu())


class SceneGeneratePipeline(ScenePipeline):
    """``scene-generate``: ``pipe(n=16, seed=0, background=None)`` → ``SampleResult(samples n×3×H×W in [−1, 1],
    latents = the sampled boxes (dict), stats)``; ``background`` a colour in [−1, 1] (default: dark grey)."""

    def __call__(self, n: int = 16, seed: int | None = 0, background: Any = None) -> SampleResult:
        if int(n) < 1:
            raise InputError("n", "at least 1 sample", str(n))
        bg = torch.full((3,), -0.8) if background is None else torch.as_tensor(background, dtype=torch.float32).flatten()
        if bg.numel() != 3:
            raise InputError("background", "an RGB colour of 3 numbers in [-1, 1]", str(bg.tolist()))
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.model.eval()
        images, boxes = self.model.generate(int(n), bg.view(1, 3).repeat(int(n), 1), generator=g)
        return SampleResult(images.cpu(), boxes, SampleStats(int(n), int(n), int(n), 1, time.perf_counter() - t0))


__all__ = ["SceneDecomposePipeline", "SceneDecomposition", "SceneEdit", "SceneEditPipeline", "SceneGeneratePipeline",
           "ScenePipeline"]
