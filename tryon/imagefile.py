"""Images and masks in, bounded: decode and validate a path, bytes, PIL image or numpy array (masks also a
tensor) into ``H×W×3`` uint8 RGB or an ``H×W`` {0, 1} mask, refusing images over a pixel limit before their
pixels are decoded.

The conversion rules are those of :mod:`tryon.io`. Imports no torch: the torch-free deploy side
(:mod:`tryon.runtime_base`) decodes with it.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageModeError, ImageSizeError, InputError, MaskError, UnreadableImageError

DEFAULT_MAX_PIXELS = 40_000_000  # ≈ 8K×5K; override with TRYON_MAX_PIXELS or the max_pixels argument
_GREY_MODES = {"L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_ALPHA_MODES = {"RGBA", "LA", "La", "RGBa", "PA"}
_CONVERTIBLE = {"RGB", "P", "CMYK", "YCbCr", "LAB", "HSV", "1"} | _GREY_MODES | _ALPHA_MODES
MASK_SOFT_FRACTION = 0.05  # at most this share of mask pixels may be neither near 0 nor near 1


def max_pixels() -> int:
    raw = os.environ.get("TRYON_MAX_PIXELS")
    return int(raw) if raw else DEFAULT_MAX_PIXELS


def _open_lazy(x: Any, name: str, limit: int) -> Image.Image:
    """Open a path or bytes with PIL (header only), checking the pixel limit *before* decoding pixels."""
    if isinstance(x, (str, os.PathLike)):
        path = Path(x)
        if not path.exists():
            raise UnreadableImageError(name, "an existing image file", f"no file at {path}")
        if path.is_dir():
            raise UnreadableImageError(name, "an image file", f"a directory ({path})")
        if path.stat().st_size == 0:
            raise UnreadableImageError(name, "an image file", f"an empty file ({path})")
        src: Any = path
    elif isinstance(x, (bytes, bytearray, memoryview)):
        if len(x) == 0:
            raise UnreadableImageError(name, "encoded image bytes", "0 bytes")
        src = _io.BytesIO(bytes(x))
    else:  # pragma: no cover - guarded by callers
        raise InputError(name, "a path or bytes", type(x).__name__)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(src)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise ImageSizeError(name, f"at most {limit} pixels", "a decompression bomb", str(exc).split(".")[0]) from None
        fmt = _sniff(src)
        if fmt:
            raise UnreadableImageError(name, f"a complete {fmt} image", f"corrupt or truncated {fmt} data") from None
        raise UnreadableImageError(name, "a PNG/JPEG/WebP/BMP/TIFF image", "bytes no decoder recognises") from None
    except Exception as exc:  # noqa: BLE001 - plugins raise OSError, ValueError, SyntaxError, struct.error ...
        raise _decoder_failure(name, exc) from None
    w, h = img.size
    if w == 0 or h == 0:
        raise ImageSizeError(name, "a non-empty image", f"{w}×{h} pixels")
    if w * h > limit:
        raise ImageSizeError(
            name, f"at most {limit} pixels", f"{w}×{h} = {w * h} pixels", "raise TRYON_MAX_PIXELS if intended"
        )
    return img


def _decoder_failure(name: str, exc: BaseException) -> UnreadableImageError:
    """Any exception of a PIL decoder (each format plugin raises its own kinds) → one input error."""
    detail = " ".join(str(exc).split())[:200]
    return UnreadableImageError(name, "a complete image", f"corrupt or truncated data ({detail or type(exc).__name__})")


def _open_pil(x: Any, name: str, limit: int, min_size: tuple[int, int] | None = None) -> Image.Image:
    """:func:`_open_lazy`, then decode the pixels — at reduced scale inside the JPEG decoder when ``min_size``
    (H, W) allows it (``Image.draft``: 1/2, 1/4 or 1/8, never below ``min_size``)."""
    img = _open_lazy(x, name, limit)
    try:
        if min_size is not None and _draftable(img):
            img.draft(None, (max(1, min_size[1]), max(1, min_size[0])))
        img.load()
    except Exception as exc:  # noqa: BLE001 - truncated / corrupt data, whatever the plugin raises
        raise _decoder_failure(name, exc) from None
    return img


def _draftable(img: Image.Image) -> bool:
    return img.format == "JPEG" and len(getattr(img, "tile", ()) or ()) == 1


@dataclass(frozen=True)
class ImageHeader:
    """What :func:`probe_image` reads from an image header, without decoding pixels."""

    width: int
    height: int
    format: str
    mode: str
    draftable: bool  # JPEG with one tile: the decoder itself can produce 1/2, 1/4, 1/8 scale

    def decode_size(self, min_size: tuple[int, int] | None = None) -> tuple[int, int]:
        """(H, W) the decoder produces for ``load_image(..., min_size=)``: smaller only for drafted JPEGs."""
        h, w = self.height, self.width
        if min_size is None or not self.draftable:
            return h, w
        scale = min(w // max(1, min_size[1]), h // max(1, min_size[0]))
        s = next((s for s in (8, 4, 2, 1) if scale >= s), 1)
        return (h + s - 1) // s, (w + s - 1) // s

    def decoded_size(self, min_size: tuple[int, int] | None = None) -> tuple[int, int]:
        """(H, W) of the array ``load_image(..., min_size=)`` returns (after the draft and the box reduction)."""
        h, w = self.decode_size(min_size)
        k = _reduction(h, w, min_size)
        return (h + k - 1) // k, (w + k - 1) // k


def _reduction(h: int, w: int, min_size: tuple[int, int] | None) -> int:
    """The largest integer box-reduction factor keeping both sides >= ``min_size`` (1 = none)."""
    if min_size is None:
        return 1
    return max(1, min(w // max(1, min_size[1]), h // max(1, min_size[0])))


def probe_image(x: Any, *, name: str = "image", max_pixels: int | None = None) -> ImageHeader:
    """Read the size, format and mode of an encoded image (path or bytes) without decoding its pixels.

    Raises the same :class:`InputError` subclasses as :func:`load_image` for unreadable data and for images
    over the pixel limit — so a server can refuse a costly image before it spends anything on it.
    """
    limit = max_pixels or globals()["max_pixels"]()
    label = name if isinstance(x, (bytes, bytearray, memoryview)) else f"{name} ({x})"
    img = _open_lazy(x, label, limit)
    try:
        return ImageHeader(img.width, img.height, str(img.format or "?"), img.mode, _draftable(img))
    finally:
        img.close()


_MAGIC = ((b"\x89PNG", "PNG"), (b"\xff\xd8", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _sniff(src: Any) -> str | None:
    """Name the format from its signature, to tell 'truncated PNG' from 'not an image'."""
    if isinstance(src, _io.BytesIO):
        head = src.getvalue()[:12]
    else:
        with open(src, "rb") as fh:
            head = fh.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), None)


def _pil_to_rgb(img: Image.Image, name: str) -> np.ndarray:
    mode = img.mode
    if mode not in _CONVERTIBLE:
        raise ImageModeError(name, f"an image mode among {sorted(_CONVERTIBLE)}", f"mode {mode!r}")
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
    if mode in _GREY_MODES:
        arr = np.asarray(img)
        return _grey_to_rgb(arr, name)
    return np.asarray(img.convert("RGB"))


def _grey_to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        g = arr
    elif arr.dtype in (np.uint16, np.dtype(">u2"), np.dtype("<u2")):
        g = (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    else:  # int32 'I' or float 'F'
        lo, hi = float(np.min(arr)), float(np.max(arr))
        if lo < 0 or hi > 255:
            raise ImageModeError(name, "grey values in 0..255 (or a 16-bit image)", f"values in [{lo:g}, {hi:g}] ({arr.dtype})")
        g = np.asarray(arr).round().astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def _numpy_to_rgb(arr: np.ndarray, name: str, limit: int) -> np.ndarray:
    if arr.size == 0 or 0 in arr.shape:
        raise ImageSizeError(name, "a non-empty image array", f"shape {tuple(arr.shape)}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageModeError(name, "a numpy array H×W×C with C in {1, 3, 4} (HWC, not CHW)", f"shape {tuple(arr.shape)}")
    h, w = arr.shape[:2]
    if h * w > limit:
        raise ImageSizeError(name, f"at most {limit} pixels", f"{w}×{h} = {w * h} pixels")
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise ImageModeError(name, "a uint8 (or uint16) numpy array", f"dtype {arr.dtype}",
                             "float images go in as torch tensors in [-1, 1]")
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        a = arr[..., 3:4].astype(np.float32) / 255.0
        rgb = arr[..., :3].astype(np.float32) * a + 255.0 * (1 - a)
        return rgb.round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def load_image(
    x: Any, *, name: str = "image", max_pixels: int | None = None, min_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Decode/validate one image from a path, bytes, PIL image or numpy array → ``H×W×3`` uint8 RGB.

    ``min_size=(H, W)``: the caller needs no more pixels than that (e.g. a model's input size), so an encoded
    image (path or bytes) much larger is decoded smaller, never below ``min_size``: a JPEG at 1/2, 1/4 or 1/8
    scale inside the decoder (``Image.draft``), then any format by the largest integer box reduction
    (``Image.reduce``) keeping both sides >= ``min_size``. :meth:`ImageHeader.decoded_size` predicts the result.
    """
    limit = max_pixels or globals()["max_pixels"]()
    if isinstance(x, np.ndarray):
        return _numpy_to_rgb(x, name, limit)
    if isinstance(x, Image.Image):
        w, h = x.size
        if w == 0 or h == 0:
            raise ImageSizeError(name, "a non-empty image", f"{w}×{h} pixels")
        if w * h > limit:
            raise ImageSizeError(name, f"at most {limit} pixels", f"{w}×{h} = {w * h} pixels")
        return _pil_to_rgb(x, name)
    if isinstance(x, (str, os.PathLike, bytes, bytearray, memoryview)):
        label = name if isinstance(x, (bytes, bytearray, memoryview)) else f"{name} ({x})"
        img = _open_pil(x, label, limit, min_size)
        try:
            rgb = _pil_to_rgb(img, label)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a mode conversion the decoder's data does not support
            raise _decoder_failure(label, exc) from None
        k = _reduction(rgb.shape[0], rgb.shape[1], min_size)
        return rgb if k == 1 else np.asarray(Image.fromarray(rgb).reduce(k))
    raise InputError(name, "a path, bytes, PIL image, numpy array or torch tensor", type(x).__name__)


