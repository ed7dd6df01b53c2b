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
def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _configure_train(p: argparse.ArgumentParser) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=20000, batch_size=32, lr=2e-4, log_every=100, ckpt_every=2000)
    p.add_argument("--data", required=True, help="grid:M=9,D=9,std=0.5 | gaussians9 | gaussians25 | swissroll | "
                   "onehot:M=10,d=10 | digits | points.npy/.csv | an image folder")
    p.add_argument("--loss", default="wgan-gp", choices=("nonsaturating", "hinge", "wgan", "wgan-gp", "san"))
    p.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--hidden", type=_ints, default=(20, 20), help="MLP widths (default 20,20: 000 Table A.2)")
    p.add_argument("--disc-hidden", type=_ints, default=(), help="discriminator MLP widths (default: --hidden)")
    p.add_argument("--activation", default="relu", choices=("relu", "lrelu"))
    p.add_argument("--base", type=int, default=16, help="conv width unit")
    p.add_argument("--lr-d", type=float, default=None, help="discriminator lr (default: --lr)")
    p.add_argument("--n-critic", type=int, default=1, help="discriminator steps per generator step")
    p.add_argument("--gp-weight", type=float, default=None, help="gradient penalty (default 10 for wgan-gp, else 0)")
    p.add_argument("--image-size", type=int, default=None, help="image folders: side in pixels (default 32)")
    p.add_argument("--channels", type=int, default=None, help="image folders: 1 or 3 (default 3)")
    p.add_argument("--prior", default="gaussian", choices=("gaussian", "simplicial"))
    p.add_argument("--clusters", type=int, default=0, help="simplicial prior: number of cells N")


def _run_train(args: argparse.Namespace) -> int:
    from .training import train_gan

    _, summary = train_gan(
        args.data, args.out, loss=args.loss, steps=args.steps, batch_size=args.batch_size, latent_dim=args.latent_dim,
        arch=args.arch, hidden=args.hidden, disc_hidden=args.disc_hidden, activation=args.activation, base=args.base,
        lr=args.lr or 2e-4, lr_d=args.lr_d, n_critic=args.n_critic, gp_weight=args.gp_weight, seed=args.seed,
        device=args.device or "cpu", resume=args.resume, log_every=args.log_every, ckpt_every=args.ckpt_every,
        progress=args.progress, image_size=args.image_size, channels=args.channels, prior=args.prior,
        clusters=args.clusters)
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


def _configure_weights(p: argparse.ArgumentParser) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=3000, batch_size=256, lr=1e-4, log_every=100, ckpt_every=1000)
    p.add_argument("--generator", required=True, help="run folder of `tryon train gan` (the frozen generator)")
    p.add_argument("--data", default=None, help="data spec (default: the one the generator was trained on)")
    p.add_argument("--lambda1", type=float, default=10.0, help="self-normalisation weight (000 App. C.5: 10)")
    p.add_argument("--lambda2", type=float, default=3.0, help="soft-clipping weight (3)")
    p.add_argument("--m", type=float, default=3.0, help="soft-clipping level; latentRS accepts ~1/m (3)")
    p.add_argument("--lr-d", type=float, default=4e-4, help="critic lr (4e-4)")
    p.add_argument("--n-critic", type=int, default=1, help="critic steps per w step (1:1 on MNIST)")


def _run_weights(args: argparse.Namespace) -> int:
    import tryon

    from .training import train_latent_weights

    data = args.data
    if data is None:
        manifest = tryon.Pipeline.read_config(args.generator)
        data = manifest.get("training", {}).get("data")
        if not data:
            raise tryon.InputError("--data", "a data spec (the generator run records none)", "nothing")
    _, summary = train_latent_weights(
        args.generator, data, args.out, steps=args.steps, batch_size=args.batch_size, lambda1=args.lambda1,
        lambda2=args.lambda2, m=args.m, lr_d=args.lr_d, lr_w=args.lr or 1e-4, n_critic=args.n_critic, seed=args.seed,
        device=args.device or "cpu", resume=args.resume, log_every=args.log_every, ckpt_every=args.ckpt_every,
        progress=args.progress)
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


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
