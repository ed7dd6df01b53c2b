"""``tryon batch``: render every (person, garment) pair of a catalogue — resumable, atomic, per-pair errors. No torch.

Moved to tryon.deploy.batch (the job; planning in tryon.deploy.plan, rendering in tryon.deploy.render, engines in
tryon.deploy.local_engine / tryon.deploy.ray_engine, the contact sheet in tryon.deploy.contact_sheet, the verb in
tryon.deploy.cli); this face keeps user code working.
"""

from __future__ import annotations

from typing import Any

from .deploy.batch import LOCK_NAME, RESULTS_NAME, SUMMARY_NAME, JobOptions, read_results, run_job
from .deploy.contact_sheet import SHEET_NAME, write_contact_sheet
from .deploy.local_engine import chunk_rows, run_local
from .deploy.manifest import model_tag
from .deploy.plan import IMAGE_SUFFIXES, IMAGES_DIR, Item, Job, output_name, plan_job, read_items, read_pairs
from .deploy.render import SESSION_KINDS, PairRenderer, complete_png, encode_png, write_image

__all__ = ["Job", "Item", "JobOptions", "PairRenderer", "plan_job", "run_job", "read_items", "read_pairs", "read_results",
           "write_image", "encode_png", "complete_png", "output_name", "model_tag", "chunk_rows",
           "run_local", "write_contact_sheet", "SESSION_KINDS", "RESULTS_NAME", "SUMMARY_NAME", "SHEET_NAME",
           "IMAGES_DIR", "LOCK_NAME", "IMAGE_SUFFIXES"]


def __getattr__(name: str) -> Any:
    """``register_cli`` (the ``tryon batch`` verb) now lives in :mod:`tryon.deploy.cli`; resolved on first use
    only, so that importing this face never imports a CLI module."""
    if name == "register_cli":
        from .deploy.cli import register_cli

        return register_cli
    raise AttributeError(f"module 'tryon.batch' has no attribute {name!r}")
