"""``tryon run TASK`` — moved to :mod:`tryon.jobs` (the verb in :mod:`tryon.jobs.cli`, the output handling in
:mod:`tryon.jobs.outputs`); this face keeps user code working."""

from __future__ import annotations

from typing import Any

from .jobs.outputs import outputs_of, to_image

__all__ = ["outputs_of", "to_image"]  # task_help and register_cli: see __getattr__


def __getattr__(name: str) -> Any:
    """``task_help`` and ``register_cli`` live in the CLI module :mod:`tryon.jobs.cli`, imported on first use only."""
    if name in ("task_help", "register_cli"):
        from .jobs import cli

        return getattr(cli, name)
    raise AttributeError(f"module 'tryon.run' has no attribute {name!r}")
