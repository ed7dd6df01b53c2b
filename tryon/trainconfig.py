"""The training loop's settings, stated once: :class:`TrainConfig`'s fields generate the command-line options
every ``tryon train <task>`` verb shares.

A dataclass field that is also a command-line option carries its help text (and, where needed, its flag
name, choices or value parser) in ``dataclasses.field(metadata=...)`` — write it with :func:`option`. Two
generic functions turn any such dataclass into argparse options and back: :func:`add_config_arguments` and
:func:`config_from_args`. The loop's options come from :class:`TrainConfig` (:func:`add_train_arguments`,
:func:`train_config_from_args`); each task states its own settings as a dataclass too and gets its options
the same way, so a training entry point takes ``(TrainConfig, TaskConfig)`` and nothing is restated.

A task that cannot honour a loop option says so (a ``unsupported(loop)`` method on its config returning
``{field: reason}``); :func:`refuse_unsupported` turns a set one into a one-line
:class:`tryon.errors.UnsupportedOptionError` naming the flag and the task — never a silently dropped flag.

Torch-free on purpose: plugins build their verbs' options in ``configure``, which ``tryon --help`` runs for
every verb; :mod:`tryon.train` (the loop, which needs torch) re-exports the public names.
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from dataclasses import field as _field
from typing import Any, Callable, Mapping

from .errors import InputError, UnsupportedOptionError


#: ``precision`` names and the autocast dtype each one means (fp32: no autocast; ``auto``: resolved by the
#: Trainer once the device is known, see :data:`TrainConfig`).
PRECISIONS = {"fp32": None, "bf16": "bfloat16", "fp16": "float16", "auto": None}

#: CPU flags with native bf16 arithmetic (bf16 autocast elsewhere is emulated and slower than fp32).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


# ------------------------------------------------------------------------------------------------
# dataclass fields <-> command-line options
# ------------------------------------------------------------------------------------------------
def option(default: Any = MISSING, *, help: str, flag: str | None = None, choices: Any = None,
           parse: Callable[[str], Any] | None = None, show: Callable[[Any], str] | None = None,
           metavar: str | None = None, required: bool = False, default_factory: Any = MISSING) -> Any:
    """A dataclass field that is also a command-line option (see :func:`add_config_arguments`).

    ``help``: the option's help text (a field without one is no option); ``flag``: its name (default
    ``--field-name``); ``choices``; ``parse``: the value parser for types other than int/float/str (e.g.
    ``"256x192"`` → ``(256, 192)``) and ``show`` its inverse for the help text; ``required``: required on the
    command line although the dataclass has a default (e.g. ``None`` for Python callers that pass an
    in-memory dataset). Booleans become ``--name/--no-name``.
    """
    meta: dict[str, Any] = {"help": help}
    for key, value in (("flag", flag), ("choices", tuple(choices) if choices is not None else None), ("parse", parse),
                       ("show", show), ("metavar", metavar)):
        if value is not None:
            meta[key] = value
    if required:
        meta["required"] = True
    return _field(default=default, default_factory=default_factory, metadata=meta)


def option_fields(cls: Any) -> list[Field]:
    """The fields of dataclass ``cls`` that are command-line options (those with help text)."""
    return [f for f in fields(cls) if "help" in f.metadata]


def flag_of(cls: Any, name: str) -> str:
    """The command-line flag of field ``name`` of ``cls`` (``--name`` when it has none of its own)."""
    f = next((f for f in fields(cls) if f.name == name), None)
    if f is None:
        raise KeyError(f"{getattr(cls, '__name__', cls)} has no field {name!r}")
    return str(f.metadata.get("flag") or "--" + name.replace("_", "-"))


def dest_of(cls: Any, name: str) -> str:
    """Where argparse keeps field ``name`` of ``cls``: its flag's name (``--steps`` → ``steps``) for an option,
    the field's name otherwise."""
    f = next((f for f in fields(cls) if f.name == name), None)
    if f is None or "help" not in f.metadata:
        return name
    return flag_of(cls, name).lstrip("-").replace("-", "_")


