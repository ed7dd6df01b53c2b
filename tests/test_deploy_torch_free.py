"""The deploy wing (``tryon.deploy``) and its faces never import torch — at import time (a subprocess in which torch
cannot be imported) nor inside any function (an AST scan of every module of the wing)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import tryon.deploy

WING = Path(tryon.deploy.__file__).resolve().parent
FACES = ("tryon.runtime", "tryon.runtime_base", "tryon.runtime_openvino", "tryon.catalogue", "tryon.batch",
         "tryon.batch_render", "tryon.batch_ray")


def wing_modules() -> list[str]:
    return ["tryon.deploy"] + sorted(f"tryon.deploy.{p.stem}" for p in WING.glob("*.py") if p.stem != "__init__")


def test_the_wing_has_its_modules() -> None:
    names = set(wing_modules())
    assert {"tryon.deploy.manifest", "tryon.deploy.sessions", "tryon.deploy.cache", "tryon.deploy.catalogue",
            "tryon.deploy.batch", "tryon.deploy.cli", "tryon.deploy.openvino"} <= names


def test_importing_the_wing_and_its_faces_never_imports_torch() -> None:
    code = textwrap.dedent(f"""
        import importlib, sys

        tried = []

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    tried.append(name)
                    raise ImportError("torch is blocked in this process")
                return None

        sys.modules.pop("torch", None)
        sys.meta_path.insert(0, NoTorch())
        for name in {wing_modules() + list(FACES)!r}:
            importlib.import_module(name)
        import tryon.runtime as rt
        rt.CatalogueSession  # the lazy re-export
        assert not tried, f"torch was imported: {{tried}}"
        assert "torch" not in sys.modules, "torch is in sys.modules"
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok"


def test_no_function_of_the_wing_imports_torch() -> None:
    bad = []
    for path in sorted(WING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names if n == "torch" or n.startswith("torch.")]
    assert not bad, "tryon.deploy is torch-free: " + "; ".join(bad)
