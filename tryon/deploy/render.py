"""The worker of ``tryon batch``: :class:`PairRenderer` renders pair rows to PNG files with :func:`write_image`.

Shared by both engines of :mod:`tryon.deploy.batch` — the local one (:mod:`tryon.deploy.local_engine`: this
process or spawned workers) and Ray (:mod:`tryon.deploy.ray_engine`, one renderer per actor) — so their outputs
are byte-identical for the same ``--threads``. Below both engines: it imports neither. No torch.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InputError, TryonError
from ..fs import atomic_write_bytes
from .manifest import read_manifest

SESSION_KINDS = ("auto", "catalogue", "monolithic")
#: zlib level of the job's PNG files. Level 1 rather than PIL's default 6: on 256×192 photographs 6 takes 11.4 ms per
#: image and 1 takes 3.0 ms, for files 5.7 % larger (benchmarks/png_levels.py on an AVX-512 EPYC) — at 6 the encoder
#: took longer than rendering a catalogue pair. Pixels are the same at every level (PNG is lossless).
PNG_LEVEL = 1


def encode_png(image: Any, level: int = PNG_LEVEL) -> bytes:
    """PNG bytes of an ``H×W×3`` uint8 array at zlib ``level`` 0–9 (PIL's encoder: deterministic for the same
    pixels and level)."""
    from PIL import Image

    if not 0 <= int(level) <= 9:
        raise InputError("png level", "an integer 0-9 (zlib level)", repr(level))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=int(level))
    return buf.getvalue()


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def write_image(path: str | os.PathLike, image: Any, fsync: bool = False, level: int = PNG_LEVEL) -> Path:
    """Write ``image`` (``H×W×3`` uint8) as PNG atomically: temp file ``.<name>.<pid>.tmp`` in the same folder, then
    rename.

    The rename makes a killed process harmless (a final name only ever holds a complete file). ``fsync=True``
    also survives a power cut (``tryon.fs.atomic_write_bytes``); it is off by default because it cost 8.8 ms
    per file here (1.5 ms without), as much as rendering a pair — a resumed job instead checks that every
    existing output ends with PNG's IEND chunk (:func:`complete_png`) and redoes those that do not. ``level``: the
    zlib level (:data:`PNG_LEVEL`).
    """
    data = encode_png(image, level)
    if fsync:
        return atomic_write_bytes(path, lambda fh: fh.write(data))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def complete_png(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file ending with PNG's IEND chunk (a finished output)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() < 8 + len(_PNG_END):
                return False
            fh.seek(-len(_PNG_END), os.SEEK_END)
            return fh.read() == _PNG_END
    except OSError:
        return False


_LIMIT_LOCK = threading.Lock()
_LIMIT_USERS: list[Any] = [0, None]  # [pairs decoding under a limit now, TRYON_MAX_PIXELS before the first of them]


@contextlib.contextmanager
def _pixel_limit(limit: int | None) -> Iterator[None]:
    """``TRYON_MAX_PIXELS`` set to ``limit`` while the sessions decode one pair, restored afterwards (the
    job's ``--max-pixels`` must not leak into the rest of a process that embeds it). Counted, so that worker threads
    of one job (one limit) decoding at once restore it only when the last of them is done."""
    if not limit:
        yield
        return
    with _LIMIT_LOCK:
        if _LIMIT_USERS[0] == 0:
            _LIMIT_USERS[1] = os.environ.get("TRYON_MAX_PIXELS")
            os.environ["TRYON_MAX_PIXELS"] = str(limit)
        _LIMIT_USERS[0] += 1
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_USERS[0] -= 1
            if _LIMIT_USERS[0] == 0:
                if _LIMIT_USERS[1] is None:
                    os.environ.pop("TRYON_MAX_PIXELS", None)
                else:
                    os.environ["TRYON_MAX_PIXELS"] = _LIMIT_USERS[1]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


class PairRenderer:
    """Renders pair rows to image files; one per worker process or Ray actor.

    ``session``: ``"auto"`` (a :class:`tryon.deploy.catalogue.CatalogueSession` when the export has split graphs,
    else the monolithic :class:`tryon.deploy.sessions.TryOnSession`), ``"catalogue"`` or ``"monolithic"``.
    ``threads``: onnxruntime intra-op threads (set explicitly: Ray sets OMP_NUM_THREADS, ORT does not read it).
    """

    def __init__(self, model: str, threads: int | None = None, session: str = "auto", store: str | None = None,
                 store_dtype: str = "float32", cache_mb: float = 512, max_pixels: int | None = None, fsync: bool = False,
                 png_level: int = PNG_LEVEL):
        from .sessions import TryOnSession

        if session not in SESSION_KINDS:
            raise InputError("--session", f"one of {SESSION_KINDS}", repr(session))
        self.max_pixels = int(max_pixels) if max_pixels else None
        _, manifest = read_manifest(model)
        split = bool(manifest.get("graphs"))
        if session == "catalogue" and not split:
            raise TryonError(f"export {model}: --session catalogue needs split graphs (tryon export TASK --split)")
        self.kind = "catalogue" if (session == "catalogue" or (session == "auto" and split)) else "monolithic"
        if store and self.kind == "monolithic":
            raise InputError("--store", "a split export (tryon export TASK --split) and --session auto/catalogue",
                             f"the {'monolithic session' if split else 'export ' + str(model) + ' without split graphs'}")
        if self.kind == "catalogue":
            from .catalogue import CatalogueSession

            self.session: Any = CatalogueSession(model, intra_op_threads=threads, store=store, store_dtype=store_dtype,
                                                 cache_mb=cache_mb, batch_size=1)
        else:
            self.session = TryOnSession(model, intra_op_threads=threads)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.fsync = bool(fsync)
        self.png_level = int(png_level)

    def _render(self, row: dict[str, Any]) -> Any:
        """The main output of one pair as an ``H×W×3`` uint8 array (the person's size)."""
        with _pixel_limit(self.max_pixels):
            return self._render_pair(row)

    def _render_pair(self, row: dict[str, Any]) -> Any:
        import numpy as np

        if self.kind == "monolithic":
            return np.asarray(self.session(person=row["person"], garment=row["garment"]).convert("RGB"))
        person = self.session.encode("person", [row["person"]], errors="return")[0]
        garment = self.session.encode("garment", [row["garment"]], errors="return")[0]
        for f in (person, garment):
            if isinstance(f, Exception):
                raise f
        return self.session.pair(person=replace(person, kind="numpy"), garment=garment)

    def run(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Render and write each row's pair; every failure becomes a ``failed`` result row (never raised)."""
        results = []
        for row in rows:
            t0 = time.perf_counter()
            res = {"pair": int(row["pair"]), "person": row["person_id"], "garment": row["garment_id"],
                   "output": row["output"], "status": "ok", "seconds": 0.0, "error": "", "error_type": "",
                   "worker": self.worker}
            try:
                write_image(row["output"], self._render(row), fsync=self.fsync, level=self.png_level)
            except Exception as exc:  # noqa: BLE001 - pair-level errors are rows, not exceptions
                res.update(status="failed", error=_one_line(exc), error_type=type(exc).__name__)
            res["seconds"] = round(time.perf_counter() - t0, 6)
            results.append(res)
        return results


__all__ = ["PNG_LEVEL", "PairRenderer", "SESSION_KINDS", "write_image", "encode_png", "complete_png"]
