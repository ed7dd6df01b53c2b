"""The WUTON plugin has no import cycle (imports inside functions included), and inference code never
imports the training subpackage."""

from __future__ import annotations

import ast
from pathlib import Path

import tryon_wuton

PACKAGE = Path(tryon_wuton.__file__).parent
INFERENCE = ("tryon_wuton.pipelines", "tryon_wuton.models", "tryon_wuton.parsing", "tryon_wuton.agnostic",
             "tryon_wuton.tasks", "tryon_wuton.split", "tryon_wuton.evaluate", "tryon_wuton.speed")


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` for every ``.py`` file of the package."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Edges ``module -> module`` of every ``import`` / ``from … import`` naming a module of the package, at any
    depth of the file (module level, functions, ``try`` blocks), relative imports resolved. ``from X import
    name`` points at ``X.name`` when that is a module of the package, else at ``X``."""
    modules = _modules(root)
    top = root.name
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target != top and not target.startswith(top + "."):
                    continue
                while target not in modules and "." in target:  # `import pkg.mod.attr` style: keep the module
                    target = target.rpartition(".")[0]
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, …, a]``, or None (iterative depth-first search, white/grey/black colouring)."""
    colour = dict.fromkeys(graph, 0)
    for start in sorted(graph):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child, 2) == 1:
                return path[path.index(child):] + [child]
            elif colour.get(child, 2) == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_function_level_and_relative_imports(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("import pkg.a\nfrom ..a import f\n")
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.sub.b"}, "pkg.sub": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]


def test_wuton_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    # the walk sees the imports that matter (module level, inside functions, relative)
    assert "tryon_wuton.training.teacher" in graph["tryon_wuton.training.student"]
    assert "tryon_wuton.pipelines" in graph["tryon_wuton.training.teacher"]  # inside a function
    assert "tryon_wuton.training.parser" in graph["tryon_wuton.commands"]  # inside a function
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_inference_code_does_not_import_training() -> None:
    graph = import_graph(PACKAGE)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    for name in INFERENCE:
        assert name in graph, name
        training = sorted(m for m in reachable(name) if m.startswith("tryon_wuton.training"))
        assert not training, f"{name} reaches {training}"