def load_mask(
    x: Any,
    *,
    name: str = "mask",
    size: tuple[int, int] | None = None,
    threshold: float = 0.5,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load a mask → ``H×W`` float32 in {0, 1}, 1 = edit/replace.

    A mask must be single-channel (an RGB/RGBA file whose colour channels are all equal counts as
    single-channel), binary after thresholding at ``threshold`` of its range (anti-aliased edges are
    fine, but at most 5 % of pixels may lie between 10 % and 90 % of the range) and, when ``size``
    = (H, W) is given, exactly that size.
    """
    limit = max_pixels or globals()["max_pixels"]()
    arr: np.ndarray
    if is_tensor(x):
        t = x.detach().cpu()
        while t.ndim > 2 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 2:
            raise MaskError(name, "a single-channel mask (H×W, 1×H×W or 1×1×H×W)", f"tensor shape {tuple(x.shape)}")
        arr, rng = t.float().numpy(), 1.0
    elif isinstance(x, np.ndarray):
        arr = x
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        elif arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = _single_channel(arr[..., :3], name)
        if arr.ndim != 2:
            raise MaskError(name, "a single-channel mask H×W", f"array shape {tuple(x.shape)}")
        rng = 1.0 if arr.dtype.kind in "fb" else float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 1.0
        arr = arr.astype(np.float32)
    elif isinstance(x, (Image.Image, str, os.PathLike, bytes, bytearray, memoryview)):
        label = name if not isinstance(x, (str, os.PathLike)) else f"{name} ({x})"
        img = x if isinstance(x, Image.Image) else _open_pil(x, label, limit)
        if img.mode in ("1", "L", "P"):
            arr = np.asarray(img.convert("L"), dtype=np.float32)
            rng = 255.0
        elif img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            arr, rng = np.asarray(img, dtype=np.float32), 65535.0
        elif img.mode in ("RGB", "RGBA"):
            arr, rng = _single_channel(np.asarray(img)[..., :3], label).astype(np.float32), 255.0
        else:
            raise MaskError(label, "a single-channel mask (mode 1, L, P or I;16)", f"mode {img.mode!r}")
        name = label
    else:
        raise MaskError(name, "a path, bytes, PIL image, numpy array or torch tensor", type(x).__name__)
    if arr.size == 0:
        raise MaskError(name, "a non-empty mask", f"shape {arr.shape}")
    if size is not None and tuple(arr.shape) != tuple(size):
        raise MaskError(name, f"the image size {size[1]}×{size[0]} (W×H)", f"{arr.shape[1]}×{arr.shape[0]}")
    v = arr / rng
    if float(v.min()) < -1e-6 or float(v.max()) > 1 + 1e-6:
        raise MaskError(name, "values in [0, 1]", f"values in [{float(v.min()):g}, {float(v.max()):g}]")
    soft = float(np.mean((v > 0.1) & (v < 0.9)))
    if soft > MASK_SOFT_FRACTION:
        raise MaskError(
            name,
            "a binary mask (0 = keep, 1 = edit)",
            f"{soft:.0%} of pixels with intermediate values",
            "threshold it first; a soft matte is not a mask",
        )
    return (v >= threshold).astype(np.float32)


def _single_channel(rgb: np.ndarray, name: str) -> np.ndarray:
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        raise MaskError(name, "a single-channel mask", "a colour image with differing R, G, B channels")
    return rgb[..., 0]



def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (checked by type, without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def image_files(folder: str | os.PathLike, exts: Sequence[str] = (".png", ".jpg", ".jpeg", ".webp", ".bmp")) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "a folder of images", "no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts and not p.name.startswith("."))


__all__ = ["DEFAULT_MAX_PIXELS", "MASK_SOFT_FRACTION", "ImageHeader", "image_files", "is_tensor", "load_image",
           "load_mask", "max_pixels", "probe_image"]
