"""Pipelines of the editing tasks through GAN inversion: ``gan-inpaint``, ``gan-composite``, ``gan-crossover``.

They hold the components of :class:`tryon_gan.inversion.pipeline.GanEncoderPipeline` (the generator of a
``tryon train gan`` run and the encoder of ``tryon train gan-encoder``) and call :mod:`tryon_gan.editing`. The
inversion tasks share the weights family ``"gan-inversion"``: a ``tryon train gan-encoder`` run folder loads into
any of them (``tryon.load("gan-inpaint", weights=RUN)``). Inputs and outputs as in ``gan-invert``: files, PIL, numpy
or tensors, letterboxed to the generator's size; masks follow the SDK convention (1 = edit).

**Exact kept pixels.** By default (``paste=True``) the output is the user's own image outside the mask, bit for
bit beyond a feathered seam (``feather`` = σ in pixels, default :data:`tryon.compose.SEAM_SIGMA`: a 3-pixel band
outside the mask): the decode is restored to the input's size first and pasted there by
:func:`tryon.compose.restore_pasted`, so neither the letterbox resize nor a grey generator touches the kept
pixels (000 §4.2.4.2: ``î ⊙ (1 − m) = i ⊙ (1 − m)``). ``paste=False`` returns the raw decode ``G(z)``.
"""

from __future__ import annotations

from typing import Any

from tryon.compose import SEAM_SIGMA, restore_pasted
from tryon.errors import InputError

from .inversion.pipeline import GanEncoderPipeline


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


__all__ = ["GanInpaintPipeline", "GanCompositePipeline", "GanCrossoverPipeline"]
