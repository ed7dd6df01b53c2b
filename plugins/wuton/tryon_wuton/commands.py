"""CLI verbs and task specs of the WUTON plugin (wired into the hooks by ``tryon_wuton/plugin.py``).

* ``register_cli(app)`` adds ``tryon train parser``, ``tryon train wuton-teacher`` and
  ``tryon distill wuton-student``.
* ``register_tasks(registry)`` registers ``wuton-parser``, ``wuton-teacher`` and ``wuton-student``.

Import-light on purpose: no torch, no model code at import time (``configure`` functions only add argparse
options; ``run`` functions and the task factories import the heavy modules when called).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon import ExportSpec, TaskSpec, lazy
from tryon.cli import parse_size as _core_parse_size

_P = "tryon_wuton.pipelines"


# ------------------------------------------------------------------------------------------------
# tasks
# ------------------------------------------------------------------------------------------------
# Every WUTON network is exported with the same input convention (000 App. E: RGB in [-1, 1], NCHW).
_IMAGE_NORM = {"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0]}


def _export(name: str, build: str, example_inputs: str, outputs: tuple[str, ...], min_opset: int) -> ExportSpec:
    return ExportSpec(name, build=lazy(f"{_P}:{build}"), example_inputs=lazy(f"{_P}:{example_inputs}"),
                      outputs=outputs, min_opset=min_opset, normalisation=_IMAGE_NORM)


def _generator_export(name: str) -> ExportSpec:
    """The whole generator (matcher, TPS grids, every ``grid_sample``, U-Net) in one graph; opset 16 for
    ``GridSample``."""
    return _export(name, "build_generator_export", "example_inputs", ("image", "warped_garment"), 16)


def build_task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="wuton-parser",
            summary="human parser (smp U-Net): person -> canonical VITON-HD v3 parse map",
            factory=lazy(f"{_P}:WutonParserPipeline"),
            inputs=("person",),
            outputs=("parse",),
            exportable=(_export("parser", "build_parser_export", "parser_example_inputs", ("logits",), 11),),
            tags=("try-on", "segmentation"),
            example_inputs=lazy(f"{_P}:parser_bench_inputs"),
        ),
        TaskSpec(
            name="wuton-teacher",
            summary="T-WUTON virtual try-on: parser -> agnostic person -> TPS matcher -> warping U-Net (000 §4.3.3)",
            factory=lazy(f"{_P}:WutonTeacherPipeline"),
            inputs=("person", "garment"),
            outputs=("image",),
            exportable=(_generator_export("teacher-generator"),),
            tags=("try-on", "teacher"),
            example_inputs=lazy(f"{_P}:bench_inputs"),
        ),
        TaskSpec(
            name="wuton-student",
            summary="S-WUTON parser-free virtual try-on (person, garment) -> image (000 §4.3.3.3)",
            factory=lazy(f"{_P}:WutonStudentPipeline"),
            inputs=("person", "garment"),
            outputs=("image",),
            exportable=(_generator_export("student"),),
            tags=("try-on", "student", "real-time"),
            example_inputs=lazy(f"{_P}:bench_inputs"),
        ),
    ]


def register_tasks(registry: Any) -> None:
    for spec in build_task_specs():
        registry.register(spec)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` (H x W) → ``(256, 192)``; the models need H, W >= 32 (five stride-2 scales)."""
    return _core_parse_size(text, minimum=32)




