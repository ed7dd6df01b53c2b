"""Plugin discovery (from separately installed distributions), allow-list, broken plugins, duplicates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tryon
from tryon.errors import DuplicateNameError, PluginError, UnknownNameError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory) -> Path:
    """pip-install the example and broken plugin distributions into a private target directory."""
    target = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src")
    for name in ("example_plugin", "broken_plugin"):
        shutil.copytree(FIXTURES / name, src / name)  # build outside the source tree
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", "--no-index", "--target", str(target), str(src / name)],
            check=True,
            capture_output=True,
        )
    assert (target / "tryon_example_plugin" / "__init__.py").is_file()
    assert list(target.glob("tryon_example_plugin-*.dist-info/entry_points.txt"))
    return target


def run_cli(args, target: Path, **env):
    full_env = {**os.environ, "PYTHONPATH": str(target), **env}
    for k, v in list(full_env.items()):
        if v is None:
            del full_env[k]
    return subprocess.run([sys.executable, "-m", "tryon.cli", *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_installed_distribution_is_discovered(installed_plugins):
    res = run_cli(["tasks", "--json"], installed_plugins)
    assert res.returncode == 0, res.stderr
    tasks = {t["name"]: t for t in json.loads(res.stdout)}
    assert tasks["my-blur"]["plugin"] == "example"
    assert tasks["my-blur"]["summary"] == "Gaussian blur"
    # the first-party plugin is an installed distribution too
    assert any(t["plugin"] == "wuton" for t in tasks.values()) or "wuton" in run_cli(["plugins"], installed_plugins).stdout


def test_table_output_lists_plugin_task(installed_plugins):
    res = run_cli(["tasks"], installed_plugins)
    assert res.returncode == 0
    assert "my-blur" in res.stdout


def test_broken_plugin_is_reported_and_skipped(installed_plugins):
    res = run_cli(["tasks"], installed_plugins)
    assert res.returncode == 0
    assert "my-blur" in res.stdout  # the others still load
    out = res.stdout + res.stderr
    assert "broken" in out and "tryon-broken-plugin" in out
    assert "RuntimeError: this plugin is broken on purpose" in out
    assert "second line must not be shown" not in out
    res = run_cli(["plugins", "--json"], installed_plugins)
    data = json.loads(res.stdout)
    assert [f["name"] for f in data["failed"]] == ["broken"]
    assert "example" in [p["name"] for p in data["loaded"]]


def test_allow_list(installed_plugins):
    res = run_cli(["tasks", "--json"], installed_plugins, TRYON_PLUGINS="example")
    names = {t["plugin"] for t in json.loads(res.stdout)}
    assert names == {"example"}
    res = run_cli(["plugins", "--json"], installed_plugins, TRYON_PLUGINS="wuton")
    data = json.loads(res.stdout)
    assert [p["name"] for p in data["loaded"]] == ["wuton"]
    assert data["failed"] == []  # the broken plugin is not even imported


def test_disable_autoload(installed_plugins):
    res = run_cli(["tasks", "--json"], installed_plugins, TRYON_DISABLE_PLUGIN_AUTOLOAD="1")
    assert json.loads(res.stdout) == []


def test_plugin_cli_verb_and_load(installed_plugins):
    res = run_cli(["blur-hello"], installed_plugins)
    assert res.returncode == 0 and "hello from my-blur" in res.stdout
    code = (
        "import tryon, numpy as np\n"
        "p = tryon.load('my-blur', radius=3.0)\n"
        "print(type(p).__name__, p.config['radius'], p(np.zeros((8, 6, 3), np.uint8)).shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(installed_plugins)})
    assert res.stdout.split() == ["Blur", "3.0", "(8,", "6,", "3)"], res.stderr


class _Pipe(tryon.Pipeline):
    def __call__(self, x):
        return x


def _plugin(task_name: str):
    class P:
        @tryon.hookimpl
        def tryon_register_tasks(self, registry):
            registry.register(tryon.TaskSpec(name=task_name, summary="s", factory=_Pipe))

    return P()


def test_duplicate_task_names_name_both_plugins(fresh_manager):
    fresh_manager.register(_plugin("same"), name="alpha")
    fresh_manager.register(_plugin("same"), name="beta")
    with pytest.raises(DuplicateNameError) as info:
        tryon.list_tasks()
    msg = str(info.value)
    assert "'same'" in msg and "'alpha'" in msg and "'beta'" in msg


def test_in_process_plugin_and_unknown_task(fresh_manager):
    fresh_manager.register(_plugin("echo"), name="echoer")
    assert [t.name for t in tryon.list_tasks()] == ["echo"]
    assert tryon.list_tasks()[0].plugin == "echoer"
    pipe = tryon.load("echo", device="cpu")
    assert pipe(5) == 5 and pipe.task == "echo"
    with pytest.raises(UnknownNameError, match="unknown task 'nope'; known: echo"):
        tryon.load("nope")


def test_hook_with_wrong_registration_is_reported(fresh_manager):
    class Bad:
        @tryon.hookimpl
        def tryon_register_tasks(self, registry):
            registry.register("not a spec")

    fresh_manager.register(Bad(), name="bad")
    fresh_manager.register(_plugin("fine"), name="good")
    assert [t.name for t in tryon.list_tasks()] == ["fine"]
    assert [f.name for f in fresh_manager.failures] == ["bad"]
    assert "expected a tryon.TaskSpec" in fresh_manager.failures[0].error


def test_unknown_hook_is_rejected(fresh_manager):
    class Typo:
        @tryon.hookimpl
        def tryon_register_taks(self, registry):  # typo: no such hookspec
            pass

    assert fresh_manager.register(Typo(), name="typo") is False
    assert fresh_manager.failures and fresh_manager.failures[0].name == "typo"
    assert "typo" not in fresh_manager.plugin_names()


def test_core_imports_no_plugin_and_no_torch():
    code = "import sys, tryon, tryon.plugins, tryon.io; tryon.list_tasks(); print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # listing tasks must stay cheap: plugins import torch lazily
    assert res.stdout.strip() == "False"
    core = Path(tryon.__file__).parent
    offenders = [p for p in core.rglob("*.py") if "tryon_wuton" in p.read_text() or "from plugins" in p.read_text()]
    assert offenders == []


def test_plugin_error_type():
    assert issubclass(DuplicateNameError, PluginError)


def test_size_option_parser_shared_by_every_verb():
    import argparse

    from tryon.cli import parse_size, parse_sizes

    assert parse_size("256x192") == (256, 192)
    assert parse_size(" 64×48 ") == (64, 48)
    assert parse_sizes("256x192, 512x384") == [(256, 192), (512, 384)]
    for bad in ("256", "256x192x3", "ax b", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="expected HxW"):
            parse_size(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=">= 32"):
        parse_size("16x16", minimum=32)
    with pytest.raises(argparse.ArgumentTypeError, match=">= 8"):
        parse_sizes("256x192,4x4")
