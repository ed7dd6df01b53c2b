"""Hook implementations of the EdiBERT plugin (entry point ``tryon.plugins: edibert``).

Import-light on purpose: no torch here; factories, samplers and CLI handlers are resolved lazily.
"""

from __future__ import annotations

import tryon


@tryon.hookimpl
def tryon_register_tasks(registry):
    from .commands import register_tasks

    register_tasks(registry)


#: the parallel-decoding samplers (:mod:`tryon_edibert.parallel`): name → (summary, class)
PARALLEL_SAMPLERS = {
    "maskgit": ("parallel: MaskGIT confidence + cosine schedule, 8 forwards per pass (16 by default) for any region",
                "MaskGITSampler"),
    "halton": ("parallel: 2-D Halton order + cosine schedule, 8 forwards per pass (16 by default) for any region",
               "HaltonSampler"),
}


@tryon.hookimpl
def tryon_register_samplers(registry):
    from .commands import register_samplers

    register_samplers(registry)
    for name, (summary, cls) in PARALLEL_SAMPLERS.items():
        registry.register(tryon.SamplerSpec(name, "edibert", summary, tryon.lazy(f"tryon_edibert.parallel:{cls}")))


@tryon.hookimpl
def tryon_register_datasets(registry):
    from .commands import register_datasets

    register_datasets(registry)


@tryon.hookimpl
def tryon_register_cli(app):
    from .commands import register_cli

    register_cli(app)
