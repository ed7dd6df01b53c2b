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

A verb that is renamed keeps its former name for one release: ``aliases=("train old-name",)`` (or
``app.add_alias(old, new)``). ``tryon OLD`` then runs the verb after printing one deprecation line on stderr; aliases
are not listed (``tryon --help``, ``tryon train``) and never count as verbs of their own.
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
from .sizes import parse_size, parse_sizes  # noqa: F401 - re-exported: verbs used to import them from here

# Core modules that contribute verbs: each has ``register_cli(app)``. Missing ones are skipped so the
# CLI keeps working while a module is optional (e.g. built without its extra).
CORE_VERB_MODULES = (
    "tryon.metrics.cli",
    "tryon.export.cli",
    "tryon.bench.cli",
    "tryon.serve.cli",
    "tryon.jobs.cli",
    "tryon.deploy.cli",
    "tryon.data.cli",
)


@dataclass
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None] | None
    run: Callable[[argparse.Namespace], Any]
    plugin: str = ""
    help_extra: Callable[[argparse.Namespace], str | None] | None = None


@dataclass
class Alias:
    """A former name of a verb, kept for one release: ``tryon NAME`` runs ``tryon TARGET`` with a deprecation line."""

    name: str
    target: str
    plugin: str = ""

    def warning(self) -> str:
        return f"tryon: warning: `tryon {self.name}` is deprecated: use `tryon {self.target}`"


class _HelpWithExtra(argparse.Action):
    """``-h``/``--help`` that prints the parser's help, then ``extra(namespace)`` — what the arguments given
    before ``--help`` (e.g. a task name) add to it."""

    def __init__(self, option_strings: list[str], extra: Callable[[argparse.Namespace], str | None], dest: str = argparse.SUPPRESS,
                 help: str | None = None) -> None:  # noqa: A002 - argparse's keyword
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)
        self.extra = extra

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        parser.print_help()
        text = self.extra(namespace)
        if text:
            print("\n" + text)
        parser.exit()


#: Verb groups owned by the core; plugins add leaves named after their tasks (``tryon train wuton-teacher``,
#: ``tryon demo edibert``). ``tryon GROUP`` alone runs the group's default command when the core set one
#: (``tryon eval --real A --fake B``), else lists the group's verbs.
CORE_GROUPS = {
    "train": "train a task's models (one verb per trainable task)",
    "demo": "end-to-end demos on built-in synthetic data (one per plugin); `tryon demo` lists them",
    "data": "make and check datasets",
    "eval": "evaluate generated images; plugins add task-specific evaluations",
}


