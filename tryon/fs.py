"""Filesystem helpers shared by everything that writes files or folders users load later (no torch).

:func:`atomic_directory` is the one place that implements "assemble in a temporary sibling, rename into
place": weights folders (``Pipeline.save_pretrained``), ONNX export folders and generated datasets use it,
so a crash, a failed check or Ctrl-C never leaves a half-written folder where a finished one is expected.
:func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json` do the same for single
files (checkpoints, reports, bench results, run metadata): temp file, fsync, rename, fsync the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    """Call ``write(fileobj)`` on a temp file next to ``path``, fsync it, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")))


def read_format_json(folder: str | os.PathLike, name: str, expected_format: str, *, error: Callable[[str], Exception],
                     what: str, hint: str = "") -> dict[str, Any]:
    """The JSON file ``folder/name`` whose ``"format"`` field must be ``expected_format`` — the one reader behind
    weights folders (``config.json``) and export folders (``manifest.json``). Every problem (no folder, no file,
    invalid JSON, another format) raises ``error(message)`` naming the path and what was expected; ``what`` names
    the folder kind ("weights directory"), ``hint`` is appended to the no-file message."""
    folder = Path(folder)
    path = folder / name
    if not folder.is_dir():
        raise error(f"{what} {folder}: no such {what.split()[-1]}{hint and ' ' + hint}")
    if not path.is_file():
        raise error(f"{what} {folder}: expected {name}, found none{hint and ' ' + hint}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != expected_format:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise error(f"{path}: expected format {expected_format!r}, got {got!r}")
    return data


def atomic_write_json(path: str | os.PathLike, obj: Any, **dumps_kwargs: Any) -> Path:
    """``obj`` as indented JSON (``json.dumps(obj, indent=2, **dumps_kwargs)`` + newline), atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, **dumps_kwargs) + "\n")


@contextlib.contextmanager
def atomic_directory(out: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``out``; on a clean exit it replaces ``out``.

    An existing ``out`` is swapped out and deleted only after the new folder is in place. On any exception
    (``KeyboardInterrupt`` included) the temporary folder is removed and ``out`` is left untouched; a parent
    folder this call had to create is removed again. The temporary folder gets the permissions a plain
    ``mkdir`` would (``mkdtemp`` makes 0700).
    """
    out = Path(out)
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_parent:
            with contextlib.suppress(OSError):
                out.parent.rmdir()
        raise


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (weights, exports, recorded inputs)."""
    h = hashlib.sha256()
    with open(Path(path), "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def json_safe(obj: Any, *, strict: bool = False) -> Any:
    """``obj`` with JSON types only: mappings (keys as strings), lists, numbers, strings, booleans, None;
    paths become strings and 0-d numpy/torch scalars their Python value. Anything else becomes its text,
    or raises ``TypeError`` when ``strict`` (hyper-parameters must round-trip)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, strict=strict) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return str(obj)
    if getattr(obj, "shape", None) == () and hasattr(obj, "item"):
        return obj.item()
    if strict:
        raise TypeError(f"{obj!r} ({type(obj).__name__}) is not JSON-serialisable")
    return str(obj)
