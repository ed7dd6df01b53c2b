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
        registry.register(TaskSpec(name=name, summary=summary, factory=lazy(f"{_P}:{cls}"), inputs=inputs,
                                   outputs=("image",), exportable=exports, tags=("gan", "inversion", "editing"),
                                   weights_family="gan-inversion"))


def _configure_encoder(p: Any) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=3000, batch_size=32, lr=1e-3, log_every=100, ckpt_every=1000)
    p.add_argument("--generator", required=True, help="run folder of `tryon train gan` (an image generator)")
    p.add_argument("--width", type=int, default=32, help="encoder width unit (default 32)")
    p.add_argument("--image-weight", type=float, default=1.0, help="weight of mse(G(E(x, m)), x) (default 1)")
    p.add_argument("--p-masked", type=float, default=0.5, help="fraction of training inputs with a random mask")
    p.add_argument("--method", default="hybrid", choices=("optimisation", "encoder", "hybrid", "plumerault"),
                   help="the pipelines' default inversion method (default hybrid)")
    p.add_argument("--inversion-steps", type=int, default=100, help="the pipelines' default optimisation steps")


def _run_encoder(args: Any) -> int:
    from tryon.train import train_config_from_args

    from .encoder import train_encoder_run

    cfg = train_config_from_args(args, device=args.device or "cpu")
    _, summary = train_encoder_run(args.generator, cfg, width=args.width, image_weight=args.image_weight,
                                   p_masked=args.p_masked, method=args.method, inversion_steps=args.inversion_steps,
                                   resume=args.resume)
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("train gan-encoder", help="train the inversion encoder E(x, m) -> z of a GAN run (000 §2.2); the "
                    "run folder serves gan-invert/-inpaint/-composite/-crossover", configure=_configure_encoder,
                    run=_run_encoder)


__all__ = ["register_tasks", "register_cli"]
