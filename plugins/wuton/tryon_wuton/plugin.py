"""Hook implementations of the WUTON plugin (entry point ``tryon.plugins: wuton``).

This is the only module the plugin manager imports; it stays cheap (no torch, no OpenCV): factories,
export builders and CLI handlers are resolved lazily when used. Plugin authors: this file plus a
``[project.entry-points."tryon.plugins"]`` line is all the wiring a plugin needs.
"""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .tasks import register_tasks

    register_tasks(registry)


@tryon.hookimpl
def tryon_register_datasets(registry):
    from .data import register_datasets

    register_datasets(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from . import commands, data

    data.register_cli(app)
    commands.register_cli(app)
    try:
        from .demo import register_cli as register_demo
    except ImportError:  # demo module not present in a stripped install
        return
    register_demo(app)