class App:
    """Collects commands from the core and the plugins, then builds an argparse parser.

    Names are one word (a top-level verb) or ``"GROUP LEAF"`` with ``GROUP`` one of :data:`CORE_GROUPS`.
    A plugin's registration that cannot be honoured (a name taken, an unknown group, a ``configure`` that
    raises) costs that verb only: it is recorded as a failure of that plugin (``tryon plugins`` lists it)
    and the plugin's other verbs are kept. The core's own registrations raise instead (a bug).
    """

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.group_defaults: dict[str, Command] = {}
        #: former verb names (deprecated, one release) -> :class:`Alias`; not verbs: ``group_verbs`` leaves them out
        self.aliases: dict[str, Alias] = {}
        self._current_plugin = ""

    def _set_plugin(self, name: str) -> None:
        self._current_plugin = name

    def _refuse(self, name: str, why: str, what: str = "CLI verb") -> bool:
        self._record(self._current_plugin, f"{what} {name!r} not added: {why}")
        return False

    def add_command(
        self,
        name: str,
        *,
        help: str,
        run: Callable[[argparse.Namespace], Any],
        configure: Callable[[argparse.ArgumentParser], None] | None = None,
        help_extra: Callable[[argparse.Namespace], str | None] | None = None,
        aliases: Sequence[str] = (),
    ) -> bool:
        """Add ``tryon NAME``; returns False (and records why) when a plugin's verb cannot be added.
        ``help_extra(namespace)``: text that ``--help`` prints after the usual help, given what was parsed before
        ``--help`` (``tryon run TASK --help`` lists that task's inputs and options). ``aliases``: former names of the
        verb, kept for one release (:meth:`add_alias`)."""
        name = " ".join(str(name).split())
        parts = name.split(" ")
        owner = self._current_plugin or "core"
        command = Command(name, help, configure, run, self._current_plugin, help_extra)
        if not name or not callable(run):
            return self._refuse(name, "expected a non-empty name and a callable run")
        if len(parts) == 1 and name in CORE_GROUPS:
            if self._current_plugin:
                return self._refuse(name, f"{name!r} is a core verb group; add a leaf such as '{name} <task-name>'")
            self.group_defaults[name] = command
            return True
        why = self._bad_shape(name)
        if why:
            return self._refuse(name, why)
        if name in self.commands:
            other = self.commands[name].plugin or "core"
            return self._refuse(name, f"already registered by {other!r} (and now by {owner!r})")
        if name in self.aliases:  # a verb wins over another verb's deprecated former name
            alias = self.aliases.pop(name)
            self._record(alias.plugin, f"CLI alias (of {alias.target!r}) {name!r} dropped: {owner!r} registers a verb of "
                         "that name")
        self.commands[name] = command
        for old in aliases:
            self.add_alias(old, name)
        return True

    def add_alias(self, old: str, new: str) -> bool:
        """Keep ``tryon OLD`` working for one release as a deprecated name of the verb ``tryon NEW`` (added first):
        it takes ``NEW``'s options and runs it after printing one line on stderr (``tryon: warning: `tryon OLD` is
        deprecated: use `tryon NEW```). Aliases are not listed and do not count as verbs (``group_verbs``). Returns
        False (and records why, for a plugin) when the alias cannot be added; the verb itself stays."""
        old, new = " ".join(str(old).split()), " ".join(str(new).split())
        what = f"CLI alias (of {new!r})"
        if new not in self.commands:
            return self._refuse(old, f"no verb {new!r} to point at (add the verb first)", what)
        if not old or (len(old.split(" ")) == 1 and old in CORE_GROUPS):
            return self._refuse(old, "expected the former name of a verb, not a core verb group", what)
        why = self._bad_shape(old)
        if why:
            return self._refuse(old, why, what)
        taken = self.commands.get(old) or self.aliases.get(old)
        if taken is not None:
            return self._refuse(old, f"the name is already registered by {taken.plugin or 'core'!r}", what)
        self.aliases[old] = Alias(old, new, self._current_plugin)
        return True

    @staticmethod
    def _bad_shape(name: str) -> str:
        parts = name.split(" ")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] not in CORE_GROUPS):
            groups = ", ".join(sorted(CORE_GROUPS))
            return f"multi-word verbs must be 'GROUP LEAF' with GROUP one of {groups}"
        return ""

    def _record(self, plugin: str, message: str) -> None:
        if not plugin:
            raise TryonError(message)
        from .plugins import get_manager

        get_manager().record_failure(plugin, message)

    def build_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="tryon", description="Virtual try-on and image editing SDK")
        parser.add_argument("--debug", action="store_true", help="show tracebacks")
        parser.add_argument("--version", action="version", version=f"tryon {__version__}")
        subs = parser.add_subparsers(dest="_verb", metavar="VERB")
        leaves: dict[str, Any] = {}
        for group, text in CORE_GROUPS.items():
            default = self.group_defaults.get(group)
            grp = subs.add_parser(group, help=default.help if default else text,
                                  description=default.help if default else text)
            leaves[group] = grp.add_subparsers(dest="_leaf", metavar="VERB", required=False)
            grp.set_defaults(_group_parser=grp, _group=group)
            if default is not None:
                if default.configure is not None:
                    default.configure(grp)
                grp.set_defaults(_run=default.run)
        for name in sorted(self.commands):
            cmd = self.commands[name]
            group, _, leaf = name.rpartition(" ")
            target = leaves[group] if group else subs
            p = target.add_parser(leaf, help=cmd.help, description=cmd.help, add_help=cmd.help_extra is None)
            if cmd.help_extra is not None:
                p.add_argument("-h", "--help", action=_HelpWithExtra, extra=cmd.help_extra, help="show this help message and exit")
            try:
                if cmd.configure is not None:
                    cmd.configure(p)
            except Exception as exc:  # noqa: BLE001 - a plugin's broken verb must not take the CLI down
                target._name_parser_map.pop(leaf, None)
                target._choices_actions[:] = [a for a in target._choices_actions if a.dest != leaf]
                del self.commands[name]
                self._current_plugin = cmd.plugin
                try:
                    self._refuse(name, f"configure raised {type(exc).__name__}: {exc}")
                finally:
                    self._current_plugin = ""
                continue
            p.set_defaults(_run=cmd.run)
        for old in sorted(self.aliases):
            alias = self.aliases[old]
            cmd = self.commands.get(alias.target)
            if cmd is None:  # the verb's configure failed: it is gone, and its former name with it
                continue
            group, _, leaf = old.rpartition(" ")
            target = leaves[group] if group else subs
            # no help=: argparse leaves the alias out of the listing of the group's verbs
            p = target.add_parser(leaf, description=f"deprecated name of `tryon {cmd.name}`: {cmd.help}",
                                  add_help=cmd.help_extra is None)
            if cmd.help_extra is not None:
                p.add_argument("-h", "--help", action=_HelpWithExtra, extra=cmd.help_extra, help="show this help message and exit")
            if cmd.configure is not None:
                cmd.configure(p)  # it ran once above without raising
            p.set_defaults(_run=_deprecated(alias, cmd.run))
        return parser

    def group_verbs(self, group: str) -> list[Command]:
        return [c for n, c in sorted(self.commands.items()) if n.startswith(group + " ")]


