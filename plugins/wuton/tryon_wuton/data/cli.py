"""``tryon data synth`` and ``tryon data check``.

``configure`` functions import nothing heavy (``tryon --help`` stays fast); numbers are parsed in
``run`` so that bad values raise :class:`tryon.errors.InputError` (one-line CLI errors).
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


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


def configure_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", required=True, metavar="N", help="number of samples (train + test)")
    p.add_argument("--size", default="256x192", metavar="HxW", help="image size (default 256x192)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--seed", default="0", metavar="S", help="random seed; sample i depends only on (seed, i)")
    p.add_argument("--test-fraction", default="0.1", metavar="F", help="share of test samples (default 0.1)")
    p.add_argument("--arms-crossed", default="0.2", metavar="F", help="share of people with a forearm across the torso (default 0.2)")
    p.add_argument("--accessories", default="0.3", metavar="F", help="share of people with a bag and/or bracelet (default 0.3)")
    p.add_argument("--workers", default="1", metavar="N", help="processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder (atomically)")
    p.add_argument("--sheet", metavar="PNG", help="also write a contact sheet of the first test samples")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_synth(args: argparse.Namespace) -> int:
    from .synth import contact_sheet, generate, parse_size

    meta = generate(
        args.out,
        n=_num(args, "n", int),
        size=parse_size(args.size),
        seed=_num(args, "seed", int),
        test_fraction=_num(args, "test-fraction", float),
        arms_crossed=_num(args, "arms-crossed", float),
        accessories=_num(args, "accessories", float),
        workers=_num(args, "workers", int),
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    c = meta["counts"]
    print(
        f"wrote {meta['n']} samples ({c['train']} train, {c['test']} test) at {meta['size'][0]}x{meta['size'][1]} "
        f"to {args.out} in {meta['seconds']:.1f} s ({meta['samples_per_second']:.1f} samples/s, {meta['workers']} worker(s))"
    )
    if args.sheet:
        split = "test" if c["test"] else "train"
        print(f"contact sheet: {contact_sheet(args.out, args.sheet, split=split)}")
    return 0


def configure_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR", help="dataset folder")
    p.add_argument("--layout", default="auto", help="auto | viton-hd | viton | dresscode | pfafn")
    p.add_argument("--split", choices=("train", "test"), help="only this split")
    p.add_argument("--category", choices=("upper_body", "lower_body", "dresses"),
                   help="DressCode: only this category (default: every category folder present)")  # fmt: skip
    p.add_argument("--deep", default="3", metavar="N", help="decode-check this many items per split (default 3)")
    p.add_argument("--all", action="store_true", help="decode-check every item")
    p.add_argument("--no-strict-palette", action="store_true", help="accept parse PNGs with an unknown palette")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run_check(args: argparse.Namespace) -> int:
    from .layouts import check_dataset

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


def register(app: Any) -> None:
    app.add_command("data synth", help="write a synthetic try-on dataset (VITON-HD layout, unpaired ground truth)",
                    configure=configure_synth, run=run_synth)  # fmt: skip
    app.add_command("data check", help="validate a try-on dataset folder (VITON-HD, VITON, DressCode, PF-AFN)",
                    configure=configure_check, run=run_check)  # fmt: skip
