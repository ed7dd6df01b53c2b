"""The ``tryon`` command line.

Core verbs: ``tasks``, ``version``, ``plugins`` and the verbs of core modules (``eval`` …). Plugins add
verbs through the ``tryon_register_cli(app)`` hook::

    @tryon.hookimpl
    def tryon_register_cli(app):
        app.add_command("train my-task", help="train it", configure=add_args, run=do_train)

``configure(parser)`` adds argparse arguments; ``run(args)`` does the work and returns an exit code
(``None`` = 0). Multi-word names create nested verbs (``tryon train my-task``). Errors derived from
:class:`tryon.errors.TryonError` (and ``OSError``/``ValueError``) print one line and exit 1; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ._version import __version__
from .errors import TryonError

# Core modules that contribute verbs: each has ``register_cli(app)``. Missing ones are skipped so the
# CLI keeps working while a module is optional (e.g. built without its extra).
CORE_VERB_MODULES = (
    "tryon.metrics.cli",
    "tryon.export.cli",
    "tryon.bench",
    "tryon.serve",
)


def parse_size(text: str, minimum: int = 8) -> tuple[int, int]:
    """``"256x192"`` (H x W; ``×`` also accepted) → ``(256, 192)``, both sides ``>= minimum``.

    The one parser behind every ``--size``/``--sizes`` option; raises ``argparse.ArgumentTypeError`` so
    argparse reports it as a usage error naming the option.
    """
    parts = str(text).strip().lower().replace("×", "x").split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        h, w = int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 256x192, got {text!r}") from None
    if h < minimum or w < minimum:
        raise argparse.ArgumentTypeError(f"expected H, W >= {minimum}, got {text!r}")
    return h, w


def parse_sizes(text: str, minimum: int = 8) -> list[tuple[int, int]]:
    """``"256x192,512x384"`` → ``[(256, 192), (512, 384)]`` (each checked by :func:`parse_size`)."""
    sizes = [parse_size(part, minimum) for part in str(text).split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected sizes like 256x192,512x384, got {text!r}")
    return sizes


@dataclass
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None] | None
    run: Callable[[argparse.Namespace], Any]
    plugin: str = ""


class App:
    """Collects commands from the core and the plugins, then builds an argparse parser."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self._current_plugin = ""

    def _set_plugin(self, name: str) -> None:
        self._current_plugin = name

    def add_command(
        self,
        name: str,
        *,
        help: str,
        run: Callable[[argparse.Namespace], Any],
        configure: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> None:
        name = " ".join(name.split())
        if name in self.commands:
            other = self.commands[name].plugin or "core"
            raise TryonError(f"CLI verb {name!r} is registered twice: by {other!r} and by {self._current_plugin or 'core'!r}")
        self.commands[name] = Command(name, help, configure, run, self._current_plugin)

    def build_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="tryon", description="Virtual try-on and image editing SDK")
        parser.add_argument("--debug", action="store_true", help="show tracebacks")
        parser.add_argument("--version", action="version", version=f"tryon {__version__}")
        subs = parser.add_subparsers(dest="_verb", metavar="VERB")
        groups: dict[str, Any] = {"": subs}
        for name in sorted(self.commands):
            cmd = self.commands[name]
            parts = name.split(" ")
            parent = ""
            for depth, part in enumerate(parts[:-1]):
                key = " ".join(parts[: depth + 1])
                if key not in groups:
                    grp = groups[parent].add_parser(part, help=f"{part} …")
                    groups[key] = grp.add_subparsers(dest=f"_verb{depth + 1}", metavar="VERB")
                    grp.set_defaults(_group_parser=grp)
                parent = key
            p = groups[parent].add_parser(parts[-1], help=cmd.help, description=cmd.help)
            if cmd.configure is not None:
                cmd.configure(p)
            p.set_defaults(_run=cmd.run)
        return parser


def build_app() -> App:
    from .plugins import get_manager

    app = App()
    app.add_command("tasks", help="list the tasks of every installed plugin", configure=_tasks_args, run=_tasks)
    app.add_command("plugins", help="list loaded plugins and the ones that failed", configure=_json_arg, run=_plugins)
    app.add_command("version", help="print versions of tryon and its main dependencies", configure=_json_arg, run=_version)
    for mod_name in CORE_VERB_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and mod_name.startswith(exc.name):
                continue
            raise
        mod.register_cli(app)
    get_manager().call_each("tryon_register_cli", app=app)
    return app


# -- core verbs ----------------------------------------------------------------------------------
def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _tasks_args(p: argparse.ArgumentParser) -> None:
    _json_arg(p)


def _tasks(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from . import list_tasks
    from .plugins import get_manager

    specs = list_tasks()
    if args.json:
        print(json.dumps([s.as_dict() for s in specs], indent=2))
        return 0
    table = Table(title="tryon tasks")
    for col in ("task", "plugin", "summary", "inputs", "exportable"):
        table.add_column(col)
    for s in specs:
        table.add_row(s.name, s.plugin, s.summary, ", ".join(s.inputs), ", ".join(e.name for e in s.exportable))
    console = Console(width=max(100, Console().width))
    console.print(table)
    for failure in get_manager().failures:
        console.print(f"[yellow]warning:[/] {failure}")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .plugins import get_manager

    m = get_manager()
    data = {
        "loaded": [{"name": n, "distribution": m.distributions.get(n, "")} for n in m.plugin_names()],
        "failed": [f.__dict__ for f in m.failures],
    }
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for p in data["loaded"]:
            print(f"{p['name']:24s} {p['distribution']}")
        for f in m.failures:
            print(f"FAILED {f}")
    return 0


def _version(args: argparse.Namespace) -> int:
    from importlib import metadata

    info: dict[str, str] = {"tryon": __version__, "python": sys.version.split()[0]}
    for dist in ("torch", "torchvision", "kornia", "segmentation-models-pytorch", "onnx", "onnxruntime", "onnxruntime-gpu", "pluggy"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:28s} {v}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        app = build_app()
        parser = app.build_parser()
        args = parser.parse_args(argv)
        run = getattr(args, "_run", None)
        if run is None:
            (getattr(args, "_group_parser", None) or parser).print_help()
            return 2
        code = run(args)
        return int(code or 0)
    except KeyboardInterrupt:
        print("tryon: interrupted", file=sys.stderr)
        return 130
    except (TryonError, OSError, ValueError, KeyError) as exc:
        if debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"tryon: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
