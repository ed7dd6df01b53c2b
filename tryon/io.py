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
"""

from __future__ import annotations

import io as _io
import os
import warnings
from dataclasses import dataclass, field
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


def _describe(x: Any) -> str:
    if isinstance(x, (str, os.PathLike)):
        return str(x)
    if isinstance(x, (bytes, bytearray)):
        return f"<{len(x)} bytes>"
    return f"<{type(x).__name__}>"


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
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
    if _is_tensor(x):
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


# ----------------------------------------------------------------------------------------------
# tensors and batches
# ----------------------------------------------------------------------------------------------
def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def to_tensor(rgb: np.ndarray):
    """``H×W×3`` uint8 → ``1×3×H×W`` float32 in [-1, 1]."""
    import torch

    return torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def to_uint8(t) -> np.ndarray:
    """``3×H×W`` or ``1×3×H×W`` tensor in [-1, 1] → ``H×W×3`` uint8."""
    if t.ndim == 4:
        t = t[0]
    return ((t.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def check_tensor(t, name: str):
    import torch

    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[1] != 3:
        raise ImageModeError(name, "a tensor B×3×H×W (or 3×H×W)", f"shape {tuple(t.shape)}")
    if 0 in t.shape:
        raise ImageSizeError(name, "a non-empty tensor", f"shape {tuple(t.shape)}")
    if not torch.is_floating_point(t):
        raise ImageModeError(name, "a float tensor in [-1, 1]", f"dtype {t.dtype}")
    lo, hi = float(t.min()), float(t.max())
    if lo < -1.001 or hi > 1.001:
        raise ImageModeError(name, "values in [-1, 1]", f"values in [{lo:.3g}, {hi:.3g}]", "use x * 2 - 1 for [0, 1] images")
    return t


@dataclass
class Batch:
    """A batch of images normalised for a model, remembering how to give results back."""

    tensor: Any  # B×3×H×W float32 in [-1, 1]
    kind: str  # "pil" | "numpy" | "torch"
    is_list: bool
    sizes: list[tuple[int, int]] = field(default_factory=list)  # original (H, W) per item
    boxes: list[tuple[int, int, int, int]] | None = None  # letterbox (top, left, h, w) per item

    def __len__(self) -> int:
        return int(self.tensor.shape[0])


def _kind(x: Any) -> str:
    if _is_tensor(x):
        return "torch"
    if isinstance(x, np.ndarray):
        return "numpy"
    return "pil"


def as_batch(x: Any, *, name: str = "image", size: tuple[int, int] | None = None, fill: float = 1.0) -> Batch:
    """Normalise one image or a list of images into a :class:`Batch`.

    With ``size=(H, W)`` every item is letterboxed to that size (aspect kept, padded with ``fill``,
    white by default) and :func:`restore` undoes it; otherwise all items must share one size.
    """
    import torch

    items = list(x) if isinstance(x, (list, tuple)) else [x]
    is_list = isinstance(x, (list, tuple))
    if not items:
        raise InputError(name, "at least one image", "an empty list")
    tensors, sizes = [], []
    kinds = {_kind(i) for i in items}
    if len(kinds) > 1:
        raise InputError(name, "a batch of one kind of input", f"a mix of {sorted(kinds)}")
    for i, item in enumerate(items):
        label = f"{name}[{i}]" if is_list else name
        if _is_tensor(item):
            t = check_tensor(item, label).float()
            tensors.extend(t.split(1))
            sizes.extend([(int(t.shape[2]), int(t.shape[3]))] * t.shape[0])
        else:
            rgb = load_image(item, name=label)
            tensors.append(to_tensor(rgb))
            sizes.append(rgb.shape[:2])
    boxes = None
    if size is not None:
        fitted = [letterbox(t, size, fill) for t in tensors]
        tensors = [f[0] for f in fitted]
        boxes = [f[1] for f in fitted]
    elif len({tuple(t.shape[2:]) for t in tensors}) > 1:
        found = sorted({f"{t.shape[3]}×{t.shape[2]}" for t in tensors})
        raise ImageSizeError(name, "images of one size in a batch", f"sizes {found}")
    return Batch(torch.cat(tensors, 0), next(iter(kinds)), is_list, sizes, boxes)


def letterbox(t, size: tuple[int, int], fill: float = 1.0):
    """Resize ``1×C×h×w`` to fit ``size`` keeping aspect ratio; pad the rest with ``fill``.

    Returns ``(tensor, (top, left, h', w'))`` where the box locates the resized content.
    """
    import torch
    import torch.nn.functional as F

    H, W = size
    h, w = t.shape[-2:]
    if (h, w) == (H, W):
        return t, (0, 0, H, W)
    s = min(H / h, W / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    r = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=s < 1)
    out = torch.full((t.shape[0], t.shape[1], H, W), fill, dtype=t.dtype)
    top, left = (H - nh) // 2, (W - nw) // 2
    out[:, :, top : top + nh, left : left + nw] = r
    return out, (top, left, nh, nw)


def restore(out, batch: Batch) -> Any:
    """Give a model output ``B×3×H×W`` back in the kind and size of the batch that went in."""
    import torch
    import torch.nn.functional as F

    results = []
    for i in range(out.shape[0]):
        o = out[i : i + 1]
        if batch.boxes is not None:
            top, left, h, w = batch.boxes[i]
            o = o[:, :, top : top + h, left : left + w]
            oh, ow = batch.sizes[i]
            if (h, w) != (oh, ow):
                o = F.interpolate(o, size=(oh, ow), mode="bilinear", align_corners=False, antialias=(h > oh))
        results.append(o)
    if batch.kind == "torch":
        if len({tuple(r.shape[2:]) for r in results}) == 1:
            res = torch.cat(results, 0).clamp(-1, 1)
            return res
        return [r.clamp(-1, 1) for r in results]
    if batch.kind == "numpy":
        arrs = [to_uint8(r) for r in results]
        return arrs if batch.is_list else arrs[0]
    pils = [Image.fromarray(to_uint8(r)) for r in results]
    return pils if batch.is_list else pils[0]


def save_image(t_or_arr: Any, path: str | os.PathLike) -> None:
    """Write an image (tensor in [-1, 1], numpy uint8 or PIL) atomically (temp file + rename)."""
    path = Path(path)
    if _is_tensor(t_or_arr):
        img = Image.fromarray(to_uint8(t_or_arr))
    elif isinstance(t_or_arr, np.ndarray):
        img = Image.fromarray(t_or_arr)
    else:
        img = t_or_arr
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, format=(path.suffix.lstrip(".").upper().replace("JPG", "JPEG") or "PNG"))
    os.replace(tmp, path)


def image_files(folder: str | os.PathLike, exts: Sequence[str] = (".png", ".jpg", ".jpeg", ".webp", ".bmp")) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "a folder of images", "no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in exts and not p.name.startswith("."))
