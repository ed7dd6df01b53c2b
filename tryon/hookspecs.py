"""The plugin contract (pluggy, project name ``"tryon"``).

A plugin is any importable module or package exposed under the entry-point group ``tryon.plugins``
that implements some of these hooks with :data:`tryon.hookimpl`. Hooks are additive: new hooks and new
keyword arguments may appear; existing ones keep their meaning. Every hook receives keyword arguments
only, so an implementation may accept a subset of them.
"""

from __future__ import annotations

import pluggy

PROJECT = "tryon"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tryon_register_tasks(registry):
    """Register :class:`tryon.TaskSpec` objects with ``registry.register(spec)``."""


@hookspec
def tryon_register_datasets(registry):
    """Register dataset readers/adapters with ``registry.register(name, obj, summary=...)``."""


@hookspec
def tryon_register_samplers(registry):
    """Register samplers (e.g. EdiBERT resampling strategies, GAN sampling improvements)."""


@hookspec
def tryon_register_metrics(registry):
    """Register extra metrics with ``registry.register(name, fn, summary=...)``."""


@hookspec
def tryon_register_cli(app):
    """Add CLI verbs with ``app.add_command("train my-task", help=..., configure=..., run=...)``."""
