"""CLI verbs of the WUTON plugin (wired into the hooks by ``tryon_wuton/plugin.py``).

``register_cli(app)`` adds ``tryon train wuton-parser``, ``tryon train wuton-teacher`` and
``tryon train wuton-student``. Each verb's options are generated from its two configs: the loop's
(:class:`tryon.train.TrainConfig`: ``--out``, ``--steps``, ``--precision``, ``--minutes``, ``--resume`` …, with the
verb's defaults) and the task's (:mod:`tryon_wuton.training.config`: ``--data``, ``--size``, …); the training
function receives both dataclasses. The task specs are in :mod:`tryon_wuton.tasks`.

Import-light on purpose: no torch, no model code at import time (``configure`` functions only add argparse
options; ``run`` functions import :mod:`tryon_wuton.training` when called).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Callable

from tryon.trainconfig import add_config_arguments, add_train_arguments, config_from_args, train_config_from_args

from .training.config import (
    PARSER_LOOP,
    STUDENT_LOOP,
    TEACHER_LOOP,
    ParserTaskConfig,
    StudentTaskConfig,
    TeacherTaskConfig,
    parse_size,
)

#: verb -> (help, task config, the verb's loop defaults, "module:function" of the training entry point)
VERBS: dict[str, tuple[str, Any, dict[str, Any], str]] = {
    "train wuton-parser": ("train the WUTON human parser (smp U-Net) on parse maps", ParserTaskConfig, PARSER_LOOP,
                           "parser:train_parser"),
    "train wuton-teacher": ("train T-WUTON (000 §4.3.3.2): matcher + warping U-Net on agnostic persons",
                            TeacherTaskConfig, TEACHER_LOOP, "teacher:train_teacher"),
    "train wuton-student": ("distil the parser-free S-WUTON from a T-WUTON run (000 §4.3.3.3)", StudentTaskConfig,
                            STUDENT_LOOP, "student:distill_student"),
}


def _configure(task_cls: Any, loop_defaults: dict[str, Any]) -> Callable[[argparse.ArgumentParser], None]:
    def configure(p: argparse.ArgumentParser) -> None:
        add_train_arguments(p, **loop_defaults)
        add_config_arguments(p, task_cls, title=task_cls.VERB.split()[-1])

    return configure


def _runner(task_cls: Any, target: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        module, fn = target.split(":")
        train = getattr(importlib.import_module(f"{__package__}.training.{module}"), fn)
        _print_summary(train(train_config_from_args(args), config_from_args(task_cls, args)))
        return 0

    return run


def _print_summary(summary: dict[str, Any]) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def register_cli(app: Any) -> None:
    for name, (text, task_cls, loop_defaults, target) in VERBS.items():
        app.add_command(name, help=text, configure=_configure(task_cls, loop_defaults), run=_runner(task_cls, target))


__all__ = ["VERBS", "parse_size", "register_cli"]
