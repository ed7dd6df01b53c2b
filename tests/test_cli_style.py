"""One CLI style (docs/contracts.md): every verb is registered by a ``register_cli(app)`` defined in a module named
``cli.py`` next to its library code, and library code never imports a CLI module.

Read from the source with :mod:`ast`, over the core and every first-party plugin (the same discovery as the
import-graph test, so a new plugin is covered the day it is added)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tryon.cli import CORE_VERB_MODULES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "tryon", *sorted(p for p in ROOT.glob("plugins/*/tryon_*") if (p / "__init__.py").is_file()),
            ROOT / "examples" / "plugin-template" / "tryon_plugin_template"]

#: Modules allowed to import a CLI module, and why: the CLI itself and a plugin's hook module (it registers the verbs).
#: ``tryon/run.py`` and ``tryon/batch.py`` are compatibility faces that resolve ``register_cli`` lazily on attribute
#: access (moved to ``tryon/jobs/cli.py`` / ``tryon/deploy/cli.py``), never at import.
MAY_IMPORT_CLI = {"cli.py", "plugin.py", "__main__.py"}
FACES = {"tryon/run.py", "tryon/batch.py"}


def modules() -> list[Path]:
    return [f for pkg in PACKAGES if pkg.is_dir() for f in sorted(pkg.rglob("*.py"))]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = rel.parts[2:] if rel.parts[0] in ("plugins", "examples") else rel.parts
    return ".".join(parts).removesuffix(".py")


def _imported(tree: ast.AST, path: Path) -> list[str]:
    here = _module_name(path).removesuffix(".__init__").split(".")
    pkg = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found += [mod] + [f"{mod}.{a.name}" for a in node.names]
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_code_never_imports_a_cli_module(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    if path.name in MAY_IMPORT_CLI or rel in FACES:
        return
    bad = [m for m in _imported(ast.parse(path.read_text(encoding="utf-8")), path) if m.split(".")[-1] == "cli"]
    assert not bad, f"{rel} imports the CLI module(s) {sorted(set(bad))}: move what it needs into library code"


def test_every_register_cli_lives_in_a_cli_module() -> None:
    defined = [str(f.relative_to(ROOT)) for f in modules()
               if any(isinstance(n, ast.FunctionDef) and n.name == "register_cli"
                      for n in ast.parse(f.read_text(encoding="utf-8")).body)]
    assert defined, "no register_cli found: the test lost its subject"
    assert [f for f in defined if not f.endswith("/cli.py")] == []


def test_core_verbs_come_from_cli_modules() -> None:
    assert all(m.endswith(".cli") for m in CORE_VERB_MODULES), CORE_VERB_MODULES
    for m in CORE_VERB_MODULES:
        assert (ROOT / (m.replace(".", "/") + ".py")).is_file(), m
