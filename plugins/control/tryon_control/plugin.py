"""Hook implementations of the control plugin (entry point ``tryon.plugins: control``): thin and import-light (no
torch). What the plugin declares is in :mod:`.specs`, its verbs in :mod:`.cli`."""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .specs import register_tasks

    register_tasks(registry)


@tryon.hookimpl
def tryon_register_datasets(registry):
    from .specs import register_datasets

    register_datasets(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from .cli import register_cli

    register_cli(app)
