"""Checkpoint files of a run: written atomically, loaded with ``weights_only=True``, found for resuming."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..fs import atomic_write_bytes
from ..errors import WeightsError

log = logging.getLogger("tryon.train")

CKPT_FORMAT = "tryon.train/1"
CKPT_RE = re.compile(r"^step_(\d{8,})\.pt$")


def save_checkpoint_file(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` written atomically (temp file in the same folder, fsync, rename)."""
    return atomic_write_bytes(path, lambda f: torch.save(dict(state), f))


def load_checkpoint_file(path: str | os.PathLike) -> dict[str, Any]:
    """Load a trainer checkpoint with ``weights_only=True`` on CPU; raises :class:`WeightsError` if unusable."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, bad pickle opcode, ...
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise WeightsError(f"checkpoint {path}: cannot be read ({type(e).__name__}: {first})") from e
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT or "step" not in state:
        raise WeightsError(f"checkpoint {path}: not a {CKPT_FORMAT} checkpoint")
    return state


def checkpoint_files(ckpt_dir: str | os.PathLike) -> list[Path]:
    """``step_*.pt`` files in ``ckpt_dir`` sorted by step (oldest first); [] if the folder is missing."""
    d = Path(ckpt_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := CKPT_RE.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def find_checkpoint(ckpt_dir: str | os.PathLike) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint to resume from: the one named by ``latest`` if it loads, else the newest that loads."""
    d = Path(ckpt_dir)
    files = checkpoint_files(d)
    order: list[Path] = []
    latest = d / "latest"
    if latest.is_file():
        name = latest.read_text(encoding="utf-8").strip()
        if CKPT_RE.match(name) and (d / name).is_file():
            order.append(d / name)
        else:
            log.warning("checkpoint pointer %s names %r, which is not there: looking for others", latest, name)
    order += [p for p in reversed(files) if p not in order]
    for p in order:
        try:
            return p, load_checkpoint_file(p)
        except WeightsError as e:
            log.warning("%s; trying an older checkpoint", e)
    return None



__all__ = ["CKPT_FORMAT", "CKPT_RE", "checkpoint_files", "find_checkpoint", "load_checkpoint_file", "save_checkpoint_file"]
