"""Hook implementations of the GAN plugin (entry point ``tryon.plugins: gan``); import-light (no torch)."""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .commands import register_tasks
    from .inversion.register import register_tasks as register_inversion_tasks

    register_tasks(registry)
    register_inversion_tasks(registry)


@tryon.hookimpl
def tryon_register_datasets(registry):
    from .commands import register_datasets

    register_datasets(registry)


@tryon.hookimpl
def tryon_register_samplers(registry):
    from .commands import register_samplers

    register_samplers(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from .commands import register_cli
    from .inversion.register import register_cli as register_inversion_cli

    register_cli(app)
    register_inversion_cli(app)
