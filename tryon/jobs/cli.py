"""``tryon run TASK``: run any task's pipeline on image files, driven by its :class:`tryon.TaskSpec`.

    tryon run edibert-inpaint --weights RUN --image a.png --mask m.png --out out.png
    tryon run wuton-student --weights RUN --person people/ --garment shirts/ --pairs pairs.txt --out outs/

The options after the task are the task's ``inputs`` (``TaskSpec.inputs``); each is a file or a folder
(folders are paired as in ``tryon infer``: a ``--pairs FILE`` or sorted order). ``--set KEY=VALUE`` passes a
keyword argument to the pipeline call (values are read as JSON when they parse, else as strings), and
``--config KEY=VALUE`` one to the task's factory (hyper-parameters of a randomly initialised pipeline).

**What a pipeline returns.** With path inputs a pipeline returns images (PIL, numpy ``uint8`` or a float
tensor/array in ``[-1, 1]``): either the main output alone (the first of ``TaskSpec.outputs``), or a
mapping / an object with one entry / attribute per output name. ``--all-outputs`` writes every output
that is an image (``<out>_<name>.png``); otherwise only the main one. Outputs are staged and moved into
place only when every item succeeded (:class:`tryon.jobs.files.StagedOutputs`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import InputError, TryonError
from .files import StagedOutputs, accept_named_options, named_inputs, named_path, output_targets, plan_items
from .outputs import image_format, image_or_none, items_of, outputs_of, to_json

_OWN_OPTIONS = {"task", "weights", "out", "pairs", "input", "set", "config", "device", "batch_size", "all_outputs",
                "optional", "debug", "help"}


def _key_value(text: str) -> tuple[str, Any]:
    key, eq, raw = str(text).partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().replace("-", "_"), value


def task_help(task: str) -> str:
    """What ``tryon run TASK --help`` adds for one task: its inputs and outputs (``TaskSpec``), the options of
    its pipeline call with their defaults (``--set``, read from the call's signature) and its factory's
    hyper-parameters (``--config``, from a randomly initialised pipeline's recorded config)."""
    import inspect

    import tryon

    spec = tryon.get_task(task)
    lines = [f"task {spec.name} ({spec.plugin or 'core'}): {spec.summary}", ""]
    lines.append("inputs (each a file or a folder): " + (", ".join(f"--{n} PATH" for n in spec.inputs) or "none declared"))
    lines.append("outputs: " + (", ".join(spec.outputs) or "image") + " (the first is written; --all-outputs writes each)")
    try:
        pipe = tryon.load(spec.name, device="cpu")
    except Exception as exc:  # noqa: BLE001 - help must still print: say why the rest is missing
        lines.append(f"(call options unavailable: building the pipeline failed: {type(exc).__name__}: {exc})")
        return "\n".join(lines)
    params = list(inspect.signature(type(pipe).__call__).parameters.values())
    options = [q for q in params if q.name != "self" and q.name not in spec.inputs
               and q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
    lines += ["", "call options (--set KEY=VALUE):"]
    lines += [f"  {q.name}={q.default!r}" if q.default is not q.empty else f"  {q.name} (required)" for q in options] or ["  none"]
    if any(q.kind is q.VAR_KEYWORD for q in params):
        cls = type(pipe)
        lines.append(f"  more keyword options are passed on: see help({cls.__module__}.{cls.__qualname__})")
    config = getattr(pipe, "config", {}) or {}
    lines += ["", "pipeline configuration (--config KEY=VALUE; defaults of a fresh pipeline, a weights folder records its own):"]
    lines += [f"  {k}={v!r}" for k, v in config.items()] or ["  none"]
    return "\n".join(lines)


def _help_extra(args: argparse.Namespace) -> str | None:
    task = getattr(args, "task", None)
    if not task:
        return None
    try:
        return task_help(task)
    except TryonError as exc:
        return f"task {task!r}: {exc}"


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task name (see `tryon tasks`)")
    p.add_argument("--weights", default=None, help="weights folder (a training run or save_pretrained); default: random")
    p.add_argument("--out", required=True, help="output image file (single inputs) or folder")
    p.add_argument("--pairs", default=None, help="with folders: a file of lines naming one file per folder input")
    p.add_argument("--input", type=named_path, action="append", default=[], metavar="NAME=PATH",
                   help="an input by name (same as --NAME PATH)")
    p.add_argument("--set", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument of the pipeline call (JSON value or string)")
    p.add_argument("--config", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="hyper-parameter of the task's factory (overrides the weights' config)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=1, help="items per pipeline call (default 1)")
    p.add_argument("--all-outputs", action="store_true", help="write every image output as <out>_<name>.png")
    p.epilog = "Task inputs are options named after TaskSpec.inputs, e.g. --image a.png --mask m.png."
    accept_named_options(p)


def _run(args: argparse.Namespace) -> int:
    import tryon

    spec = tryon.get_task(args.task)
    if not spec.inputs:
        raise TryonError(f"task {spec.name!r} declares no inputs (TaskSpec.inputs), so `tryon run` cannot feed it")
    clash = [n for n in spec.inputs if n.replace("-", "_") in _OWN_OPTIONS]
    extra = list(getattr(args, "_model_inputs", []) or [])
    if clash and not args.input:
        raise InputError("tryon run", f"--input NAME=PATH for the inputs {clash} (their names clash with run's own options)",
                         "none")
    paths = named_inputs(extra, list(args.input), list(spec.inputs), "tryon run")
    items, stems = plan_items(paths, args.pairs, "tryon run")
    single = len(items) == 1 and all(Path(paths[n]).is_file() for n in spec.inputs)
    pipe = tryon.load(spec.name, weights=args.weights, device=args.device, **dict(args.config))
    call_kwargs = dict(args.set)
    names = list(spec.outputs) or ["image"]
    wanted = names if args.all_outputs else names[:1]
    out_dir, targets = output_targets(Path(args.out), single, stems, wanted)
    with StagedOutputs(out_dir) as stage:
        bs = max(1, int(args.batch_size))
        for start in range(0, len(items), bs):
            chunk = items[start : start + bs]
            feeds = {n: ([str(it[n]) for it in chunk] if bs > 1 else str(chunk[0][n])) for n in spec.inputs}
            result = outputs_of(pipe(**feeds, **call_kwargs), names)
            for w in wanted:
                if w not in result:
                    raise TryonError(f"task {spec.name!r}: the pipeline returned no output {w!r} (got {sorted(result)})")
                values = items_of(result[w], len(chunk)) if bs > 1 else [result[w]]
                for k, tgt in enumerate(targets[start : start + bs]):
                    what = f"{spec.name} output {w!r}"
                    image = image_or_none(values[k], what)
                    if image is not None:
                        stage.write(tgt[w], lambda tmp, im=image: im.save(tmp, format=image_format(tmp)))
                    else:  # a data output (boxes, scores): JSON beside the images, same stem
                        text = json.dumps(to_json(values[k], what))
                        stage.write(tgt[w].with_suffix(".json"), lambda tmp, t=text: Path(tmp).write_text(t))
    where = stage.written[0] if len(stage.written) == 1 else out_dir
    print(f"wrote {len(stage.written)} file(s) to {where} ({spec.name}, weights {args.weights or 'random'})")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("run", help="run any task's pipeline on image files (inputs from the task's TaskSpec)",
                    configure=_configure, run=_run, help_extra=_help_extra)


__all__ = ["register_cli", "task_help"]