def _common(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--data", required=True, help="dataset folder (any layout tryon_wuton.data reads, or synthetic)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs and the final pipeline weights")
    p.add_argument("--steps", type=int, default=steps, help=f"training steps (default {steps})")
    p.add_argument("--size", type=parse_size, default=(256, 192), help="model resolution HxW (default 256x192)")
    p.add_argument("--batch-size", type=int, default=8, help="batch size (default 8, 000 App. E)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3; 000 App. E prints '10e-3', read as 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--workers", type=int, default=0, help="data-loader workers")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start from scratch even if checkpoints exist")
    p.add_argument("--resume", dest="resume", action="store_true", help="resume from the last checkpoint (default)")
    p.set_defaults(resume=True)


def _configure_parser(p: argparse.ArgumentParser) -> None:
    _common(p, 2000)
    p.add_argument("--encoder", default="resnet18", help="smp encoder name (default resnet18)")
    p.add_argument("--encoder-weights", default=None, help="local file with ImageNet encoder weights (never downloaded)")


def _run_parser(args: argparse.Namespace) -> int:
    from .parser import train_parser

    summary = train_parser(
        args.data, args.out, steps=args.steps, size=args.size, batch_size=args.batch_size,
        lr=args.lr if args.lr is not None else 1e-3, encoder=args.encoder, encoder_weights=args.encoder_weights,
        seed=args.seed, device=args.device, resume=args.resume, log_every=args.log_every, ckpt_every=args.ckpt_every,
        num_workers=args.workers,
    )
    _print_summary(summary)
    return 0


def _configure_teacher(p: argparse.ArgumentParser) -> None:
    _common(p, 20000)
    p.add_argument("--parser", default=None, help="run folder of `tryon train parser` (used at inference, and for "
                   "the perceptual-loss fallback features when --vgg-weights is absent)")
    p.add_argument("--vgg-weights", default=None, help="local torchvision VGG19 weights for the perceptual loss")
    p.add_argument("--adv", choices=("none", "paired", "unpaired"), default="unpaired",
                   help="adversarial loss on the unpaired output (default, 000 §4.3.3.2), the paired one, or none")
    p.add_argument("--no-end-to-end", dest="end_to_end", action="store_false",
                   help="ablation: image losses do not reach the geometric matcher (trained by L_warp only)")
    p.add_argument("--gp-weight", type=float, default=10.0, help="gradient-penalty weight (default 10)")
    p.add_argument("--pairs-per-person", type=int, default=4, help="unpaired garments drawn per person (default 4)")
    p.set_defaults(end_to_end=True)


def _run_teacher(args: argparse.Namespace) -> int:
    from .teacher import train_teacher

    summary = train_teacher(
        args.data, args.out, parser_run=args.parser, steps=args.steps, size=args.size, batch_size=args.batch_size,
        lr=args.lr, vgg_weights=args.vgg_weights, adv=args.adv, end_to_end=args.end_to_end, gp_weight=args.gp_weight,
        pairs_per_person=args.pairs_per_person, seed=args.seed, device=args.device, resume=args.resume,
        log_every=args.log_every, ckpt_every=args.ckpt_every, num_workers=args.workers,
    )
    _print_summary(summary)
    return 0


def _configure_student(p: argparse.ArgumentParser) -> None:
    _common(p, 30000)
    p.add_argument("--teacher", required=True, help="run folder of `tryon train wuton-teacher`")
    p.add_argument("--lambda-adv", type=float, default=1.0, help="weight of the adversarial loss (0 = ablation, 000 Table 4.5)")
    p.add_argument("--cache-teacher", default=None, help="folder caching the teacher targets (resumable)")
    p.add_argument("--vgg-weights", default=None, help="local torchvision VGG19 weights for the perceptual loss")
    p.add_argument("--no-init-from-teacher", dest="init_from_teacher", action="store_false",
                   help="start the student from random weights instead of the teacher's generator")
    p.add_argument("--gp-weight", type=float, default=10.0, help="gradient-penalty weight (default 10)")
    p.add_argument("--pairs-per-person", type=int, default=4, help="garments drawn per person (default 4)")
    p.set_defaults(init_from_teacher=True, size=None)  # --size defaults to the teacher's resolution


def _run_student(args: argparse.Namespace) -> int:
    from .student import distill_student

    summary = distill_student(
        args.teacher, args.data, args.out, steps=args.steps, size=args.size, batch_size=args.batch_size, lr=args.lr,
        lambda_adv=args.lambda_adv, cache_teacher=args.cache_teacher, vgg_weights=args.vgg_weights,
        init_from_teacher=args.init_from_teacher, gp_weight=args.gp_weight, pairs_per_person=args.pairs_per_person,
        seed=args.seed, device=args.device, resume=args.resume, log_every=args.log_every, ckpt_every=args.ckpt_every,
        num_workers=args.workers,
    )
    _print_summary(summary)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def register_cli(app: Any) -> None:
    app.add_command("train parser", help="train the WUTON human parser (smp U-Net) on parse maps",
                    configure=_configure_parser, run=_run_parser)
    app.add_command("train wuton-teacher", help="train T-WUTON (000 §4.3.3.2): matcher + warping U-Net on agnostic persons",
                    configure=_configure_teacher, run=_run_teacher)
    app.add_command("distill wuton-student", help="distil the parser-free S-WUTON from a T-WUTON run (000 §4.3.3.3)",
                    configure=_configure_student, run=_run_student)


__all__ = ["register_cli", "register_tasks", "build_task_specs", "parse_size"]
