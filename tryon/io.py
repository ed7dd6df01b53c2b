"""Image and mask loading, validation and conversion.

Conventions (used by every pipeline):

* Inside models images are RGB ``float32`` tensors ``B×3×H×W`` in ``[-1, 1]``.
* Masks are ``float32`` in ``{0, 1}`` with **1 = edit/replace**.
* Accepted image inputs: a file path (``str``/``os.PathLike``), encoded ``bytes``, a ``PIL.Image``, a
  numpy ``H×W×C`` (or ``H×W``) ``uint8``/``uint16`` array, or a torch ``B×3×H×W``/``3×H×W`` float tensor
  in ``[-1, 1]``; a list of any of these is a batch. Outputs come back in the kind that went in;
  paths and bytes come back as PIL images.

Conversion rules (documented, applied silently):

* grey (``L``, ``I``, ``I;16``, ``F``) → the value copied to R, G and B; 16-bit values are scaled to 8 bit
  (``v / 257``), 32-bit ``I``/``F`` images are rejected unless their values already lie in 0..255;
* palette (``P``, ``PA``) → RGB through the palette (transparency becomes alpha, see below);
* ``CMYK`` and ``YCbCr``/``LAB``/``HSV`` → RGB with PIL's conversion;
* alpha (``RGBA``, ``LA``, ``La``, ``RGBa``, palette transparency) → composited over **white**, the
  background of in-shop garment photos;
* ``1`` (bilevel) → 0/255 grey, then as grey.

Every way an input can be wrong raises one :class:`tryon.errors.InputError` subclass naming the input,
what was expected and what was found.

The decoding lives in :mod:`tryon.imagefile` (torch-free), the tensor side in :mod:`tryon.tensors`.
"""

from __future__ import annotations

from .imagefile import (
    DEFAULT_MAX_PIXELS, MASK_SOFT_FRACTION, ImageHeader, image_files, load_image, load_mask, max_pixels, probe_image,
)
from .tensors import Batch, as_batch, check_tensor, letterbox, restore, save_image, to_tensor, to_uint8

__all__ = ["DEFAULT_MAX_PIXELS", "MASK_SOFT_FRACTION", "ImageHeader", "image_files", "load_image", "load_mask",
           "max_pixels", "probe_image", "Batch", "as_batch", "check_tensor", "letterbox", "restore", "save_image",
           "to_tensor", "to_uint8"]