def _value_type(hint: Any) -> Any:
    """``float | None`` → float; ``tuple[int, int]`` → tuple; ``Any`` → str."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _value_type(args[0]) if len(args) == 1 else str
    if hint is Any:
        return str
    return origin or hint


def _field_default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def add_config_arguments(parser: Any, cls: Any, defaults: Mapping[str, Any] | None = None, *,
                         title: str | None = None) -> None:
    """Add one argparse option per :func:`option` field of dataclass ``cls`` (``dest``: the flag's name, e.g.
    ``--steps`` → ``args.steps`` for ``max_steps``; see :func:`dest_of`).

    ``defaults`` override the dataclass defaults (a verb's own steps, batch size, lr …); a key may name the
    field (``max_steps``) or its flag (``steps``). A field without a default (or marked ``required``) is a
    required option unless ``defaults`` gives it one. Defaults for fields that are no option are stored in
    the namespace too, so :func:`config_from_args` passes them on. ``title``: an argument group's title.
    """
    if not is_dataclass(cls):
        raise TypeError(f"add_config_arguments: {cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    by_key: dict[str, Field] = {}
    for f in fields(cls):
        by_key[f.name] = f
        by_key[dest_of(cls, f.name)] = f
    given: dict[str, Any] = {}
    for key, value in dict(defaults or {}).items():
        if key not in by_key:
            raise TypeError(f"add_config_arguments: {cls.__name__} has no field or flag {key!r}")
        given[by_key[key].name] = value
    target = parser.add_argument_group(title) if title else parser
    for f in fields(cls):
        if "help" not in f.metadata:
            if f.name in given:
                parser.set_defaults(**{f.name: given[f.name]})
            continue
        default = given[f.name] if f.name in given else _field_default(f)
        required = default is MISSING or (bool(f.metadata.get("required")) and f.name not in given)
        kind = _value_type(hints[f.name])
        help_text = str(f.metadata["help"])
        kw: dict[str, Any] = {"dest": dest_of(cls, f.name)}
        if kind is bool:
            kw.update(action=argparse.BooleanOptionalAction, default=None if default is MISSING else default)
        else:
            parse = f.metadata.get("parse")
            if parse is None and kind not in (int, float, str):
                raise TypeError(f"{cls.__name__}.{f.name}: type {hints[f.name]} needs option(parse=...)")
            kw["type"] = parse or kind
            if "choices" in f.metadata:
                kw["choices"] = f.metadata["choices"]
            if "metavar" in f.metadata:
                kw["metavar"] = f.metadata["metavar"]
            if required:
                kw["required"] = True
            else:
                kw["default"] = default
                if default is not None and default != () and default != "":
                    show = f.metadata.get("show", _show)
                    help_text += f" (default {show(default)})"
        target.add_argument(flag_of(cls, f.name), help=help_text, **kw)


def config_from_args(cls: Any, args: Any, **overrides: Any) -> Any:
    """The ``cls`` instance of the options :func:`add_config_arguments` added (``overrides`` win): every
    field of ``cls`` found in the namespace ``args`` is passed on, the others keep their dataclass default."""
    ns = vars(args)
    values = {f.name: ns[dest_of(cls, f.name)] for f in fields(cls) if f.init and dest_of(cls, f.name) in ns}
    values.update(overrides)
    return cls(**values)


def refuse_unsupported(loop: Any, task: Any, verb: str | None = None) -> None:
    """Raise :class:`tryon.errors.UnsupportedOptionError` (one line: the flag, the task, why) when ``loop`` (a
    :class:`TrainConfig`) sets an option away from its default that ``task`` cannot honour: the task config's
    ``unsupported(loop) -> {field: reason}``. ``verb``: how to name the task (default ``task.VERB``)."""
    reasons = task.unsupported(loop) if hasattr(task, "unsupported") else {}
    name_of = verb or getattr(task, "VERB", None) or type(task).__name__
    for name, why in dict(reasons or {}).items():
        f = next(f for f in fields(loop) if f.name == name)
        if getattr(loop, name) != _field_default(f):
            raise UnsupportedOptionError(flag_of(type(loop), name), f"tryon {name_of}", why)


# ------------------------------------------------------------------------------------------------
# the loop's settings
# ------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Hyper-parameters of the loop (the model's own ones belong to the plugin's task config).

    ``lr`` is recorded (checkpoints, logs) and read by the plugin, which builds its optimisers (``None``: the
    task's default). ``keep_last <= 0`` keeps every checkpoint. ``drop_last`` drops the incomplete last batch
    of an epoch (unless the dataset is smaller than one batch per rank). ``resume``: continue from the newest
    checkpoint in ``out_dir``. ``minutes``: a wall-clock budget for this call of ``fit`` — the Trainer stops
    after the step that spends it, writes a final checkpoint and records the steps reached (``TrainResult``
    ``stopped_by="minutes"``; the run's ``train_info.json`` and ``config.json``).

    Speed options (none changes the method; see ``docs/benchmarks.md`` for what each one buys):

    * ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"`` — the mixed-precision choice in one word (sets
      ``amp`` / ``amp_dtype``; ``None`` keeps them as given). bf16 autocast also runs on CPU (useful where the
      CPU has avx512_bf16 or AMX); fp16 is CUDA-only (with a GradScaler; ignored with a note on CPU).
      ``"auto"``: bf16 on a CPU with native bf16 (:data:`BF16_CPU_FLAGS`) and on CUDA devices that support
      it, fp16 on other CUDA devices, else fp32 — the fastest choice that trains as well on this machine
      (measured in ``docs/benchmarks.md``); the Trainer logs and records what it resolved to.
    * ``channels_last``: modules (and therefore the activations of their convolutions) in NHWC memory format
      while training; they are put back in the default format when ``fit`` ends, so saved weights are unchanged.
    * ``cache_data``: keep every item the dataset returns in memory (:class:`tryon.cached_dataset.CachedDataset`,
      bounded by ``cache_max_bytes``, or the dataset's own ``with_cache(max_bytes)``) — for deterministic
      datasets whose decoding costs (no random augmentation in ``__getitem__``); only with ``num_workers=0``
      (workers would each hold a copy).
    """

    out_dir: str = option(help="run folder: checkpoints, logs and the final pipeline weights", flag="--out")
    max_steps: int = option(help="training steps", flag="--steps")
    batch_size: int = option(8, help="batch size")
    seed: int = option(0, help="random seed (model initialisation, data order)")
    lr: float | None = option(None, help="learning rate (default: the task's)")
    log_every: int = option(10, help="log the mean losses every N steps")
    ckpt_every: int = option(100, help="write a checkpoint every N steps")
    keep_last: int = option(3, help="checkpoints kept (<= 0: all)")
    num_workers: int = option(0, help="data-loader worker processes", flag="--workers")
    device: Any = option(None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    amp: bool = option(False, help="automatic mixed precision in --amp-dtype (float16: CUDA only; see --precision)")
    grad_clip: float | None = option(None, help="clip each optimiser's gradient norm to this value")
    # additions beyond the contract (all optional)
    amp_dtype: str = option("float16", help="autocast dtype of --amp: float16 (with a GradScaler) or bfloat16",
                            choices=("float16", "bfloat16"))
    drop_last: bool = True
    progress: bool = option(True, help="progress bar")
    tensorboard: bool = option(True, help="TensorBoard logs in --out/tensorboard (when tensorboard is installed)")
    deterministic: bool = False  # torch.use_deterministic_algorithms(warn_only=True) + cudnn flags
    pin_memory: bool | None = None  # None: when training on CUDA
    ddp_broadcast_buffers: bool = False
    ddp_find_unused_parameters: bool = False
    precision: str | None = option(None, help="fp32, bf16 (autocast, also on CPU), fp16 (CUDA) or auto (the fastest "
                                   "this machine trains well in); overrides --amp/--amp-dtype",
                                   choices=tuple(sorted(PRECISIONS)))
    channels_last: bool = option(False, help="train in NHWC memory format (convolutional models)")
    cache_data: bool = option(False, help="keep decoded dataset items in memory (with --workers 0)")
    cache_max_bytes: int = 2 << 30
    minutes: float | None = option(None, help="wall-clock budget: stop after the step that spends M minutes, with a "
                                   "final checkpoint (the steps reached are recorded)", metavar="M")
    resume: bool = option(True, help="resume from the newest checkpoint in --out (--no-resume: start over)")

    def __post_init__(self) -> None:
        if int(self.max_steps) < 0:
            raise InputError("TrainConfig.max_steps", ">= 0", str(self.max_steps))
        for name in ("batch_size", "log_every", "ckpt_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"TrainConfig.{name}", ">= 1", str(getattr(self, name)))
        if self.minutes is not None and not float(self.minutes) > 0:
            raise InputError("TrainConfig.minutes", "> 0 (or None: no budget)", str(self.minutes))
        if int(self.num_workers) < 0:
            raise InputError("TrainConfig.num_workers", ">= 0", str(self.num_workers))
        if self.precision is not None:
            if self.precision not in PRECISIONS:
                raise InputError("TrainConfig.precision", f"one of {sorted(PRECISIONS)}", repr(self.precision))
            self.amp = self.precision not in ("fp32", "auto")
            if self.amp:
                self.amp_dtype = PRECISIONS[self.precision]
        if self.amp_dtype not in ("float16", "bfloat16"):
            raise InputError("TrainConfig.amp_dtype", "'float16' or 'bfloat16'", repr(self.amp_dtype))

    def to_dict(self) -> dict[str, Any]:
        """JSON-/``weights_only``-safe dict (devices and paths become strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
        return out


def add_train_arguments(p: Any, **defaults: Any) -> None:
    """Add the options every ``tryon train <task>`` verb shares (one per :class:`TrainConfig` option field:
    ``--out``, ``--steps``, ``--batch-size``, ``--lr``, ``--seed``, ``--device``, ``--workers``, ``--precision``,
    ``--amp``, ``--grad-clip``, ``--channels-last``, ``--cache-data``, ``--minutes``, ``--resume/--no-resume`` …).

    ``defaults``: the verb's own defaults by field or flag name, e.g. ``max_steps=20000, batch_size=32,
    lr=2e-4``; giving ``out_dir`` a default makes ``--out`` optional. Read them back with
    :func:`train_config_from_args`."""
    add_config_arguments(p, TrainConfig, defaults, title="training loop")


def train_config_from_args(args: Any, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of the options added by :func:`add_train_arguments` (``overrides`` win)."""
    return config_from_args(TrainConfig, args, **overrides)


def train_verb(task_cls: Any, loop_defaults: Mapping[str, Any], target: str,
               summary: Callable[[Any], Any] = lambda result: result) -> tuple[Callable[[Any], None], Callable[[Any], int]]:
    """``(configure, run)`` of a ``tryon train <task>`` verb, for ``app.add_command``: the flags of
    :class:`TrainConfig` (with the verb's ``loop_defaults``) and of ``task_cls``; ``run`` imports ``target``
    (``"package.module:function"``, so the CLI stays torch-free) only when called, calls it with
    ``(TrainConfig, task config)`` and prints ``summary(result)`` as JSON."""

    def configure(p: Any) -> None:
        add_train_arguments(p, **loop_defaults)
        add_config_arguments(p, task_cls, title=task_cls.VERB.split()[-1])

    def run(args: Any) -> int:
        import importlib
        import json
        import sys

        module, fn = target.split(":")
        result = getattr(importlib.import_module(module), fn)(train_config_from_args(args), config_from_args(task_cls, args))
        json.dump(summary(result), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0

    return configure, run


__all__ = ["PRECISIONS", "TrainConfig", "add_config_arguments", "add_train_arguments", "config_from_args", "dest_of", "flag_of",
           "option", "option_fields", "refuse_unsupported", "train_config_from_args", "train_verb"]
