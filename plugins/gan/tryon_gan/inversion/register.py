"""Tasks and CLI verbs of GAN inversion (import-light: no torch at import).

Tasks ``gan-invert``, ``gan-inpaint``, ``gan-composite``, ``gan-crossover`` (exportable components
``encoder`` and ``projector`` = encoder + generator, for ``tryon export`` and ``tryon.runtime``); verb
``tryon train gan-encoder --generator RUN``. Wired from ``tryon_gan/plugin.py``'s hooks.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tryon import ExportSpec, TaskSpec, lazy

_P = "tryon_gan.inversion.pipeline"
_EDIT = "tryon_gan.editing_pipelines"  # above tryon_gan.editing, which builds on inversion


def _export(name: str) -> ExportSpec:
    attr = {"encoder": "ENCODER_EXPORT", "projector": "PROJECTOR_EXPORT"}[name]

    def spec() -> Any:
        import importlib

        return getattr(importlib.import_module(_P), attr)

    return ExportSpec(name=name, build=lambda pipe: spec().build(pipe),
                      example_inputs=lambda pipe, b: spec().example_inputs(pipe, b),
                      outputs=("latent",) if name == "encoder" else ("reconstruction", "latent"), min_opset=16,
                      normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                                     "per_tensor": {"mask": {"kind": "mask"}, "image": {"kind": "image"}}})


def register_tasks(registry: Any) -> None:
    exports = (_export("projector"), _export("encoder"))
    for name, cls, summary, inputs in (
        ("gan-invert", "GanInvertPipeline", "GAN inversion (optimisation | encoder | hybrid | plumerault), batched; "
         "mask 1 = ignore (000 §2.2, 003 ch. 4)", ("image", "mask")),
        ("gan-inpaint", "GanInpaintPipeline", "inpainting through GAN inversion: invert the known pixels, decode, "
         "paste (mask 1 = fill)", ("image", "mask")),
        ("gan-composite", "GanCompositePipeline", "compositing through GAN inversion: harmonise a collage (mask 1 = "
         "pasted region)", ("image", "mask")),
        ("gan-crossover", "GanCrossoverPipeline", "crossover through GAN inversion: image outside the mask, other "
         "inside, harmonised", ("image", "other", "mask")),
    ):
        module = _P if name == "gan-invert" else _EDIT
        registry.register(TaskSpec(name=name, summary=summary, factory=lazy(f"{module}:{cls}"), inputs=inputs,
                                   outputs=("image",), exportable=exports, tags=("gan", "inversion", "editing"),
                                   weights_family="gan-inversion"))


def _configure_encoder(p: Any) -> None:
    from tryon.trainconfig import add_config_arguments, add_train_arguments

    from ..config import ENCODER_LOOP, EncoderTaskConfig

    add_train_arguments(p, **ENCODER_LOOP)
    add_config_arguments(p, EncoderTaskConfig, title="gan-encoder")


def _run_encoder(args: Any) -> int:
    from tryon.trainconfig import config_from_args, train_config_from_args

    from ..config import EncoderTaskConfig
    from .encoder_training import train_encoder_run

    _, summary = train_encoder_run(train_config_from_args(args), config_from_args(EncoderTaskConfig, args))
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("train gan-encoder", help="train the inversion encoder E(x, m) -> z of a GAN run (000 §2.2); the "
                    "run folder serves gan-invert/-inpaint/-composite/-crossover", configure=_configure_encoder,
                    run=_run_encoder)


__all__ = ["register_tasks", "register_cli"]
