"""The standard plugin wiring (:class:`tryon.wiring.PluginHooks`): registries from the specs module, verbs from the cli
module, nothing imported before a hook runs, absent declarations skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import tryon
from tryon.plugins import PluginManager
from tryon.wiring import PluginHooks

SPECS = """
import tryon

def _identity(**config):
    return config

def task_specs():
    return [tryon.TaskSpec("wired-echo", "echo its config", _identity, inputs=("image",))]

def dataset_specs():
    return [tryon.DatasetSpec("wired-folder", "a folder", _identity)]
"""

CLI = """
def register_cli(app):
    app.add_command("demo wired", help="a verb of the wired plugin", run=lambda args: 0)
"""


@pytest.fixture()
def package(tmp_path, monkeypatch) -> str:
    root = tmp_path / "tryon_wired"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "specs.py").write_text(textwrap.dedent(SPECS))
    (root / "cli.py").write_text(textwrap.dedent(CLI))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "tryon_wired"
    for name in [m for m in sys.modules if m.startswith("tryon_wired")]:
        del sys.modules[name]


def test_registries_and_verbs_come_from_the_specs_and_cli_modules(package) -> None:
    manager = PluginManager(autoload=False)
    assert manager.register(PluginHooks(package), name="wired")
    tasks = manager.registry("tasks")
    assert tasks.names() == ["wired-echo"] and tasks.get("wired-echo").plugin == "wired"
    assert tasks.get("wired-echo").factory(size=3) == {"size": 3}
    assert manager.registry("datasets").names() == ["wired-folder"]
    assert len(manager.registry("samplers")) == 0 and len(manager.registry("metrics")) == 0  # not declared: skipped
    assert not manager.failures

    class App:
        commands: dict[str, str] = {}

        def add_command(self, name, *, help, run, configure=None):
            self.commands[name] = help

    app = App()
    PluginHooks(package).tryon_register_cli(app=app)
    assert app.commands == {"demo wired": "a verb of the wired plugin"}
    PluginHooks(package, cli=None).tryon_register_cli(app=(empty := App()))
    assert empty.commands == app.commands  # cli=None adds nothing (the class-level dict is the one filled above)


def test_nothing_is_imported_before_a_hook_runs(package, tmp_path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); from tryon.wiring import PluginHooks; "
            f"h = PluginHooks({package!r}); assert {package + '.specs'!r} not in sys.modules; "
            "from tryon.registry import TaskRegistry; r = TaskRegistry(); h.tryon_register_tasks(registry=r); "
            f"assert {package + '.specs'!r} in sys.modules and r.names() == ['wired-echo']")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_broken_specs_module_is_the_plugins_failure(tmp_path, monkeypatch) -> None:
    root = tmp_path / "tryon_broken_wired"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "specs.py").write_text("def task_specs():\n    raise RuntimeError('no tasks today')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager(autoload=False)
    assert manager.register(PluginHooks("tryon_broken_wired"), name="broken")
    assert len(manager.registry("tasks")) == 0
    assert [f.name for f in manager.failures] == ["broken"] and "no tasks today" in manager.failures[0].error
    sys.modules.pop("tryon_broken_wired.specs", None)
    sys.modules.pop("tryon_broken_wired", None)


def test_first_party_plugins_use_the_standard_wiring() -> None:
    from importlib import metadata

    eps = {ep.name: ep.value for ep in metadata.entry_points(group="tryon.plugins")}
    for name in ("wuton", "edibert", "gan", "control"):
        assert eps.get(name) == f"tryon_{name}.plugin:hooks", (name, eps.get(name))
    assert isinstance(tryon.plugins.get_manager().pm.get_plugin("wuton"), PluginHooks)
