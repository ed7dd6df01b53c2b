"""What the plugin declares: its task and its sampler (torch-free; the hooks in :mod:`.plugin` call these).

Factories are :func:`tryon.lazy` strings ``"module:attribute"``, imported on first use, so ``tryon tasks`` stays fast.
"""

from __future__ import annotations


import tryon

TASK = "template-tone"


def task_specs() -> list[tryon.TaskSpec]:
    return [tryon.TaskSpec(
        name=TASK,
        summary="learned colour tone (1x1 conv): image -> toned image (plugin template)",
        factory=tryon.lazy("tryon_plugin_template.pipelines:TonePipeline"),
        inputs=("image",),            # `tryon run template-tone --image FILE` is built from this
        outputs=("image",),
        tags=("template",),
    )]


def sampler_specs() -> list[tryon.SamplerSpec]:
    return [tryon.SamplerSpec(
        name="template-jitter", family="template",
        summary="tone the image under small random brightness shifts, keep the n most saturated",
        factory=tryon.lazy("tryon_plugin_template.samplers:JitterSampler"),
    )]


__all__ = ["TASK", "sampler_specs", "task_specs"]
