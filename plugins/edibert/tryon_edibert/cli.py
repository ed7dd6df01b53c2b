"""Every CLI verb of the EdiBERT plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train edibert-vqgan`` — the VQGAN tokenizer (000 §4.2.2.1) on an image folder;
* ``tryon train edibert-inpaint --vqgan RUN`` — the EdiBERT token model (000 eq. 4.2.6) on a trained VQGAN's tokens;
  the run is saved as task ``edibert-inpaint`` and serves every EdiBERT editing task (one weights family);
* ``tryon data edibert-scenes`` — procedural scenes (tests and demo data);
* ``tryon eval edibert`` — the inpainting ablation (000 Table 4.2) and the batched-sampler timing of a run;
* ``tryon demo edibert`` — a tiny end-to-end run and its report.

A train verb's options are generated from its two settings dataclasses (:mod:`.training.config`); its entry point
takes both. The former verb names ``train vqgan`` and ``train edibert`` still work for one release (deprecated
aliases).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon.cli import parse_size
from tryon.trainconfig import add_config_arguments, add_train_arguments, config_from_args, train_config_from_args

from .training.config import EDIBERT_LOOP, VQGAN_LOOP, EdiBERTTaskConfig, VQGANTaskConfig


def _print(summary: Any) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _size(text: str) -> tuple[int, int]:
    return parse_size(text, minimum=4)


# ------------------------------------------------------------------------------------------------ train
def _configure_vqgan(p: argparse.ArgumentParser) -> None:
    add_train_arguments(p, **VQGAN_LOOP)
    add_config_arguments(p, VQGANTaskConfig, title="edibert-vqgan")


def _run_vqgan(args: argparse.Namespace) -> int:
    from .training.vqgan import train_vqgan

    _print(train_vqgan(train_config_from_args(args), config_from_args(VQGANTaskConfig, args)).summary)
    return 0


def _configure_edibert(p: argparse.ArgumentParser) -> None:
    add_train_arguments(p, **EDIBERT_LOOP)
    add_config_arguments(p, EdiBERTTaskConfig, title="edibert-inpaint")


def _run_edibert(args: argparse.Namespace) -> int:
    from .training.inpaint import train_edibert

    _print(train_edibert(train_config_from_args(args), config_from_args(EdiBERTTaskConfig, args)).summary)
    return 0


# ------------------------------------------------------------------------------------------------ data
def _configure_scenes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--size", type=_size, default=(32, 32))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)


def _run_scenes(args: argparse.Namespace) -> int:
    from .data import write_scenes

    out = write_scenes(args.out, args.n, args.size, args.seed)
    print(f"wrote {args.n} scenes {args.size[0]}x{args.size[1]} to {out}")
    return 0


# ------------------------------------------------------------------------------------------------ eval
def _configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="EdiBERT run folder (`tryon train edibert-inpaint`, or DIR/edibert "
                   "of `tryon demo edibert --out DIR`)")
    p.add_argument("--data", required=True, help="image folder of held-out images")
    p.add_argument("--n", type=int, default=64, help="images to edit (default 64)")
    p.add_argument("--size", default=None, help="HxW (default: the training size recorded with the weights)")
    p.add_argument("--masks", choices=("free-form", "rect"), default="free-form")
    p.add_argument("--optim-steps", type=int, default=200, help="final latent optimisation steps (000 eq. 4.2.7)")
    p.add_argument("--proxy-steps", type=int, default=150, help="training steps of the proxy feature net")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", required=True, help="folder for results.json and report.html")
    p.add_argument("--device", default="cpu")


def _run_eval(args: argparse.Namespace) -> int:
    from .experiments.evaluate import run_cli

    return run_cli(args)


# ------------------------------------------------------------------------------------------------ demo
def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo-edibert")
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: these models are tiny, and more threads than free "
                        "cores slow OpenMP down many-fold when other jobs share the machine)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def _run_demo(args: argparse.Namespace) -> int:
    import torch

    from .experiments.demo import QUICK, run_study

    torch.set_num_threads(max(1, int(args.threads)))
    res = run_study(args.out, QUICK if args.quick else {}, progress=args.progress)
    v = res["timing_target"]
    print(f"batched-sampler target {'met' if v['met'] else 'missed'}: {v['sampler']} {v['speed_up']}x faster, "
          f"masked L1 {v['l1_vs_one_token']}x the one-token sampler's")
    print(f"wrote {res['report']} ({res['total_s']:.0f} s)")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("train edibert-vqgan", help="train the VQGAN tokenizer (000 §4.2.2.1) on an image folder",
                    configure=_configure_vqgan, run=_run_vqgan, aliases=("train vqgan",))
    app.add_command("train edibert-inpaint", help="train EdiBERT (000 eq. 4.2.6) on the tokens of a trained VQGAN; the "
                    "run serves every edibert editing task", configure=_configure_edibert, run=_run_edibert,
                    aliases=("train edibert",))
    app.add_command("data edibert-scenes", help="write procedural scenes (EdiBERT tests and demo data)",
                    configure=_configure_scenes, run=_run_scenes)
    app.add_command("eval edibert", help="inpainting ablation (000 Table 4.2) and batched-sampler timing of an EdiBERT run",
                    configure=_configure_eval, run=_run_eval)
    app.add_command("demo edibert", help="train a tiny VQGAN + EdiBERT on built-in scenes, edit, write a report",
                    configure=_configure_demo, run=_run_demo)


__all__ = ["register_cli"]
