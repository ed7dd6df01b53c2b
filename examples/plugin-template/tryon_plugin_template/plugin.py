"""Hook implementations: the only module tryon imports when it discovers the plugin.

Thin on purpose: each hook hands the registry to :mod:`.specs` (what the plugin declares) or the app to
:mod:`.cli` (its verbs). Keep it import-light: no torch here.
"""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .specs import register_tasks

    register_tasks(registry)


@tryon.hookimpl
def tryon_register_samplers(registry):
    from .specs import register_samplers

    register_samplers(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from .cli import register_cli

    register_cli(app)
