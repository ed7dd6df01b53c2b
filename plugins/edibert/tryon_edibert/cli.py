"""Every CLI verb of the EdiBERT plugin (import-light: no torch at import; ``run`` imports the work when called).

* ``tryon train edibert-vqgan`` — the VQGAN tokenizer (000 §4.2.2.1) on an image folder;
* ``tryon train edibert-inpaint --vqgan RUN`` — the EdiBERT token model (000 eq. 4.2.6) on a trained VQGAN's tokens;
  the run is saved as task ``edibert-inpaint`` and serves every EdiBERT editing task (one weights family);
* ``tryon data edibert-scenes`` — procedural scenes (tests and demo data);
* ``tryon eval edibert`` — the inpainting ablation (000 Table 4.2) and the batched-sampler timing of a run;
* ``tryon demo edibert`` — a tiny end-to-end run and its report.

The eval and demo verbs are studies (:mod:`tryon.study`): ``--out``, ``--budget`` and ``--render-only``.

A train verb's options are generated from its two settings dataclasses (:mod:`.training.config`); its entry point
takes both. The former verb names ``train vqgan`` and ``train edibert`` still work for one release (deprecated
aliases).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon.study import study_verb
from tryon.sizes import parse_size
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


def register_cli(app: Any) -> None:
    app.add_command("train edibert-vqgan", help="train the VQGAN tokenizer (000 §4.2.2.1) on an image folder",
                    configure=_configure_vqgan, run=_run_vqgan, aliases=("train vqgan",))
    app.add_command("train edibert-inpaint", help="train EdiBERT (000 eq. 4.2.6) on the tokens of a trained VQGAN; the "
                    "run serves every edibert editing task", configure=_configure_edibert, run=_run_edibert,
                    aliases=("train edibert",))
    app.add_command("data edibert-scenes", help="write procedural scenes (EdiBERT tests and demo data)",
                    configure=_configure_scenes, run=_run_scenes)
    app.add_command("eval edibert", help="inpainting ablation (000 Table 4.2) and batched-sampler timing of an EdiBERT run",
                    **study_verb(f"{__package__}.experiments.evaluate", default_out="runs/eval-edibert"))
    app.add_command("demo edibert", help="train a tiny VQGAN + EdiBERT on built-in scenes, edit, write a report",
                    **study_verb(f"{__package__}.experiments.demo", default_out="runs/demo-edibert"))


__all__ = ["register_cli"]
