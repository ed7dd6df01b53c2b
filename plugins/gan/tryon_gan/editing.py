"""Editing through GAN inversion (000 §2.2, §4.2.4; the same inputs and mask convention as EdiBERT's tasks).

* :func:`inpaint` — invert the *known* pixels (mask = 1 is ignored), decode, paste the source outside the
  mask (000 §4.2.4.2 inpainting).
* :func:`composite` — the image is a collage (000 Eq. 4.2.8: source outside the mask, pasted content
  inside); invert all of it, decode — the generator harmonises the collage — and paste the source back
  outside the mask (000 §4.2.4.3 compositing).
* :func:`crossover` — the collage of two images (``image`` outside the mask, ``other`` inside), then as
  :func:`composite` (000 Table D.2).

Pasting is the core's :func:`tryon.compose.paste_source` (the one blend of every editing task): ``feather`` (σ,
pixels; default :data:`tryon.compose.SEAM_SIGMA` = 1, a 3-pixel seam) softens the paste outward, the blend
weight is ``max(mask, feathered mask)`` so the edited region always comes entirely from the decode and the
pixels farther than ``tryon.compose.seam_width(feather)`` from the mask are the source's, bit for bit.
``paste_back=False`` returns the raw decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from tryon.compose import SEAM_SIGMA, paste_source
from tryon.errors import ImageSizeError

from .inversion.protocol import InversionResult, check_mask, invert, probe_generator


@dataclass
class EditResult:
    """``images``: the pasted result; ``decoded``: ``G(z)`` before pasting; ``inversion``: the inversion."""

    images: Tensor
    decoded: Tensor
    inversion: InversionResult


def paste(source: Tensor, decoded: Tensor, mask: Tensor, feather: float = SEAM_SIGMA) -> Tensor:
    """``source·(1 − w) + decoded·w`` with ``w = max(mask, feather(mask, σ))`` (mask 1 = edited): the core's
    :func:`tryon.compose.paste_source`, kept under this name for the tensor API."""
    return paste_source(source, decoded, mask, feather)


def inpaint(generator: nn.Module, images: Tensor, mask: Tensor, *, method: str = "optimisation", feather: float = SEAM_SIGMA,
            paste_back: bool = True, **options: Any) -> EditResult:
    """Fill the masked pixels (1 = unknown) from an inversion of the known ones."""
    return _invert_and_paste(generator, images, mask, mask, method, feather, paste_back, options)


def composite(generator: nn.Module, images: Tensor, mask: Tensor, *, method: str = "optimisation", feather: float = SEAM_SIGMA,
              paste_back: bool = True, **options: Any) -> EditResult:
    """Harmonise a collage: invert every pixel, decode, paste the source back outside ``mask``."""
    return _invert_and_paste(generator, images, None, mask, method, feather, paste_back, options)


def _invert_and_paste(generator: nn.Module, images: Tensor, known: Tensor | None, mask: Tensor, method: str,
                      feather: float, paste_back: bool, options: dict[str, Any]) -> EditResult:
    """Invert ``images`` on the pixels ``known`` leaves (None: all), decode, paste the source back outside ``mask``."""
    _, shape = probe_generator(generator, options.get("latent_dim"))
    inv = invert(generator, images, known, method=method, **options)
    m = check_mask(mask, len(inv), shape[1:]).to(inv.reconstructions.device)
    src = images.to(inv.reconstructions.device).float()
    src = src[None] if src.ndim == 3 else src
    out = paste(src, inv.reconstructions, m, feather) if paste_back else inv.reconstructions
    return EditResult(out.clamp(-1, 1), inv.reconstructions, inv)


def collage(images: Tensor, other: Tensor, mask: Tensor) -> Tensor:
    """000 Eq. 4.2.8 in the SDK convention: ``images`` outside the mask, ``other`` inside (mask 1)."""
    if images.shape != other.shape:
        raise ImageSizeError("other", f"the shape of image {tuple(images.shape)}", f"{tuple(other.shape)}")
    return images * (1 - mask) + other * mask


def crossover(generator: nn.Module, images: Tensor, other: Tensor, mask: Tensor, **options: Any) -> EditResult:
    """A crossover of two images (``other`` inside the mask), harmonised by :func:`composite`."""
    _, shape = probe_generator(generator, options.get("latent_dim"))
    x = images[None] if images.ndim == 3 else images
    o = other[None] if other.ndim == 3 else other
    m = check_mask(mask, x.shape[0], shape[1:])
    return composite(generator, collage(x.float(), o.float().to(x.device), m.to(x.device)), m, **options)


__all__ = ["EditResult", "paste", "inpaint", "composite", "crossover", "collage"]
