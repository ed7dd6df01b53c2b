"""Branch features of a split export, as values and on disk — **no torch**.

:func:`content_key` names an input by its content (sha256); :class:`Features` holds one item's cached branch
values; :class:`FeatureStore` keeps them on disk as ``.safetensors`` files, keyed by (model key, input, content
key), checked when read (format, model, input, dtype, shapes, checksum). Used by
:class:`tryon.deploy.catalogue.CatalogueSession` and ``tryon serve``'s garment store.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError, UnreadableImageError
from ..fs import atomic_write_bytes

STORE_FORMAT = "tryon-features/1"
STORE_DTYPES = ("float32", "float16")


def content_key(item: Any, name: str = "input") -> str:
    """sha256 (hex) of an input's content: a file's bytes, encoded bytes, a numpy array's dtype/shape/data or
    a PIL image's mode/size/pixels. The same file always gets the same key; a re-encoded copy does not."""
    h = hashlib.sha256()
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            what = "a directory" if path.is_dir() else "no such file"
            raise UnreadableImageError(f"{name} ({path})", "an image file", what)
        h.update(b"file\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        h.update(b"file\0")  # encoded bytes hash like the file holding them
        h.update(bytes(item))
    elif isinstance(item, np.ndarray):
        h.update(f"ndarray\0{item.dtype.str}\0{item.shape}\0".encode())
        h.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, Image.Image):
        h.update(f"pil\0{item.mode}\0{item.size}\0".encode())
        h.update(item.tobytes())
    else:
        raise InputError(name, "a path, bytes, PIL image or numpy H×W×3 uint8 array", type(item).__name__)
    return h.hexdigest()


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Features:
    """The cached branch values of one input item (no batch axis): ``arrays[name]`` is ``C×H×W`` float32.

    ``size``/``box`` are the original image size and its letterbox box (needed to restore outputs when the
    item is the first input); ``kind`` is how outputs come back (``"numpy"`` or ``"pil"``); ``source`` says
    where the values came from this time (``"computed"``, ``"memory"`` or ``"store"``).
    """

    input: str
    key: str
    arrays: dict[str, np.ndarray]
    size: tuple[int, int]
    box: tuple[int, int, int, int]
    kind: str = "pil"
    source: str = "computed"

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))



class FeatureStore:
    """On-disk store of branch features: one ``.safetensors`` file per (model key, input, content key).

    Layout ``root/<model key[:16]>/<input>/<content key[:2]>/<content key>.safetensors``; metadata holds the
    full model and content keys, the letterbox size/box and a sha256 checksum of the tensors (safetensors
    checks the header and offsets, not the data). Files are written atomically. ``dtype="float16"`` halves
    the size; values are returned as float32.
    """

    def __init__(self, root: str | os.PathLike, dtype: str = "float32"):
        if dtype not in STORE_DTYPES:
            raise InputError("store_dtype", f"one of {STORE_DTYPES}", repr(dtype))
        self.root = Path(root)
        self.dtype = dtype

    def path(self, model_key: str, input_name: str, key: str) -> Path:
        return self.root / model_key[:16] / input_name / key[:2] / f"{key}.safetensors"

    def get(self, model_key: str, input_name: str, key: str, shapes: dict[str, tuple[int, ...]]) -> tuple[Features | None, str]:
        """``(features, "")`` on a valid hit, ``(None, "")`` on a miss, ``(None, reason)`` for a rejected entry."""
        from safetensors import safe_open

        path = self.path(model_key, input_name, key)
        if not path.is_file():
            return None, ""
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = dict(fh.metadata() or {})
                arrays = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
        except Exception as exc:  # noqa: BLE001 - any parse failure means: recompute
            return None, f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
        checks = (
            (meta.get("format") == STORE_FORMAT, f"format {meta.get('format')!r}"),
            (meta.get("model") == model_key, "another model (model hash differs)"),
            (meta.get("input") == input_name and meta.get("content") == key, "another input (content hash differs)"),
            (meta.get("dtype") == self.dtype, f"dtype {meta.get('dtype')!r}, the store wants {self.dtype!r}"),
            (set(arrays) == set(shapes), f"tensors {sorted(arrays)}, expected {sorted(shapes)}"),
        )
        for ok, why in checks:
            if not ok:
                return None, why
        for k, shape in shapes.items():
            a = arrays[k]
            if tuple(a.shape) != tuple(shape) or a.dtype != np.dtype(self.dtype):
                return None, f"tensor {k!r} is {a.dtype} {list(a.shape)}, expected {self.dtype} {list(shape)}"
        if _checksum(arrays) != meta.get("checksum"):
            return None, "checksum mismatch (corrupted data)"
        try:
            size = tuple(int(v) for v in meta["size"].split(","))
            box = tuple(int(v) for v in meta["box"].split(","))
            if len(size) != 2 or len(box) != 4:
                raise ValueError
        except (KeyError, ValueError):
            return None, "bad size/box metadata"
        out = {k: a.astype(np.float32) for k, a in arrays.items()}
        return Features(input_name, key, out, size, box, source="store"), ""  # type: ignore[arg-type]

    def put(self, model_key: str, f: Features) -> Path:
        from safetensors.numpy import save

        arrays = {k: np.ascontiguousarray(a, dtype=self.dtype) for k, a in f.arrays.items()}
        meta = {
            "format": STORE_FORMAT, "model": model_key, "input": f.input, "content": f.key, "dtype": self.dtype,
            "size": ",".join(str(v) for v in f.size), "box": ",".join(str(v) for v in f.box), "checksum": _checksum(arrays),
        }
        data = save(arrays, metadata=meta)
        return atomic_write_bytes(self.path(model_key, f.input, f.key), lambda fh: fh.write(data))

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.safetensors")) if self.root.is_dir() else 0


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["STORE_FORMAT", "STORE_DTYPES", "content_key", "Features", "FeatureStore", "file_sha256"]
