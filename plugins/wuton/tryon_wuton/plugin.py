"""Hook implementations of the WUTON plugin (entry point ``tryon.plugins: wuton``).

Only cheap imports here: heavy modules are imported inside factories and CLI handlers so that
``tryon tasks`` stays fast.
"""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    pass


@tryon.hookimpl
def tryon_register_cli(app):
    pass