def _deprecated(alias: Alias, run: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
    def run_alias(args: argparse.Namespace) -> Any:
        print(alias.warning(), file=sys.stderr)
        return run(args)

    return run_alias


def build_app() -> App:
    from .plugins import get_manager

    app = App()
    app.add_command("tasks", help="list the tasks of every installed plugin", configure=_tasks_args, run=_tasks)
    app.add_command("plugins", help="list loaded plugins, what each registers, and the ones that failed",
                    configure=_json_arg, run=_plugins)
    app.add_command("version", help="print versions of tryon and its main dependencies", configure=_json_arg, run=_version)
    app.add_command("samplers", help="list the samplers of every installed plugin", configure=_samplers_args, run=_samplers)
    app.add_command("datasets", help="list the dataset readers of every installed plugin", configure=_json_arg,
                    run=_datasets)
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
    from .plugins import REGISTRY_KINDS, get_manager

    m = get_manager()
    provided: dict[str, dict[str, list[str]]] = {n: {k: [] for k in REGISTRY_KINDS} for n in m.plugin_names()}
    for kind in REGISTRY_KINDS:
        for entry in m.registry(kind):
            provided.setdefault(entry.plugin, {k: [] for k in REGISTRY_KINDS})[kind].append(entry.name)
    verbs: dict[str, list[str]] = {}
    aliases: dict[str, dict[str, str]] = {}
    app = getattr(args, "_app", App())
    for cmd in app.commands.values():
        if cmd.plugin:
            verbs.setdefault(cmd.plugin, []).append(cmd.name)
    for alias in app.aliases.values():
        if alias.plugin:
            aliases.setdefault(alias.plugin, {})[alias.name] = alias.target
    data = {
        "loaded": [{"name": n, "distribution": m.distributions.get(n, ""), **provided.get(n, {}),
                    "verbs": sorted(verbs.get(n, [])), "aliases": dict(sorted(aliases.get(n, {}).items()))}
                   for n in m.plugin_names()],
        "failed": [f.__dict__ for f in m.failures],
    }
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for p in data["loaded"]:
            print(f"{p['name']:24s} {p['distribution']}")
            for kind in (*REGISTRY_KINDS, "verbs"):
                if p.get(kind):
                    print(f"    {kind:9s} {', '.join(p[kind])}")
            if p["aliases"]:  # former verb names, deprecated
                print(f"    {'aliases':9s} {', '.join(f'{old} -> {new}' for old, new in p['aliases'].items())}")
        for f in m.failures:
            print(f"FAILED {f}")
    return 0


def _print_specs(specs: list[Any], columns: tuple[str, ...], title: str, as_json: bool) -> int:
    rows = [s.as_dict() for s in specs]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console(width=max(100, Console().width)).print(table)
    return 0


def _samplers_args(p: argparse.ArgumentParser) -> None:
    _json_arg(p)
    p.add_argument("--family", default=None, help="only the samplers serving this task family (e.g. gan, edibert)")


def _samplers(args: argparse.Namespace) -> int:
    from .plugins import samplers

    reg = samplers()
    specs = reg.for_family(args.family) if args.family else reg.specs()
    return _print_specs(specs, ("name", "family", "plugin", "summary", "cost"), "tryon samplers", args.json)


def _datasets(args: argparse.Namespace) -> int:
    from .plugins import datasets

    return _print_specs(datasets().specs(), ("name", "plugin", "summary"), "tryon datasets", args.json)


def _list_group(app: App, group: str) -> int:
    verbs = app.group_verbs(group)
    print(f"tryon {group}: {CORE_GROUPS[group]}")
    if not verbs:
        print("  (no plugin adds a verb here; install one, see `tryon plugins`)")
    for cmd in verbs:
        print(f"  tryon {cmd.name:28s} {cmd.help}  [{cmd.plugin}]")
    return 2 if not verbs else 0


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
        args._app = app
        run = getattr(args, "_run", None)
        if run is None:
            group = getattr(args, "_group", None)
            if group is not None:
                return _list_group(app, group)
            parser.print_help()
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
