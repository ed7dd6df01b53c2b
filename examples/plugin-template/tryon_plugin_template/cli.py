"""Every CLI verb of the plugin: ``tryon train template-tone`` and ``tryon demo template``.

Leaves under the core's verb groups, named after the task they train (``train template-tone``) or after the plugin
(``demo template``). ``configure`` only adds argparse options (torch-free: ``tryon --help`` builds every parser);
``run`` imports the work when called. The options of a train verb are generated from its two settings dataclasses
(:mod:`.training.config`); a renamed verb keeps its former name for one release with
``app.add_command(..., aliases=("train old-name",))``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tryon.trainconfig import add_config_arguments, add_train_arguments, config_from_args, train_config_from_args

from .specs import TASK
from .training.config import LOOP_DEFAULTS, ToneConfig


def configure_train(p: argparse.ArgumentParser, **loop_defaults: Any) -> None:
    add_train_arguments(p, **{**LOOP_DEFAULTS, **loop_defaults})
    add_config_arguments(p, ToneConfig, title=TASK)


def run_train(args: argparse.Namespace) -> int:
    from .training import train_tone

    summary = train_tone(train_config_from_args(args), config_from_args(ToneConfig, args))
    print(json.dumps(summary, indent=2, default=str))
    return 0


def configure_demo(p: argparse.ArgumentParser) -> None:
    configure_train(p, max_steps=60, out_dir="runs/demo-template")  # a default for --out makes it optional


def run_demo(args: argparse.Namespace) -> int:
    from .experiments.demo import run_demo as demo

    path = demo(train_config_from_args(args), config_from_args(ToneConfig, args))
    print(f"report: {path}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command(f"train {TASK}", help="train the template's tone model on generated images",
                    configure=configure_train, run=run_train)
    app.add_command("demo template", help="train the template briefly and write a report",
                    configure=configure_demo, run=run_demo)


__all__ = ["register_cli"]
