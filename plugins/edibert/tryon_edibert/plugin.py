"""The hooks of the EdiBERT plugin (entry point ``tryon.plugins: edibert = "tryon_edibert.plugin:hooks"``).

The core's standard wiring (:class:`tryon.wiring.PluginHooks`): the registries are filled from :mod:`.specs`
(``task_specs()``, ``dataset_specs()``, ``sampler_specs()``), the command line from :mod:`.cli` (``register_cli``), each
imported when its hook first runs. This module is the only one imported at discovery, so it stays import-light.
"""

from __future__ import annotations

from tryon.wiring import PluginHooks

hooks = PluginHooks("tryon_edibert")
