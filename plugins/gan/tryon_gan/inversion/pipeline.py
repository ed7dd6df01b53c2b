"""The components of the inversion tasks and the ``gan-invert`` pipeline.

The inversion tasks (``gan-invert`` here; ``gan-inpaint``, ``gan-composite``, ``gan-crossover`` in
:mod:`tryon_gan.editing_pipelines`, one layer up, next to :mod:`tryon_gan.editing`) share one set of components —
the generator of a ``tryon train gan`` run and the encoder of ``tryon train gan-encoder`` — held by
:class:`GanEncoderPipeline`. The four tasks share the weights family ``"gan-inversion"``: the run folder (saved as
``gan-invert``) loads into any of them (``tryon.load("gan-inpaint", weights=RUN)``).

Inputs are files, PIL, numpy or tensors (``tryon.io``); images are letterboxed to the generator's size and
converted to its channel count (grey = mean of RGB), masks follow the SDK convention (1 = edit) and must
have the image's size; the result comes back in the kind and size that went in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from tryon import ExportSpec, Pipeline
from tryon.errors import InputError, WeightsError

from ..models import build_generator
from .encoder import LatentEncoder, Projector
from .protocol import InversionResult, invert


class GanEncoderPipeline(Pipeline):
    """Generator + inversion encoder (the components every inversion task uses).

    Args:
        data_shape / latent_dim / arch / hidden / activation / base: the generator's settings (as in
            ``GanPipeline``; images only).
        encoder_width: the encoder's width unit.
        method: default inversion method (``optimisation``, ``encoder``, ``hybrid``, ``plumerault``).
        steps / lr / sigma: default inversion settings (``None``: the method's defaults).
        feather: default σ (pixels) of the feathered seam of the editing tasks' paste (``None``: the core's
            :data:`tryon.compose.SEAM_SIGMA`, a 3-pixel band; 0: a hard paste).
    """

    def __init__(self, *, data_shape: Sequence[int] = (3, 32, 32), latent_dim: int = 16, arch: str = "conv",
                 hidden: Sequence[int] = (20, 20), activation: str = "relu", base: int = 16, encoder_width: int = 32,
                 method: str = "hybrid", steps: int | None = None, lr: float | None = None, sigma: float = 3.0,
                 feather: float | None = None, seed: int = 0):
        super().__init__()
        if len(data_shape) != 3:
            raise InputError("data_shape", "[C, H, W] (inversion works on image generators)", str(list(data_shape)))
        c, h, w = (int(s) for s in data_shape)
        if h != w:
            raise InputError("data_shape", "square images", f"{w}×{h}")
        self.generator = build_generator({"data_shape": [c, h, w], "latent_dim": int(latent_dim), "arch": arch,
                                          "hidden": [int(v) for v in hidden], "activation": activation, "base": int(base)})
        self.encoder = LatentEncoder(int(latent_dim), h, c, width=int(encoder_width))
        self.latent_dim, self.shape = int(latent_dim), (c, h, w)

    @classmethod
    def from_generator_run(cls, run: str | Path, **settings: Any) -> "GanEncoderPipeline":
        """A pipeline whose generator comes from a ``tryon train gan`` run folder (encoder untrained)."""
        manifest = Pipeline.read_config(run)
        g = dict(manifest.get("config", {}))
        shape = list(g.get("data_shape", []))
        if len(shape) != 3:
            raise InputError("--generator", "a `tryon train gan` run on images (data_shape [C, H, W])", f"data_shape {shape}")
        pipe = cls(data_shape=shape, latent_dim=int(g.get("latent_dim", 16)), arch=g.get("arch", "conv"),
                   hidden=g.get("hidden", [20, 20]), activation=g.get("activation", "relu"), base=int(g.get("base", 16)),
                   **settings)
        pipe.load_generator(run)
        return pipe

    def load_generator(self, run: str | Path) -> None:
        from safetensors.torch import load_file

        path = Path(run) / "generator.safetensors"
        if not path.is_file():
            raise WeightsError(f"generator run {run}: expected generator.safetensors, found none")
        try:
            self.generator.load_state_dict(load_file(str(path)))
        except RuntimeError as exc:
            raise WeightsError(f"{path}: does not fit the generator: {str(exc).splitlines()[0]}") from None

    # -- tensors ---------------------------------------------------------------------------------
    def invert(self, images: Tensor, mask: Tensor | None = None, method: str | None = None, **options: Any) -> InversionResult:
        """:func:`tryon_gan.inversion.invert` with this pipeline's generator, encoder and defaults."""
        cfg = self.config
        kw: dict[str, Any] = {"steps": cfg.get("steps"), "lr": cfg.get("lr"), "sigma": cfg.get("sigma", 3.0),
                              "seed": cfg.get("seed", 0), "encoder": self.encoder, "latent_dim": self.latent_dim}
        kw.update(options)
        return invert(self.generator, images.to(self.device), mask, method=method or cfg.get("method", "hybrid"), **kw)

    # -- files / PIL / numpy -----------------------------------------------------------------------
    def _images(self, image: Any, name: str = "image") -> tuple[Any, Tensor]:
        from tryon.io import as_batch

        batch = as_batch(image, name=name, size=self.shape[1:])
        x = batch.tensor.to(self.device)
        if self.shape[0] == 1:
            x = x.mean(1, keepdim=True)
        return batch, x

    def _masks(self, mask: Any, batch: Any, name: str = "mask") -> Tensor:
        import torch.nn.functional as F

        from tryon.io import load_mask

        batched = isinstance(mask, (list, tuple)) or (isinstance(mask, torch.Tensor) and mask.ndim == 4)
        items = list(mask) if batched else [mask]  # a B×1×H×W tensor is a batch of masks, like a list
        if len(items) == 1 and len(batch) > 1:
            items = items * len(batch)
        if len(items) != len(batch):
            raise InputError(name, f"{len(batch)} masks (one per image) or one", f"{len(items)}")
        out = []
        for i, (item, size, box) in enumerate(zip(items, batch.sizes, batch.boxes or [None] * len(items))):
            label = f"{name}[{i}]" if len(items) > 1 else name
            m = torch.from_numpy(load_mask(item, name=label, size=size))[None, None]
            top, left, h, w = box
            full = torch.zeros(1, 1, *self.shape[1:])
            full[:, :, top:top + h, left:left + w] = F.interpolate(m, size=(h, w), mode="nearest")
            out.append(full)
        return torch.cat(out).to(self.device)

    def _restore(self, out: Tensor, batch: Any) -> Any:
        from tryon.io import restore

        if out.shape[1] == 1:
            out = out.repeat(1, 3, 1, 1)
        return restore(out.detach().cpu(), batch)

    def __call__(self, image: Any, mask: Any = None, method: str | None = None, **options: Any) -> Any:
        batch, x = self._images(image)
        m = self._masks(mask, batch) if mask is not None else None
        res = self.invert(x, m, method, **options)
        return InversionOutput(self._restore(res.reconstructions, batch), res.latents.cpu(), res)


