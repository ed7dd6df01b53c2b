"""The manifest of a ``tryon export`` folder — the one manifest reader of the deploy wing (no torch).

An export folder (written by :func:`tryon.export.export_onnx`, format in ``exports/README.md``) holds
``model.onnx`` + ``manifest.json`` (input names and shapes, resolution, normalisation, the model variants and
their files, parity figures; split graphs under ``graphs``). :func:`read_manifest` reads and checks it through
:func:`tryon.fs.read_format_json`; everything of :mod:`tryon.deploy` that needs a manifest goes through it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError, TryonError
from ..fs import atomic_write_json, read_format_json

MANIFEST_NAME = "manifest.json"
EXPORT_FORMAT = "tryon-onnx-export"
EXPORT_FORMAT_VERSION = 1
#: the fields every manifest has
REQUIRED_FIELDS = ("inputs", "outputs", "resolution", "normalisation", "models")
#: model variants an export folder may hold (``fp32`` always)
MODEL_VARIANTS = ("fp32", "fp16", "int8")


def read_manifest(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(export_dir, manifest)`` from an export folder (or a ``.onnx`` file inside one).

    Raises :class:`tryon.errors.TryonError` (one line naming the path) for a missing folder or file, invalid
    JSON, another format, or a missing required field (:data:`REQUIRED_FIELDS`)."""
    path = Path(path)
    export_dir = path.parent if path.suffix == ".onnx" else path
    manifest = read_format_json(export_dir, MANIFEST_NAME, EXPORT_FORMAT, error=TryonError, what="export folder",
                                hint="(`tryon export TASK` writes one)")
    for key in REQUIRED_FIELDS:
        if key not in manifest:
            raise TryonError(f"{export_dir / MANIFEST_NAME}: missing field {key!r}")
    return export_dir, manifest


def write_manifest(export_dir: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    path = Path(export_dir) / MANIFEST_NAME
    atomic_write_json(path, manifest)
    return path


def list_models(export_dir: str | os.PathLike) -> dict[str, Any]:
    """The model variants of an export folder (``fp32`` always; ``fp16``/``int8`` when written)."""
    return read_manifest(export_dir)[1]["models"]


def iter_export_dirs(root: str | os.PathLike = "exports") -> Iterable[Path]:
    """Export folders under ``root`` (those with a manifest), sorted."""
    root = Path(root)
    if root.is_dir():
        yield from sorted(p for p in root.iterdir() if (p / MANIFEST_NAME).is_file())


def model_tag(model: str | os.PathLike) -> str:
    """First 12 hex digits of the export's sha256 (the monolithic graph, which split graphs reproduce)."""
    _, manifest = read_manifest(model)
    return str(manifest.get("sha256") or manifest["models"]["fp32"]["sha256"])[:12]


def check_conditions(manifest: dict[str, Any], where: str | os.PathLike, **given: str | None) -> dict[str, str]:
    """Check request options against the values the exported weights were trained for (``manifest["conditions"]``,
    e.g. ``{"category": ["upper"]}``); returns the options given (``None`` dropped).

    A value outside the values recorded for its option raises :class:`tryon.errors.InputError` naming the export and
    what it accepts. An option the export records no values for is not checked: random weights, exports written
    before conditions existed, models that have no such option (the core knows no task's vocabulary)."""
    asked = {k: str(v) for k, v in given.items() if v is not None}
    recorded = manifest.get("conditions") or {}
    for name, value in asked.items():
        allowed = recorded.get(name)
        if allowed and value not in allowed:
            raise InputError(name, f"one of {', '.join(allowed)} (what the export {where} was trained on)", repr(value))
    return asked


__all__ = ["check_conditions", "MANIFEST_NAME", "EXPORT_FORMAT", "EXPORT_FORMAT_VERSION", "REQUIRED_FIELDS", "MODEL_VARIANTS",
           "read_manifest", "write_manifest", "list_models", "iter_export_dirs", "model_tag"]
