"""Every pipeline of the GAN plugin (inference): what ``tryon.load(task, weights=RUN)`` and ``tryon run`` call.

* ``gan-generate`` (:class:`GanPipeline`): ``tryon.load("gan-generate", weights=RUN)`` rebuilds a trained generator
  (and its discriminator, kept for the samplers that need one: DRS, SIR). ``pipe(n=64, seed=0, sampler="jbt",
  keep=0.7)`` returns a :class:`tryon.SampleResult` ``(samples, latents, stats)``; without ``sampler`` it draws plain
  samples from the Gaussian prior (000 Assumption 1).
* ``gan-latent-weights`` (:class:`LatentWeightsPipeline`): the latent importance network w^φ (002, 000 §3.4) trained
  by ``tryon train gan-latent-weights``; ``pipe(z)`` returns w(z), and the latentRS/GA samplers take the pipeline
  (or its run folder) as their ``weights`` option.
* the inversion tasks ``gan-invert`` (:class:`GanInvertPipeline`), ``gan-inpaint``, ``gan-composite`` and
  ``gan-crossover`` share one set of components — the generator of a ``tryon train gan-generate`` run and the
  encoder of ``tryon train gan-invert`` — held by :class:`GanEncoderPipeline`. They share the weights family
  ``"gan-inversion"``: the run folder (saved as ``gan-invert``) loads into any of them
  (``tryon.load("gan-inpaint", weights=RUN)``). Inputs are files, PIL, numpy or tensors (``tryon.io``); images are
  letterboxed to the generator's size and converted to its channel count (grey = mean of RGB), masks follow the
  SDK convention (1 = edit) and must have the image's size; the result comes back in the kind and size that went in.

**Exact kept pixels.** By default (``paste=True``) an edit's output is the user's own image outside the mask, bit for
bit beyond a feathered seam (``feather`` = σ in pixels, default :data:`tryon.compose.SEAM_SIGMA`: a 3-pixel band
outside the mask): the decode is restored to the input's size first and pasted there by
:func:`tryon.compose.restore_pasted`, so neither the letterbox resize nor a grey generator touches the kept
pixels (000 §4.2.4.2: ``î ⊙ (1 − m) = i ⊙ (1 − m)``). ``paste=False`` returns the raw decode ``G(z)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from tryon import ExportSpec, Pipeline, SampleResult, SampleStats
from tryon.compose import SEAM_SIGMA, restore_pasted
from tryon.errors import InputError, WeightsError

from .inversion.encoder import LatentEncoder, Projector
from .inversion.protocol import InversionResult, invert
from .models import MultiGenerator, WeightNet, build_discriminator, build_generator, latent_dim_of, latents

LOSSES = ("nonsaturating", "hinge", "wgan", "wgan-gp", "san")
PRIORS = ("gaussian", "simplicial", "deligan", "dmlgan")


class GanPipeline(Pipeline):
    """A generator ``z ∼ N(0, I_d) ↦ x`` and its discriminator.

    Args:
        data_shape: ``[D]`` for points or ``[C, H, W]`` for images.
        latent_dim: d.
        arch: ``"mlp"`` or ``"conv"`` (DCGAN-style, images only).
        hidden / disc_hidden: MLP hidden widths (000 Table A.2: ``[20, 20]``).
        activation: ``"relu"`` or ``"lrelu"`` (MLPs).
        base: conv width unit.
        g_norm: ``"batch"``: batch norm in the conv generator (DCGAN's); ``"none"``: none (the default).
        loss: the adversarial loss it was trained with (``"san"`` gives the discriminator a SAN head).
        prior: ``"gaussian"`` (000 Assumption 1), ``"simplicial"`` (001 §3.3: N(0, I) truncated to the
            ``clusters`` simplicial cells at acceptance ``prior_acceptance``; the seeds are a generator buffer) or
            ``"deligan"`` (a mixture of ``clusters`` unit Gaussians whose means, drawn 0.1·N(0, I), train with the
            generator: the DeliGAN baseline of 000 Tables 3.1 / 3.3) or ``"dmlgan"`` (``clusters`` generators and a
            learnt prior over them, :class:`tryon_gan.models.MultiGenerator`: the DMLGAN baseline of 000 Table 3.1;
            needs ``mi_head``, its generator-id classifier).
        mi_head: simplicial or DMLGAN prior, MLP discriminator: a second head on the discriminator's features that
            classifies a sample's simplicial cell (the mutual-information loss of 000 App. B.2.3) or its generator.
        data_scale: points only: the MLPs work on x / data_scale (a fixed preconditioning, e.g. the data's std, so
            that a 20-unit MLP reaches modes 9 apart without thousands of steps spent growing its output layer).
    """

    def __init__(self, *, data_shape: Sequence[int] = (2,), latent_dim: int = 2, arch: str = "mlp",
                 hidden: Sequence[int] = (20, 20), disc_hidden: Sequence[int] = (), activation: str = "relu",
                 base: int = 16, loss: str = "wgan-gp", prior: str = "gaussian", clusters: int = 0,
                 prior_acceptance: float = 0.5, cluster_seed: int = 0, data_scale: float = 1.0, g_norm: str = "none",
                 mi_head: bool = False):
        super().__init__()
        if prior not in PRIORS:
            raise InputError("prior", f"one of {', '.join(PRIORS)}", repr(prior))
        if prior != "gaussian" and int(clusters) < 1:
            raise InputError(f"prior {prior!r}", "clusters >= 1", repr(clusters))
        if mi_head and (prior not in ("simplicial", "dmlgan") or arch != "mlp"):
            raise InputError("mi_head", "a simplicial or dmlgan prior and an MLP discriminator", f"prior {prior!r}, arch {arch!r}")
        if prior == "dmlgan" and not mi_head:
            raise InputError("prior 'dmlgan'", "mi_head (its generator-id classifier; --mi-weight > 0)", "no head")
        if loss not in LOSSES:
            raise InputError("loss", f"one of {', '.join(LOSSES)}", repr(loss))
        if arch == "conv" and len(data_shape) != 3:
            raise InputError("arch 'conv'", "image data (data_shape [C, H, W])", f"data_shape {list(data_shape)}")
        cfg = {"data_shape": [int(s) for s in data_shape], "latent_dim": int(latent_dim), "arch": arch,
               "hidden": [int(h) for h in hidden], "disc_hidden": [int(h) for h in disc_hidden],
               "activation": activation, "base": int(base), "loss": loss, "data_scale": float(data_scale),
               "g_norm": g_norm}
        if prior == "dmlgan":  # K generators and a learnt prior over them (the latent gains K generator coordinates)
            self.generator = MultiGenerator([build_generator(cfg) for _ in range(int(clusters))], int(latent_dim))
        else:
            self.generator = build_generator(cfg)
        self.discriminator = build_discriminator(cfg)
        self.latent_dim = latent_dim_of(self.generator)  # d, or d + K generator coordinates for dmlgan
        if prior == "simplicial":  # 001 §3.3: train on the simplicial-cluster truncated prior
            from .samplers import simplex_seeds

            self.generator.register_buffer("simplex", simplex_seeds(latent_dim, clusters, cluster_seed))
        if prior == "deligan":  # the means of 000 Table 3.1's "W-Deligan" (thesis code: 0.1·N(0, 1), learnt with G)
            g = torch.Generator().manual_seed(int(cluster_seed))
            self.generator.mixture_means = torch.nn.Parameter(0.1 * torch.randn(int(clusters), int(latent_dim), generator=g))
        if mi_head:  # 000 App. B.2.3: q_φ(i | x), a second classification head on the discriminator's features
            widths = cfg["disc_hidden"] or cfg["hidden"]  # the MLP discriminator's body (build_discriminator)
            width = widths[-1] if widths else math.prod(cfg["data_shape"])
            self.discriminator.mi_head = torch.nn.Linear(width, int(clusters))

    def prior_sampler(self) -> Any:
        """The sampler of the training prior: plain Gaussian, or simplicial truncation at ``prior_acceptance``."""
        from .samplers import DeliGANSampler, DMLGANSampler, PlainSampler, SimplicialSampler

        if self.config["prior"] == "dmlgan":
            return DMLGANSampler()
        if self.config["prior"] == "simplicial":
            return SimplicialSampler(acceptance=self.config["prior_acceptance"])
        if self.config["prior"] == "deligan":
            return DeliGANSampler()
        return PlainSampler()

    @property
    def kind(self) -> str:
        return "points" if len(self.config["data_shape"]) == 1 else "images"

    def __call__(self, n: int = 64, seed: int | None = 0, sampler: str | Any = None, **options: Any) -> SampleResult:
        """``n`` samples (``sampler``: a registered "gan" sampler name or object; ``options`` build it)."""
        from .samplers import PlainSampler, resolve_sampler

        s = PlainSampler() if sampler is None else resolve_sampler(sampler, pipeline=self, **options)
        with torch.no_grad():
            return s.sample(self.generator, int(n), seed=seed)


class LatentWeightsPipeline(Pipeline):
    """w^φ(z) ≥ 0 over the latent space of a generator (000 eq. 3.4.4); ``m`` is the soft-clipping level used in
    training, which sets latentRS's acceptance 1/m (000 §3.4.3)."""

    def __init__(self, *, latent_dim: int = 2, hidden: int = 0, layers: int = 4, m: float = 3.0):
        super().__init__()
        if not m > 0:
            raise InputError("m", "> 0", repr(m))
        self.weight_net = WeightNet(latent_dim, hidden, layers)
        self.m = float(m)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.weight_net(torch.as_tensor(z, dtype=torch.float32, device=self.device))


def plain_sample(generator: torch.nn.Module, n: int, seed: int | None) -> SampleResult:
    """Plain sampling from the Gaussian prior, as a :class:`SampleResult`."""
    t0 = time.perf_counter()
    z = latents(generator, n, seed)
    with torch.no_grad():
        x = generator(z)
    return SampleResult(x, z, SampleStats(n, n, n, 1, time.perf_counter() - t0))


# ------------------------------------------------------------------------------------------------ inversion
class GanEncoderPipeline(Pipeline):
    """Generator + inversion encoder (the components every inversion task uses).

    Args:
        data_shape / latent_dim / arch / hidden / activation / base / g_norm: the generator's settings (as in
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
                 feather: float | None = None, seed: int = 0, g_norm: str = "none"):
        super().__init__()
        if len(data_shape) != 3:
            raise InputError("data_shape", "[C, H, W] (inversion works on image generators)", str(list(data_shape)))
        c, h, w = (int(s) for s in data_shape)
        if h != w:
            raise InputError("data_shape", "square images", f"{w}×{h}")
        self.generator = build_generator({"data_shape": [c, h, w], "latent_dim": int(latent_dim), "arch": arch,
                                          "hidden": [int(v) for v in hidden], "activation": activation, "base": int(base),
                                          "g_norm": g_norm})
        self.encoder = LatentEncoder(int(latent_dim), h, c, width=int(encoder_width))
        self.latent_dim, self.shape = int(latent_dim), (c, h, w)

    @classmethod
    def from_generator_run(cls, run: str | Path, **settings: Any) -> "GanEncoderPipeline":
        """A pipeline whose generator comes from a ``tryon train gan-generate`` run folder (encoder untrained)."""
        manifest = Pipeline.read_config(run)
        g = dict(manifest.get("config", {}))
        shape = list(g.get("data_shape", []))
        if len(shape) != 3:
            raise InputError("--generator", "a `tryon train gan-generate` run on images (data_shape [C, H, W])", f"data_shape {shape}")
        pipe = cls(data_shape=shape, latent_dim=int(g.get("latent_dim", 16)), arch=g.get("arch", "conv"),
                   hidden=g.get("hidden", [20, 20]), activation=g.get("activation", "relu"), base=int(g.get("base", 16)),
                   g_norm=g.get("g_norm", "none"), **settings)
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


# ------------------------------------------------------------------------------------------------ editing through inversion
class GanInpaintPipeline(GanEncoderPipeline):
    """``gan-inpaint``: ``pipe(image, mask)`` → the image with the masked pixels (1) filled from the inversion;
    ``paste`` (default on) keeps the user's pixels outside the mask, ``feather`` is the seam's σ in pixels."""

    def __call__(self, image: Any, mask: Any = None, method: str | None = None, feather: float | None = None,
                 paste: bool = True, **options: Any) -> Any:
        from .editing import inpaint

        if mask is None:
            raise InputError("mask", "a mask (1 = pixels to fill)", "None")
        batch, x = self._images(image)
        m = self._masks(mask, batch)
        res = inpaint(self.generator, x, m, method=method or self.config["method"], paste_back=False,
                      **self._options(options))
        return self._edited(res.decoded, batch, image, mask, paste, feather)

    def _feather(self, feather: float | None) -> float:
        if feather is not None:
            return float(feather)
        stored = self.config.get("feather")
        return SEAM_SIGMA if stored is None else float(stored)

    def _edited(self, decoded: Any, batch: Any, image: Any, mask: Any, paste: bool, feather: float | None) -> Any:
        """The decode in the user's kind and size; with ``paste``, the user's pixels outside ``mask``."""
        out = decoded.detach().clamp(-1, 1)
        if not paste:
            return self._restore(out, batch)
        if out.shape[1] == 1:
            out = out.repeat(1, 3, 1, 1)
        return restore_pasted(out.cpu(), batch, image, mask, feather=self._feather(feather))

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        kw = {"steps": cfg.get("steps"), "lr": cfg.get("lr"), "sigma": cfg.get("sigma", 3.0), "seed": cfg.get("seed", 0),
              "encoder": self.encoder, "latent_dim": self.latent_dim}
        kw.update(options)
        return kw


class GanCompositePipeline(GanInpaintPipeline):
    """``gan-composite``: ``pipe(image, mask)`` — ``image`` is a collage whose pasted region is ``mask`` (1);
    the inversion of the whole collage harmonises it, the source is pasted back outside the mask (``paste=False``:
    the raw harmonised decode, changes outside the mask included, as 000 §4.2.4.3 allows)."""

    def __call__(self, image: Any, mask: Any = None, method: str | None = None, feather: float | None = None,
                 paste: bool = True, **options: Any) -> Any:
        from .editing import composite

        if mask is None:
            raise InputError("mask", "a mask (1 = the pasted region)", "None")
        batch, x = self._images(image)
        m = self._masks(mask, batch)
        res = composite(self.generator, x, m, method=method or self.config["method"], paste_back=False,
                        **self._options(options))
        return self._edited(res.decoded, batch, image, mask, paste, feather)


class GanCrossoverPipeline(GanInpaintPipeline):
    """``gan-crossover``: ``pipe(image, other, mask)`` — ``image`` outside the mask, ``other`` inside,
    harmonised as in compositing; ``image``'s pixels are kept outside the mask unless ``paste=False``."""

    def __call__(self, image: Any, other: Any = None, mask: Any = None, method: str | None = None,  # type: ignore[override]
                 feather: float | None = None, paste: bool = True, **options: Any) -> Any:
        from .editing import crossover

        if other is None or mask is None:
            raise InputError("other/mask", "a second image and a mask (1 = taken from other)", "None")
        batch, x = self._images(image)
        _, o = self._images(other, "other")
        if o.shape != x.shape:
            raise InputError("other", f"{len(batch)} image(s), like image", f"{o.shape[0]}")
        m = self._masks(mask, batch)
        res = crossover(self.generator, x, o, m, method=method or self.config["method"], paste_back=False,
                        **self._options(options))
        return self._edited(res.decoded, batch, image, mask, paste, feather)


__all__ = ["ENCODER_EXPORT", "GanCompositePipeline", "GanCrossoverPipeline", "GanEncoderPipeline", "GanInpaintPipeline",
           "GanInvertPipeline", "GanPipeline", "InversionOutput", "LOSSES", "LatentWeightsPipeline", "PROJECTOR_EXPORT",
           "latent_dim_of", "latents", "plain_sample"]
