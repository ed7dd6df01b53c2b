"""No private names cross a file boundary in the core or in a plugin: ``from .x import _helper`` means two files
share a detail one of them should own (make it public in the module that owns it, or move it).

Read with :mod:`ast` (nothing imported), at any depth of a file. Dunder names (``__version__``) are public."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "tryon", *sorted(p for p in ROOT.glob("plugins/*/tryon_*") if (p / "__init__.py").is_file())]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found += [f"{'.' * node.level}{node.module or ''}:{a.name}" for a in node.names if _private(a.name)]
    return found


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from .other import _helper, public, __version__\n")
    assert private_imports(f) == [".other:_helper"]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_no_private_name_crosses_a_file(package: Path) -> None:
    bad = {str(f.relative_to(ROOT)): private_imports(f) for f in sorted(package.rglob("*.py"))}
    assert {k: v for k, v in bad.items() if v} == {}
