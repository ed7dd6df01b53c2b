"""Hook implementations of the EdiBERT plugin (entry point ``tryon.plugins: edibert``).

Import-light on purpose: no torch here; factories, samplers and CLI handlers are resolved lazily.
"""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .commands import register_tasks

    register_tasks(registry)


@tryon.hookimpl
def tryon_register_samplers(registry):
    from .commands import register_samplers

    register_samplers(registry)


@tryon.hookimpl
def tryon_register_datasets(registry):
    from .commands import register_datasets

    register_datasets(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from .commands import register_cli

    register_cli(app)