@dataclass
class InversionOutput:
    """``image``: the reconstruction (kind and size of the input); ``latents``: ``B×d``; ``result``: all."""

    image: Any
    latents: Tensor
    result: InversionResult


class GanInvertPipeline(GanEncoderPipeline):
    """``gan-invert``: ``pipe(image, mask=None, method=...)`` → reconstruction + latents."""


# ------------------------------------------------------------------------------------------------ export
def _example(pipe: GanEncoderPipeline, batch: int) -> dict[str, Tensor]:
    c, h, w = pipe.shape
    g = torch.Generator().manual_seed(batch)
    image = torch.rand(batch, c, h, w, generator=g) * 2 - 1
    mask = (torch.rand(batch, 1, h, w, generator=g) < 0.3).float()
    return {"image": image, "mask": mask}


ENCODER_EXPORT = ExportSpec(
    name="encoder", build=lambda pipe: pipe.encoder, example_inputs=_example, outputs=("latent",), min_opset=16,
    normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                   "per_tensor": {"mask": {"kind": "mask"}, "image": {"kind": "image"}}},
)
PROJECTOR_EXPORT = ExportSpec(
    name="projector", build=lambda pipe: Projector(pipe.encoder, pipe.generator), example_inputs=_example,
    outputs=("reconstruction", "latent"), min_opset=16,
    normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                   "per_tensor": {"mask": {"kind": "mask"}, "image": {"kind": "image"}}},
)

__all__ = ["GanEncoderPipeline", "GanInvertPipeline", "InversionOutput", "ENCODER_EXPORT", "PROJECTOR_EXPORT"]
