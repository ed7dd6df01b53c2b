"""CLI verbs of the WUTON plugin (wired into the hooks by ``tryon_wuton/plugin.py``).

``register_cli(app)`` adds ``tryon train wuton-parser``, ``tryon train wuton-teacher`` and
``tryon train wuton-student``. Their loop options (``--out``, ``--steps``, ``--batch-size``, ``--lr``,
``--seed``, ``--device``, ``--amp``, ``--grad-clip``, ``--resume`` …) are the core's
(:func:`tryon.train.add_train_arguments`); the WUTON-specific ones (``--data``, ``--size``, …) are added here.
The task specs are in :mod:`tryon_wuton.tasks`.

Import-light on purpose: no torch, no model code at import time (``configure`` functions only add argparse
options; ``run`` functions import :mod:`tryon_wuton.training` when called).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon.cli import parse_size as _core_parse_size


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` (H x W) → ``(256, 192)``; the models need H, W >= 32 (five stride-2 scales)."""
    return _core_parse_size(text, minimum=32)


def _common(p: argparse.ArgumentParser, steps: int, lr: float | None) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=steps, batch_size=8, lr=lr, log_every=10, ckpt_every=200)
    p.add_argument("--data", required=True, help="dataset folder (any layout tryon_wuton.data reads, or synthetic)")
    p.add_argument("--size", type=parse_size, default=(256, 192), help="model resolution HxW (default 256x192)")


def _loop_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of the ``train_*`` functions that come from :func:`add_train_arguments`."""
    return {
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "device": args.device,
        "resume": args.resume, "log_every": args.log_every, "ckpt_every": args.ckpt_every, "num_workers": args.workers,
        "amp": args.amp, "amp_dtype": args.amp_dtype, "grad_clip": args.grad_clip, "progress": args.progress,
        **{k: getattr(args, k) for k in ("precision", "channels_last", "cache_data") if getattr(args, k, None) is not None},
    }


def _configure_parser(p: argparse.ArgumentParser) -> None:
    _common(p, 2000, lr=1e-3)
    p.add_argument("--encoder", default="resnet18", help="smp encoder name (default resnet18)")
    p.add_argument("--encoder-weights", default=None,
                   help="local file with ImageNet encoder weights (never downloaded)")


def _run_parser(args: argparse.Namespace) -> int:
    from .training.parser import train_parser

    summary = train_parser(args.data, args.out, size=args.size, encoder=args.encoder,
                           encoder_weights=args.encoder_weights, **_loop_options(args))
    _print_summary(summary)
    return 0


def _gp_kind_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gp-kind", choices=("r1", "wgan-gp"), default="r1",
                   help="gradient penalty: zero-centred R1 on real images (default) or one-centred WGAN-GP")


def _configure_teacher(p: argparse.ArgumentParser) -> None:
    # lr None: the teacher's default 1e-3 (000 App. E prints '10e-3', read as 1e-3; see training/teacher.py)
    _common(p, 20000, lr=None)
    p.add_argument("--parser", default=None, help="run folder of `tryon train wuton-parser` (used at inference, and "
                   "for the perceptual-loss fallback features when --vgg-weights is absent)")
    p.add_argument("--vgg-weights", default=None, help="local torchvision VGG19 weights for the perceptual loss")
    p.add_argument("--adv", choices=("none", "paired", "unpaired"), default="unpaired",
                   help="adversarial loss on the unpaired output (default, 000 §4.3.3.2), the paired one, or none")
    p.add_argument("--no-end-to-end", dest="end_to_end", action="store_false",
                   help="ablation: image losses do not reach the geometric matcher (trained by L_warp only)")
    p.add_argument("--gp-weight", type=float, default=10.0, help="gradient-penalty weight (default 10)")
    _gp_kind_option(p)
    p.add_argument("--pairs-per-person", type=int, default=4, help="unpaired garments drawn per person (default 4)")
    p.set_defaults(end_to_end=True)


def _run_teacher(args: argparse.Namespace) -> int:
    from .training.teacher import train_teacher

    summary = train_teacher(
        args.data, args.out, parser_run=args.parser, size=args.size, vgg_weights=args.vgg_weights, adv=args.adv,
        end_to_end=args.end_to_end, gp_weight=args.gp_weight, gp_kind=args.gp_kind,
        pairs_per_person=args.pairs_per_person,
        **_loop_options(args),
    )
    _print_summary(summary)
    return 0


def _configure_student(p: argparse.ArgumentParser) -> None:
    _common(p, 30000, lr=None)
    p.add_argument("--teacher", required=True, help="run folder of `tryon train wuton-teacher`")
    p.add_argument("--lambda-adv", type=float, default=1.0,
                   help="weight of the adversarial loss (0 = ablation, 000 Table 4.5)")
    p.add_argument("--cache-teacher", default=None, help="folder caching the teacher targets (resumable)")
    p.add_argument("--vgg-weights", default=None, help="local torchvision VGG19 weights for the perceptual loss")
    p.add_argument("--no-init-from-teacher", dest="init_from_teacher", action="store_false",
                   help="start the student from random weights instead of the teacher's generator")
    p.add_argument("--gp-weight", type=float, default=10.0, help="gradient-penalty weight (default 10)")
    _gp_kind_option(p)
    p.add_argument("--pairs-per-person", type=int, default=4, help="garments drawn per person (default 4)")
    p.set_defaults(init_from_teacher=True, size=None)  # --size defaults to the teacher's resolution


def _run_student(args: argparse.Namespace) -> int:
    from .training.student import distill_student

    summary = distill_student(
        args.teacher, args.data, args.out, size=args.size, lambda_adv=args.lambda_adv, cache_teacher=args.cache_teacher,
        vgg_weights=args.vgg_weights, init_from_teacher=args.init_from_teacher, gp_weight=args.gp_weight,
        gp_kind=args.gp_kind, pairs_per_person=args.pairs_per_person, **_loop_options(args),
    )
    _print_summary(summary)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def register_cli(app: Any) -> None:
    app.add_command("train wuton-parser", help="train the WUTON human parser (smp U-Net) on parse maps",
                    configure=_configure_parser, run=_run_parser)
    app.add_command("train wuton-teacher",
                    help="train T-WUTON (000 §4.3.3.2): matcher + warping U-Net on agnostic persons",
                    configure=_configure_teacher, run=_run_teacher)
    app.add_command("train wuton-student", help="distil the parser-free S-WUTON from a T-WUTON run (000 §4.3.3.3)",
                    configure=_configure_student, run=_run_student)


__all__ = ["parse_size", "register_cli"]
