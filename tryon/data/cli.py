"""Core ``tryon data`` verbs: data sets every plugin can read (a plugin's own layouts register their own verbs)."""

from __future__ import annotations

import argparse
from typing import Any


def _configure_crops(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder to write (train/, test/, photo_crops.json); replaced if it exists")
    p.add_argument("--size", type=int, default=32, help="crop side in pixels (default 32)")
    p.add_argument("--train", type=int, default=4000, help="training crops (default 4000)")
    p.add_argument("--test", type=int, default=200, help="held-out crops, from other photos (default 200)")
    p.add_argument("--seed", type=int, default=0)


def _run_crops(args: argparse.Namespace) -> int:
    from .photos import write_photo_crops

    m = write_photo_crops(args.out, size=args.size, train=args.train, test=args.test, seed=args.seed)
    n = {k: sum(v.values()) for k, v in m["counts"].items()}
    print(f"wrote {n['train']} training and {n['test']} held-out {args.size}x{args.size} crops of real photos to {args.out} "
          f"(test photos: {', '.join(m['counts']['test'])})")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("data photo-crops", help="write small crops of the photos scikit-image ships (train/test split by photo)",
                    configure=_configure_crops, run=_run_crops)


__all__ = ["register_cli"]
