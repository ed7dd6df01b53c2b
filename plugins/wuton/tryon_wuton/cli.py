"""Every CLI verb of the WUTON plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train wuton-parser``, ``tryon train wuton-teacher``, ``tryon train wuton-student``: each verb's options
  are generated from its two settings dataclasses — the loop's (:class:`tryon.train.TrainConfig`: ``--out``,
  ``--steps``, ``--precision``, ``--minutes``, ``--resume`` …, with the verb's defaults) and the task's
  (:mod:`tryon_wuton.training.config`: ``--data``, ``--size``, …); the training entry point receives both;
* ``tryon data synth`` and ``tryon data check``: write a synthetic try-on dataset, validate a dataset folder (numbers
  are parsed in ``run`` so that bad values raise :class:`tryon.errors.InputError`: one-line CLI errors);
* ``tryon demo wuton``: the whole try-on job end to end (:mod:`tryon_wuton.experiments.demo`), a study
  (:mod:`tryon.study`: ``--out``, ``--budget``, ``--render-only``).
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from tryon.study import study_verb
from tryon.trainconfig import train_verb

from .training.config import (
    PARSER_LOOP,
    STUDENT_LOOP,
    TEACHER_LOOP,
    ParserTaskConfig,
    StudentTaskConfig,
    TeacherTaskConfig,
    parse_size,
)

# ------------------------------------------------------------------------------------------------ train
#: verb -> (help, task config, the verb's loop defaults, "module:function" of the training entry point)
TRAIN_VERBS: dict[str, tuple[str, Any, dict[str, Any], str]] = {
    "train wuton-parser": ("train the WUTON human parser (smp U-Net) on parse maps", ParserTaskConfig, PARSER_LOOP,
                           "parser:train_parser"),
    "train wuton-teacher": ("train T-WUTON (000 §4.3.3.2): matcher + warping U-Net on agnostic persons",
                            TeacherTaskConfig, TEACHER_LOOP, "teacher:train_teacher"),
    "train wuton-student": ("distil the parser-free S-WUTON from a T-WUTON run (000 §4.3.3.3)", StudentTaskConfig,
                            STUDENT_LOOP, "student:distill_student"),
}



# ------------------------------------------------------------------------------------------------ data
def _num(args: argparse.Namespace, name: str, kind: type) -> Any:
    from tryon.errors import InputError

    raw = getattr(args, name.replace("-", "_"))
    try:
        v = kind(raw)
    except (TypeError, ValueError):
        raise InputError(f"--{name}", f"a{'n integer' if kind is int else ' number'}", repr(raw)) from None
    if kind is float and not math.isfinite(v):
        raise InputError(f"--{name}", "a finite number", repr(raw))
    return v


def _configure_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", required=True, metavar="N", help="number of samples (train + test)")
    p.add_argument("--size", default="256x192", metavar="HxW", help="image size (default 256x192)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--seed", default="0", metavar="S", help="random seed; sample i depends only on (seed, i)")
    p.add_argument("--test-fraction", default="0.1", metavar="F", help="share of test samples (default 0.1)")
    p.add_argument("--arms-crossed", default="0.2", metavar="F", help="share of people with a forearm across the torso (default 0.2)")
    p.add_argument("--accessories", default="0.3", metavar="F", help="share of people with a bag and/or bracelet (default 0.3)")
    p.add_argument("--workers", default="1", metavar="N", help="processes (default 1)")
    p.add_argument("--categories", default="upper", metavar="LIST",
                   help="garment categories drawn, a comma-separated subset of upper,lower,dress (default upper)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder (atomically)")
    p.add_argument("--sheet", metavar="PNG", help="also write a contact sheet of the first test samples")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_synth(args: argparse.Namespace) -> int:
    from .data.synth import contact_sheet, generate
    from .data.synth import parse_size as synth_size

    meta = generate(
        args.out,
        n=_num(args, "n", int),
        size=synth_size(args.size),
        seed=_num(args, "seed", int),
        test_fraction=_num(args, "test-fraction", float),
        arms_crossed=_num(args, "arms-crossed", float),
        accessories=_num(args, "accessories", float),
        workers=_num(args, "workers", int),
        overwrite=args.overwrite,
        progress=not args.no_progress,
        categories=args.categories,
    )
    c = meta["counts"]
    print(
        f"wrote {meta['n']} samples ({c['train']} train, {c['test']} test) at {meta['size'][0]}x{meta['size'][1]} "
        f"to {args.out} in {meta['seconds']:.1f} s ({meta['samples_per_second']:.1f} samples/s, {meta['workers']} worker(s))"
    )
    if len(meta["categories"]) > 1:
        print("categories: " + ", ".join(f"{k} {v}" for k, v in meta["categories"].items()))
    if args.sheet:
        split = "test" if c["test"] else "train"
        print(f"contact sheet: {contact_sheet(args.out, args.sheet, split=split)}")
    return 0


def _configure_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR", help="dataset folder")
    p.add_argument("--layout", default="auto", help="auto | viton-hd | viton | dresscode | pfafn")
    p.add_argument("--split", choices=("train", "test"), help="only this split")
    p.add_argument("--category", choices=("upper_body", "lower_body", "dresses"),
                   help="DressCode: only this category (default: every category folder present)")  # fmt: skip
    p.add_argument("--deep", default="3", metavar="N", help="decode-check this many items per split (default 3)")
    p.add_argument("--all", action="store_true", help="decode-check every item")
    p.add_argument("--no-strict-palette", action="store_true", help="accept parse PNGs with an unknown palette")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _run_check(args: argparse.Namespace) -> int:
    from .data.layouts import check_dataset

    summary = check_dataset(
        args.root,
        layout=args.layout,
        splits=(args.split,) if args.split else None,
        deep=None if args.all else _num(args, "deep", int),
        category=args.category,
        strict_palette=not args.no_strict_palette,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    cats = f", categories {', '.join(summary['categories'])}" if summary.get("categories") else ""
    print(f"{summary['root']}: layout {summary['layout']}{cats} (labels {summary['label_set']} → VITON-HD v3) — OK")
    for split, info in summary["splits"].items():
        top = sorted(info["labels"].items(), key=lambda kv: -kv[1])[:6]
        print(
            f"  {split}: {info['paired']} paired, {info['unpaired']} unpaired pairs, {info['garments']} garments; "
            f"checked {info['checked']} items, sizes {', '.join(info['sizes']) or '-'}, keypoints {info['keypoints']}"
            + (f", extras {', '.join(info['extras'])}" if info["extras"] else "")
        )
        if top:
            print("    labels: " + ", ".join(f"{k} {v:.1%}" for k, v in top))
        if info.get("resized"):
            print("    resized to the image size: " + "; ".join(info["resized"]))
    return 0


# ------------------------------------------------------------------------------------------------ data wuton-clip
def _configure_clip(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--frames", default="48", metavar="N", help="number of frames (default 48)")
    p.add_argument("--size", default="256x192", metavar="HxW", help="frame size (default 256x192)")
    p.add_argument("--seed", default="0", metavar="S", help="random seed of the synthetic person and garments")
    p.add_argument("--index", default="0", metavar="I", help="the person: sample I of the seed (default 0)")
    p.add_argument("--garment-index", default=None, metavar="J", help="the garment tried on: sample J (default I+1)")
    p.add_argument("--fps", default="25", metavar="F", help="frame rate of clip.mp4 (default 25)")
    p.add_argument("--period", default="48", metavar="FRAMES", help="frames per motion cycle (default 48)")
    p.add_argument("--sway", default="12", metavar="PX", help="sideways translation amplitude, pixels (default 12)")
    p.add_argument("--bob", default="2", metavar="PX", help="vertical translation amplitude, pixels (default 2)")
    p.add_argument("--rotation", default="3", metavar="DEG", help="in-plane rotation amplitude, degrees (default 3)")
    p.add_argument("--arms", default="12", metavar="DEG", help="arm swing amplitude, degrees (default 12)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder (atomically)")


def _run_clip(args: argparse.Namespace) -> int:
    from .data.clips import ClipConfig, write_clip
    from .data.synth import parse_size as synth_size

    cfg = ClipConfig(frames=_num(args, "frames", int), size=synth_size(args.size), seed=_num(args, "seed", int),
                     index=_num(args, "index", int),
                     garment_index=None if args.garment_index is None else _num(args, "garment-index", int),
                     fps=_num(args, "fps", float), period=_num(args, "period", float), sway=_num(args, "sway", float),
                     bob=_num(args, "bob", float), rotation=_num(args, "rotation", float), arms=_num(args, "arms", float))
    rec = write_clip(args.out, cfg, overwrite=args.overwrite)
    print(f"wrote a {rec['frames']}-frame clip at {rec['size'][0]}x{rec['size'][1]} to {args.out} in {rec['seconds']:.1f} s "
          f"(frames/, gt/, parse/, garment.png, clip.mp4, clip.json)")
    return 0


def register_cli(app: Any) -> None:
    for name, (text, task_cls, loop_defaults, target) in TRAIN_VERBS.items():
        module, fn = target.split(":")
        configure, run = train_verb(task_cls, loop_defaults, f"{__package__}.training.{module}:{fn}")
        app.add_command(name, help=text, configure=configure, run=run)
    app.add_command("data synth", help="write a synthetic try-on dataset (VITON-HD layout, unpaired ground truth)",
                    configure=_configure_synth, run=_run_synth)
    app.add_command("data check", help="validate a try-on dataset folder (VITON-HD, VITON, DressCode, PF-AFN)",
                    configure=_configure_check, run=_run_check)
    app.add_command("data wuton-clip", help="write a synthetic try-on clip: a moving person, the garment, ground truth",
                    configure=_configure_clip, run=_run_clip)
    app.add_command("demo wuton", help="run the try-on job end to end on synthetic data and write a report",
                    **study_verb(f"{__package__}.experiments.demo", default_out="runs/demo"))


__all__ = ["TRAIN_VERBS", "parse_size", "register_cli"]
