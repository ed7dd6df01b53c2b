"""Task, dataset and sampler specs and CLI verbs of the GAN plugin (import-light: no torch at import).

* ``tryon train gan --data SPEC --loss hinge`` — GAN training (progress, resume and report from the core loop).
* ``tryon train gan-weights --generator RUN --data SPEC`` — latent importance weights (002 Alg. 1).
* ``tryon demo gan`` — the toy reproductions and the report (``runs/demo-gan/report.html``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon import DatasetSpec, SamplerSpec, TaskSpec, lazy
from tryon.trainconfig import add_config_arguments, add_train_arguments, config_from_args, train_config_from_args

_T = "tryon_gan"


def register_tasks(registry: Any) -> None:
    registry.register(TaskSpec(
        name="gan-generate",
        summary="unconditional GAN generator (+ its discriminator): pipe(n, seed, sampler=...) -> samples (000 ch. 3)",
        factory=lazy(f"{_T}.pipeline:GanPipeline"), outputs=("samples", "latents", "stats"), tags=("gan", "generation"),
    ))
    registry.register(TaskSpec(
        name="gan-latent-weights",
        summary="latent importance weights w(z) >= 0 of a trained generator, for latentRS/GA (002)",
        factory=lazy(f"{_T}.pipeline:LatentWeightsPipeline"), outputs=("weights",), tags=("gan", "sampling"),
    ))


def register_datasets(registry: Any) -> None:
    for name, summary, target in (
        ("gan-grid", "Gaussians on a grid, M modes at spacing D (000 Fig. 3.2d, App. A.2.3), with oracle", "gaussian_grid"),
        ("gan-gaussians25", "DOT's 25 Gaussians (000 Table 3.4), with oracle", "gaussians25"),
        ("gan-swissroll", "DOT's Swiss roll (000 Table 3.4), with oracle (distance to the roll)", "swiss_roll"),
        ("gan-onehot", "M equidistant one-hot modes in R^d (001, 000 Fig. 3.8), with oracle", "onehot_modes"),
        ("gan-digits", "scikit-learn's 8x8 handwritten digits, 1x8x8 in [-1, 1] (offline)", "DigitsData"),
        ("gan-points", "a .npy/.csv/.txt file of N x D points", "load_points_file"),
        ("gan-images", "an image folder (MNIST/CIFAR/FFHQ files) at a square size, 1 or 3 channels", "ImageFolderData"),
    ):
        factory = lazy(f"{_T}.data:{target}")
        if target in ("load_points_file", "ImageFolderData"):
            registry.register(DatasetSpec(name, summary, factory))
        else:  # synthetic sets take no root
            registry.register(DatasetSpec(name, summary, _ignore_root(factory), meta={"synthetic": True}))


def _ignore_root(factory: Any) -> Any:
    def build(root: Any = None, **options: Any) -> Any:
        return factory(**options)

    build.__qualname__ = build.__name__ = f"synthetic({getattr(factory, 'target', factory)})"
    return build


def register_samplers(registry: Any) -> None:
    from .sampler_names import SAMPLERS

    for name, (summary, cls) in SAMPLERS.items():
        registry.register(SamplerSpec(name, family="gan", summary=summary, factory=lazy(f"{_T}.samplers:{cls}")))


# ------------------------------------------------------------------------------------------------ CLI
def _configure_train(p: argparse.ArgumentParser) -> None:
    from .config import GAN_LOOP, GANTaskConfig

    add_train_arguments(p, **GAN_LOOP)
    add_config_arguments(p, GANTaskConfig, title="gan")


def _run_train(args: argparse.Namespace) -> int:
    from .config import GANTaskConfig
    from .training import train_gan

    _, summary = train_gan(train_config_from_args(args), config_from_args(GANTaskConfig, args))
    _print(summary)
    return 0


def _configure_weights(p: argparse.ArgumentParser) -> None:
    from .config import WEIGHTS_LOOP, LatentWeightsTaskConfig

    add_train_arguments(p, **WEIGHTS_LOOP)
    add_config_arguments(p, LatentWeightsTaskConfig, title="gan-weights")


def _run_weights(args: argparse.Namespace) -> int:
    from .config import LatentWeightsTaskConfig
    from .training import train_latent_weights

    _, summary = train_latent_weights(train_config_from_args(args), config_from_args(LatentWeightsTaskConfig, args))
    _print(summary)
    return 0


def _print(summary: dict[str, Any]) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo-gan", help="report folder (default runs/demo-gan)")
    p.add_argument("--quick", action="store_true", help="a smoke run in well under a minute (few steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-digits", dest="digits", action="store_false", help="skip the digits loss table")
    p.set_defaults(digits=True)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    path = run_demo(args.out, quick=args.quick, seed=args.seed, digits=args.digits)
    print(f"report: {path}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("train gan", help="train a GAN (MLP or DCGAN-style) with a loss from the core registry (000 ch. 3, 004)",
                    configure=_configure_train, run=_run_train)
    app.add_command("train gan-weights", help="train latent importance weights w(z) for a frozen generator (002 Alg. 1)",
                    configure=_configure_weights, run=_run_weights)
    app.add_command("demo gan", help="toy GAN reproductions (JBT, latentRS, simplicial, losses) -> runs/demo-gan/report.html",
                    configure=_configure_demo, run=_run_demo)


__all__ = ["register_tasks", "register_datasets", "register_samplers", "register_cli"]
