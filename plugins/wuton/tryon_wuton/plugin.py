"""Hook implementations of the WUTON plugin (entry point ``tryon.plugins: wuton``).

This is the only module the plugin manager imports; it stays thin and cheap (no torch, no OpenCV): what the plugin
declares is in :mod:`.specs`, its verbs in :mod:`.cli`, and factories, export builders and CLI handlers are resolved
lazily when used.
"""

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
