"""The models behind ``tryon serve``: export folders, the cost plan of a request, decoding and encoding.

A request's cost is bounded before it takes an inference slot (:meth:`ServedModel.plan`): every upload's
header is read without decoding pixels, the pixels its decoder must produce are checked against the
serving limit (sized to the model, default 8× its height and width), and the output size and format are
checked to be encodable. Decoding then happens at reduced size where the format allows it
(:func:`tryon.io.load_image` ``min_size``: JPEG at 1/2–1/8 scale inside the decoder, then a box
reduction), since the model only sees its own resolution (e.g. 256×192 for the WUTON student, 000 §4.3).

Output-size policy (form field ``size``):

* ``input`` (default) — the first input's (the person's) size, scaled down to fit ``max_output_pixels``
  (default 16× the model's pixels: 1024×768 for a 256×192 model), aspect kept;
* ``model`` — the model's own pixels: the letterbox content box at the model resolution, no resize.
"""

from __future__ import annotations

import io as _io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from ..errors import ImageSizeError, InputError, TryonError

OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "jpg": ("JPEG", "image/jpeg")}
OUTPUT_SIZES = ("input", "model")
JPEG_QUALITY = 92
PNG_COMPRESS_LEVEL = 4  # zlib level: ~2x faster than PIL's default 6 for a few % larger files
JPEG_MAX_SIDE = 65500  # libjpeg's JPEG_MAX_DIMENSION: a larger output cannot be encoded as JPEG
DEFAULT_PIXEL_FACTOR = 64  # serving pixel limit = 64 × the model's pixels (8× each side)
DEFAULT_OUTPUT_FACTOR = 16  # output cap = 16 × the model's pixels (4× each side)
REDUCING_GAP = 2  # decode at >= 2× the model's content box, as PIL's thumbnail(reducing_gap=2) does
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_model_specs(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """CLI ``--model`` values → ``{name: export dir}``. ``NAME=DIR`` names a model; a bare ``DIR`` is named
    after its folder. Names are URL-safe (letters, digits, ``. _ -``) and unique."""
    models: dict[str, str] = {}
    for spec in specs:
        name, eq, path = str(spec).partition("=")
        if not eq or os.path.exists(spec):  # a bare folder (even one whose path contains "=")
            path = str(spec)
            name = Path(path.rstrip("/\\")).name or path
        name = name.strip()
        if name in models:
            raise TryonError(f"--model: the name {name!r} is used twice (name them: --model NAME=EXPORT_DIR)")
        models[name] = path
    if not models:
        raise TryonError("tryon serve: expected at least one --model EXPORT_DIR, got none")
    return models


def check_name(name: str, how: str = "--model NAME=EXPORT_DIR") -> None:
    """Model names are URL-safe: letters, digits, ``. _ -``, at most 64, starting with a letter or digit."""
    if not _NAME_RE.match(name):
        raise TryonError(f"model name {name!r}: expected letters, digits, '.', '_' or '-' (at most 64, starting "
                         f"with a letter or digit); name it with {how}")


@dataclass
class Plan:
    """What a request will cost, fixed before it takes a slot: decode sizes and the output size/format."""

    fmt: str
    size: str  # "input" | "model"
    min_sizes: dict[str, tuple[int, int]]  # per input: (H, W) the decoder needs at least
    decode_pixels: dict[str, int]  # per input: pixels its decoder produces
    out_hw: tuple[int, int]  # output (H, W) for size=input; for size=model the content box (known after decoding)


def fit_pixels(hw: tuple[int, int], cap: int) -> tuple[int, int]:
    """``(H, W)`` scaled down (aspect kept) so that ``H × W <= cap``; unchanged when it already fits."""
    h, w = hw
    if h * w <= cap:
        return h, w
    s = math.sqrt(cap / (h * w))
    return max(1, math.floor(h * s)), max(1, math.floor(w * s))


def content_box(hw: tuple[int, int], resolution: tuple[int, int]) -> tuple[int, int]:
    """(H, W) an image of size ``hw`` takes inside the model's letterbox (the rule of ``letterbox_array``)."""
    (h, w), (H, W) = hw, resolution
    s = min(H / h, W / w)
    return max(1, round(h * s)), max(1, round(w * s))


class ServedModel:
    """One export folder behind the service: its session, input kinds, limits and summary."""

    def __init__(self, name: str, path: str | os.PathLike, *, providers: Any = None, threads: int | None = None,
                 precision: str = "fp32", warmup: bool = True, backend: str = "ort"):
        from ..runtime import ImageModelSession, input_kind

        check_name(name)
        self.name = name
        self.session = ImageModelSession(path, providers=None if backend == "openvino" and providers in (None, "cpu") else providers,
                                         intra_op_threads=threads, backend=backend, precision=precision)
        m = self.session.manifest
        self.input_names: list[str] = list(self.session.input_names)
        self.kinds = {s["name"]: input_kind(s, m["normalisation"]) for s in self.session.input_specs}
        bad = [n for n, k in self.kinds.items() if k not in ("image", "mask")]
        if bad:
            raise TryonError(f"model {name!r} ({self.session.export_dir}): inputs {bad} are not images or masks; "
                             "tryon serve takes image uploads only")
        clash = sorted({"format", "size"} & set(self.input_names))
        if clash:
            raise TryonError(f"model {name!r}: inputs named {clash} clash with the form fields format/size")
        out0 = m["outputs"][0]
        nhwc = str(m["normalisation"].get("layout", "NCHW")).upper() == "NHWC"
        shape = out0.get("shape", [])
        channels = shape[3] if (nhwc and len(shape) == 4) else (shape[1] if len(shape) == 4 else None)
        if channels != 3:
            raise TryonError(f"model {name!r}: the first output {out0['name']!r} has shape {shape}; "
                             "tryon serve returns images (B×3×H×W outputs)")
        self.resolution: tuple[int, int] = tuple(self.session.resolution)  # type: ignore[assignment]
        self.model_pixels = self.resolution[0] * self.resolution[1]
        self.max_pixels = DEFAULT_PIXEL_FACTOR * self.model_pixels
        self.max_output_pixels = DEFAULT_OUTPUT_FACTOR * self.model_pixels
        if warmup:  # first-run allocations happen here, not in the first customer request
            self.session.run_arrays(self.session.dummy_feeds(1))

    def set_limits(self, max_pixels: int | None, max_output_pixels: int | None) -> None:
        """Serving limits; ``None`` keeps the model-sized defaults (64× / 16× the model's pixels)."""
        if max_pixels is not None:
            self.max_pixels = int(max_pixels)
        if max_output_pixels is not None:
            self.max_output_pixels = int(max_output_pixels)

    def summary(self) -> dict[str, Any]:
        from ..runtime import MODEL_VARIANTS

        s, m = self.session, self.session.manifest
        variants = {v: bool(v in m["models"] and (s.export_dir / m["models"][v]["file"]).is_file())
                    for v in MODEL_VARIANTS}
        return {
            "name": self.name,
            "task": m.get("task"),
            "component": m.get("component"),
            "inputs": [{"name": i["name"], "shape": i.get("shape"), "dtype": i.get("dtype"),
                        "kind": self.kinds[i["name"]]} for i in s.input_specs],
            "outputs": [{"name": o["name"], "shape": o.get("shape"), "dtype": o.get("dtype")} for o in s.output_specs],
            "returns": s.output_names[0],
            "resolution": list(s.resolution),
            "normalisation": {k: v for k, v in m["normalisation"].items() if k != "per_tensor"},
            "conditions": m.get("conditions"),
            "opset": m.get("opset"),
            "sha256": m.get("sha256"),
            "variants": variants,
            "parity_max_abs_error": (m.get("parity") or {}).get("max_abs_error"),
            "random_weights": m.get("weights") is None,
            "exported": m.get("date"),
            "serving": {"variant": s.model, "backend": s.backend, "providers": list(s.providers_used),
                        "intra_op_threads": s.intra_op_threads},
            "limits": {"max_pixels": self.max_pixels, "max_output_pixels": self.max_output_pixels},
        }

    # -- the cost of a request, before a slot ------------------------------------------------------
    def probe(self, name: str, blob: bytes, label: str | None = None) -> tuple[tuple[int, int], tuple[int, int] | None, int]:
        """One upload's header → ``(original (H, W), min_size for decoding, pixels its decoder produces)``;
        raises ``InputError`` (naming ``label``, default ``name``) for unreadable data and for more than
        ``max_pixels`` decoded pixels."""
        from ..io import probe_image

        label = label or name
        header = probe_image(blob, name=label)  # tryon.io's global limit: a bomb guard
        hw = (header.height, header.width)
        box = content_box(hw, self.resolution)
        need = (REDUCING_GAP * box[0], REDUCING_GAP * box[1]) if self.kinds[name] == "image" else None
        dh, dw = header.decode_size(need)
        if dh * dw > self.max_pixels:
            hint = "JPEGs are decoded at up to 1/8 scale; other formats in full" if not header.draftable else None
            raise ImageSizeError(
                label, f"an image whose decoder produces at most {self.max_pixels} pixels (the serving limit, "
                      f"model {self.resolution[0]}×{self.resolution[1]})",
                f"{header.format} {header.width}×{header.height} decoded at {dw}×{dh} = {dw * dh} pixels", hint)
        return hw, need, dh * dw

    def output_size(self, first_hw: tuple[int, int], fmt: str, size: str) -> tuple[int, int]:
        """The output (H, W) for the first input's original size under the ``size`` policy; raises ``InputError``
        when ``fmt`` cannot encode it (checked before any model run)."""
        if size == "input":
            out_hw = fit_pixels(first_hw, self.max_output_pixels)
        else:
            out_hw = content_box(first_hw, self.resolution)
        if OUTPUT_FORMATS[fmt][0] == "JPEG" and max(out_hw) > JPEG_MAX_SIDE:
            raise InputError(self.input_names[0], f"an output of at most {JPEG_MAX_SIDE} pixels per side for "
                             "format=jpeg", f"{out_hw[1]}×{out_hw[0]}", "ask for format=png or size=model")
        return out_hw

    def plan(self, blobs: Mapping[str, bytes], fmt: str, size: str) -> Plan:
        """Read every upload's header (no pixel decoding) and fix the request's cost; raises ``InputError``
        for unreadable data, images whose decoder would produce more than ``max_pixels`` pixels, and outputs
        the format cannot encode — all before the model runs."""
        min_sizes, decode_pixels, first_hw = {}, {}, None
        for name in self.input_names:
            hw, min_sizes[name], decode_pixels[name] = self.probe(name, blobs[name])
            first_hw = first_hw or hw
        return Plan(fmt, size, min_sizes, decode_pixels, self.output_size(first_hw, fmt, size))

    # -- the work inside a slot --------------------------------------------------------------------
    def decode(self, blobs: dict[str, bytes | None], plan: Plan) -> dict[str, np.ndarray]:
        """Uploaded bytes → arrays at the planned (reduced) size; each blob is dropped once decoded."""
        from ..io import load_image, load_mask

        out: dict[str, np.ndarray] = {}
        for name in self.input_names:
            data, blobs[name] = blobs[name], None  # release the upload as soon as it is decoded
            if self.kinds[name] == "mask":
                # validated here; re-thresholded losslessly by the session from {0, 255}
                out[name] = (load_mask(data, name=name) * 255).astype(np.uint8)
            else:
                out[name] = load_image(data, name=name, min_size=plan.min_sizes[name])
        return out

    def infer(self, arrays: dict[str, np.ndarray], plan: Plan) -> np.ndarray:
        """Decoded arrays → the first output, ``H×W×3`` uint8 at the planned output size."""
        return self.infer_batch({k: [v] for k, v in arrays.items()}, [plan.out_hw if plan.size == "input" else None])[0]

    def infer_batch(self, arrays: Mapping[str, list[np.ndarray]],
                    sizes: list[tuple[int, int] | None]) -> list[np.ndarray]:
        """Decoded arrays, a list per input (one item each) → per item the first output, ``H×W×3`` uint8 at
        ``sizes[i]`` (``None``: the letterbox content box at the model's resolution, ``size=model``). One
        session run for the whole batch (item by item for a fixed-batch export)."""
        from ..runtime import prepare_input, restore_output

        s = self.session
        feeds, boxes = {}, None
        for spec in s.input_specs:
            feeds[spec["name"]], _sizes, b, _kind = prepare_input(list(arrays[spec["name"]]), spec, s.manifest)
            if boxes is None:
                boxes = b  # outputs follow the first input
        outs = s.run_arrays(feeds)
        out_sizes = [hw if hw is not None else tuple(box[2:]) for hw, box in zip(sizes, boxes)]
        first = s.output_names[0]
        return restore_output(outs[first], out_sizes, boxes, "numpy", s.manifest, first)


def encode_image(image: Any, fmt: str) -> bytes:
    """A uint8 ``H×W×3`` array (or PIL image) → PNG/JPEG bytes."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    pil_format = OUTPUT_FORMATS[fmt][0]
    buf = _io.BytesIO()
    if pil_format == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


__all__ = ["ServedModel", "Plan", "check_name", "parse_model_specs", "encode_image", "fit_pixels", "content_box",
           "OUTPUT_FORMATS", "OUTPUT_SIZES", "JPEG_MAX_SIDE", "DEFAULT_PIXEL_FACTOR", "DEFAULT_OUTPUT_FACTOR"]
