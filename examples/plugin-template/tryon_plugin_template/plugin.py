"""Hook implementations: the only module tryon imports when it discovers the plugin.

Keep it import-light: no torch here. Factories are :func:`tryon.lazy` strings resolved on first use, and
CLI handlers import their modules inside ``run``.
"""

from __future__ import annotations

import tryon
from tryon.sampling import SamplerSpec

TASK = "template-tone"


@tryon.hookimpl
def tryon_register_tasks(registry):
    registry.register(tryon.TaskSpec(
        name=TASK,
        summary="learned colour tone (1x1 conv): image -> toned image (plugin template)",
        factory=tryon.lazy("tryon_plugin_template.pipeline:TonePipeline"),
        inputs=("image",),            # `tryon run template-tone --image FILE` is built from this
        outputs=("image",),
        tags=("template",),
    ))


@tryon.hookimpl
def tryon_register_samplers(registry):
    registry.register(SamplerSpec(
        name="template-jitter", family="template",
        summary="tone the image under small random brightness shifts, keep the n most saturated",
        factory=tryon.lazy("tryon_plugin_template.pipeline:JitterSampler"),
    ))


@tryon.hookimpl
def tryon_register_cli(app):
    from . import training

    # Leaves under the core's verb groups, named after the task (`tryon train template-tone`, `tryon demo template`).
    app.add_command(f"train {TASK}", help="train the template's tone model on generated images",
                    configure=training.configure, run=training.run_train)
    app.add_command("demo template", help="train the template briefly and write a report",
                    configure=training.configure_demo, run=training.run_demo)
