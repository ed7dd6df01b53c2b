"""Run a study from a command line: ``--out``, ``--budget``, ``--render-only`` — the same three options for every demo,
evaluation and benchmark.

A study is two functions kept apart::

    def compute(study: Study, args: argparse.Namespace) -> None:   # fills study.results, saves images
    def render(out: Path, results: dict) -> str | None:            # reads only results (+ the saved images)

:func:`run` computes (unless ``--render-only``), writes ``results.json``, then renders from the *saved record*, so a
first run and a later ``--render-only`` produce the same report. Scripts call :func:`main`; CLI verbs that own their
parser call :func:`add_study_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError
from .study import Study, load_results

Compute = Callable[[Study, argparse.Namespace], None]
Render = Callable[[Path, dict[str, Any]], "str | None"]


def add_study_arguments(parser: argparse.ArgumentParser, name: str, budgets: Mapping[str, Mapping[str, Any]], *,
                        default_budget: str | None = None, default_out: str | None = None) -> None:
    """Add ``--out`` (default ``runs/<name>``), ``--budget`` (one of ``budgets``) and ``--render-only``."""
    if not budgets:
        raise ValueError(f"study {name!r} declares no budget")
    default_budget = default_budget or ("default" if "default" in budgets else next(iter(budgets)))
    parser.add_argument("--out", default=default_out or f"runs/{name}", help="folder for results.json and what is rendered from it")
    parser.add_argument("--budget", choices=list(budgets), default=default_budget,
                        help="named sizes: " + "; ".join(f"{k}: {_knobs(v)}" for k, v in budgets.items()))
    parser.add_argument("--render-only", action="store_true",
                        help="re-render the report from OUT/results.json without computing anything")


def _knobs(knobs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items()) or "(no knobs)"


def run(name: str, args: argparse.Namespace, compute: Compute, render: Render,
        budgets: Mapping[str, Mapping[str, Any]], *, argv: Sequence[str] | None = None,
        table: str | None = None) -> dict[str, Any]:
    """Compute (unless ``args.render_only``), save ``results.json``, render from the saved record; returns the record.
    ``table``: a file name under ``--out`` that the text ``render`` returns is written to (atomically), e.g. ``table.md``."""
    out = Path(args.out)
    if args.render_only:
        results = load_results(out)
        if results.get("study") != name:
            raise InputError(str(out / "results.json"), f"results of study {name!r}", f"results of study {results.get('study')!r}")
    else:
        if args.budget not in budgets:
            raise InputError(f"study {name!r} budget", f"one of {sorted(budgets)}", repr(args.budget))
        study = Study(name, out, budget=args.budget, knobs=budgets[args.budget],
                      argv=list(sys.argv if argv is None else argv))
        compute(study, args)
        study.save()
        results = load_results(out)  # render what was saved, exactly as --render-only will
    text = render(out, results)
    if text and table:
        from ..fs import atomic_write_text

        atomic_write_text(out / table, text if text.endswith("\n") else text + "\n")
    if text:
        print(text)
    return results


def main(name: str, compute: Compute, render: Render, budgets: Mapping[str, Mapping[str, Any]], *,
         argv: Sequence[str] | None = None, description: str | None = None,
         add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
         default_budget: str | None = None, default_out: str | None = None, table: str | None = None) -> int:
    """The ``main`` of a study script: parse ``argv``, :func:`run`, exit status 0 (an :class:`InputError` prints one
    line and returns 1). ``table``: see :func:`run`."""
    parser = argparse.ArgumentParser(description=description)
    add_study_arguments(parser, name, budgets, default_budget=default_budget, default_out=default_out)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(name, args, compute, render, budgets, argv=argv, table=table)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def script(name: str, compute: Compute, render: Render, budgets: Mapping[str, Mapping[str, Any]], *,
           doc: str | None = None, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
           default_budget: str | None = None, default_out: str | None = None,
           table: str | None = "table.md") -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv=None) -> int`` of a benchmark script in one line: :func:`main` with the script's study, the first
    line of its docstring as the description, and the text ``render`` returns written to ``OUT/table.md``::

        main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments)
    """
    description = doc.strip().splitlines()[0] if doc else None

    def study_main(argv: Sequence[str] | None = None) -> int:
        return main(name, compute, render, budgets, argv=argv, description=description, add_arguments=add_arguments,
                    default_budget=default_budget, default_out=default_out, table=table)

    return study_main


def study_verb(module: str, *, default_out: str | None = None) -> dict[str, Callable[..., Any]]:
    """``configure=`` and ``run=`` of a CLI verb that runs the study defined in ``module`` (its ``NAME``, ``BUDGETS``,
    ``compute``, ``render`` and, optionally, ``add_arguments``), imported when the verb is configured; keep the module's
    top free of torch so that ``tryon --help`` stays fast::

        app.add_command("demo mine", help="...", **study_verb("tryon_myplugin.experiments.demo", default_out="runs/demo-mine"))
    """

    def configure(parser: argparse.ArgumentParser) -> None:
        study = import_module(module)
        add_study_arguments(parser, study.NAME, study.BUDGETS, default_out=default_out)
        add_arguments = getattr(study, "add_arguments", None)
        if add_arguments is not None:
            add_arguments(parser)

    def run_verb(args: argparse.Namespace) -> int:
        study = import_module(module)
        run(study.NAME, args, study.compute, study.render, study.BUDGETS)
        return 0

    return {"configure": configure, "run": run_verb}


__all__ = ["Compute", "Render", "add_study_arguments", "main", "run", "script", "study_verb"]
