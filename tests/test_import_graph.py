"""The import graph of the core and of every first-party plugin is a DAG that keeps the architecture's rules.

Read from the source with :mod:`ast` (nothing is imported), counting every ``import`` / ``from … import`` at any
depth of a file — module level, inside functions, ``try`` blocks — with relative imports resolved:

* no import circle inside the core package ``tryon`` nor inside any plugin package;
* the core never imports a plugin; a plugin never imports another plugin (they exchange files) nor a private
  module of the core (``tryon._x``: plugins use the public API, as a third-party plugin must);
* WUTON's inference modules never reach its ``training`` subpackage;
* every plugin keeps the layers of the plugin layout (:data:`LAYERS`, docs/contracts.md "Plugin layout"): a module
  imports its own layer or lower ones, never higher; and every plugin has the layout's modules (:data:`LAYOUT`).

Plugin packages are discovered from ``plugins/*/tryon_*`` and ``examples/plugin-template/tryon_plugin_template``,
so a new plugin is covered the day it is added.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "tryon"


def plugin_packages() -> list[Path]:
    """Every first-party plugin package: ``plugins/*/tryon_*`` and the template plugin."""
    found = sorted(p for p in ROOT.glob("plugins/*/tryon_*") if (p / "__init__.py").is_file())
    template = ROOT / "examples" / "plugin-template" / "tryon_plugin_template"
    return found + ([template] if (template / "__init__.py").is_file() else [])


PLUGINS = plugin_packages()
PLUGIN_NAMES = frozenset(p.name for p in PLUGINS)

#: WUTON modules that serve inference: none of them may reach ``tryon_wuton.training`` (training pulls in the
#: teacher, losses and data pipelines that a deployed pipeline does not need).
WUTON_INFERENCE = ("tryon_wuton.pipelines", "tryon_wuton.models", "tryon_wuton.parsing", "tryon_wuton.agnostic",
                   "tryon_wuton.specs", "tryon_wuton.split", "tryon_wuton.experiments.evaluate",
                   "tryon_wuton.experiments.speed")

#: The modules every plugin has (docs/contracts.md, "Plugin layout"): a name ending in ``/`` is a package; ``models``
#: may be a module or a package.
LAYOUT = ("plugin.py", "specs.py", "cli.py", "models", "pipelines.py", "training/", "training/config.py",
          "experiments/")


def plugin_layers(package: str, blocks: tuple[str, ...] = (), *middle: tuple[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
    """The layers of the plugin layout for ``package``, lowest first: building blocks (``specs``, ``models`` and the
    plugin's own ``blocks``: data, pure functions …), the plugin's ``middle`` layers (name, modules), then
    ``pipelines`` → ``training`` → ``experiments`` → wiring (``cli``, ``plugin``, the package ``__init__``)."""

    def names(*modules: str) -> tuple[str, ...]:
        return tuple(f"{package}.{m}" for m in modules)

    return [("building blocks", names("specs", "models", *blocks)), *((name, names(*mods)) for name, mods in middle),
            ("pipelines", names("pipelines")), ("training", names("training")), ("experiments", names("experiments")),
            ("wiring", (*names("cli", "plugin"), package))]


#: Layers per plugin, lowest first: each is a list of module names (a name covers its submodules; the longest
#: matching name places a module). A module may import modules of its own layer or of lower layers only, and
#: every module of the plugin must be placed (a new module is given a layer on purpose).
LAYERS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    # the try-on data, the networks, the agnostic person and the parser's scores; the split export builds on models
    "tryon_wuton": plugin_layers("tryon_wuton", ("data", "agnostic", "parsing"), ("export graphs", ("split",))),
    # scenes, masks and collages, the objective, token orderings; then the samplers that decode with them
    "tryon_edibert": plugin_layers("tryon_edibert", ("data", "editing", "objective", "orderings"),
                                   ("sampling", ("samplers", "parallel"))),
    # networks, data, pure functions; sampling from a trained generator; GAN inversion (protocol, losses, encoder and
    # its in-process fit); built on inversion: editing (inpaint / composite / crossover) and latent directions
    "tryon_gan": plugin_layers("tryon_gan", ("data", "jacobian", "metrics", "render", "sprites", "theory"),
                               ("sampling", ("samplers",)), ("inversion", ("inversion",)),
                               ("editing", ("editing", "directions"))),
    "tryon_plugin_template": plugin_layers("tryon_plugin_template", (), ("sampling", ("samplers",))),
    # the toy, digits, sprites and image folders; the AVAE losses (003 Eq. 3.3-3.12) beside the networks; the beta-VAE
    # (003 Table 4.2) and the scene model's blocks (003 ch. 5); then the pipelines of the beta-VAE and scene families
    "tryon_control": plugin_layers("tryon_control", ("data", "losses", "sprites", "betavae", "scenes"),
                                   ("family pipelines", ("betavae_pipelines", "scenes.pipelines"))),
}


# ------------------------------------------------------------------------------------------------ the graph
def modules_of(root: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` for every ``.py`` file of the package at ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


def imported_names(name: str, path: Path, is_package: bool) -> set[str]:
    """Every absolute name imported anywhere in the file: ``import a.b`` gives ``a.b``; ``from a import b``
    gives ``a`` and ``a.b`` (``b`` may be a module or an attribute); relative imports are resolved."""
    package = name if is_package else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Edges ``module -> module`` inside the package at ``root``. A module's own ancestors are not edges: the
    package's ``__init__`` runs before any of its submodules anyway (``from . import x`` in ``pkg.sub`` points
    at ``pkg.x`` when that is a module)."""
    modules = modules_of(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for target in imported_names(name, path, is_package):
            if target in modules and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def external_imports(root: Path) -> dict[str, set[str]]:
    """``{module: names it imports from outside its own package}``."""
    top = root.name
    out = {}
    for name, (path, is_package) in modules_of(root).items():
        out[name] = {t for t in imported_names(name, path, is_package)
                     if t and t != top and not t.startswith(top + ".")}
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative): the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int | None:
    """Index of the layer whose longest listed name is ``module`` or a package above it; None when unplaced."""
    best: tuple[int, int] | None = None
    for i, (_, names) in enumerate(layers):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    return None if best is None else best[0]


def upward_imports(graph: dict[str, set[str]], layers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module, layers)
        for target in sorted(targets):
            there = layer_of(target, layers)
            if here is not None and there is not None and there > here:
                out.append(f"{module} ({layers[here][0]}) imports {target} ({layers[there][0]})")
    return out


def _private(name: str) -> bool:
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__")) for part in name.split("."))


# ------------------------------------------------------------------------------------------------ the tool itself
def test_the_graph_sees_function_level_and_relative_imports(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("import pkg.a\nfrom ..a import f\nfrom .. import a\nimport os\n")
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.sub", "pkg.sub.b"}, "pkg.sub": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.a"}}
    assert circles(graph) == [["pkg.a", "pkg.sub", "pkg.sub.b"]]
    assert external_imports(pkg)["pkg.sub.b"] == {"os"}


def test_the_circle_finder_and_the_layer_rule() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    layers = [("low", ("p.low",)), ("high", ("p.high", "p"))]
    assert layer_of("p.low.x", layers) == 0 and layer_of("p.other", layers) == 1 and layer_of("q", layers) is None
    assert upward_imports({"p.low": {"p.high"}, "p.high": {"p.low"}}, layers) == ["p.low (low) imports p.high (high)"]
    assert _private("tryon._version") and not _private("tryon.__version__") and not _private("tryon.io")


def test_plugins_are_discovered() -> None:
    assert {"tryon_wuton", "tryon_edibert", "tryon_gan", "tryon_plugin_template"} <= PLUGIN_NAMES


# ------------------------------------------------------------------------------------------------ the rules
@pytest.mark.parametrize("root", [CORE, *PLUGINS], ids=lambda p: p.name)
def test_no_import_circle(root: Path) -> None:
    found = circles(import_graph(root))
    assert not found, f"{root.name}: import circles (imports inside functions count): {found}"


def test_the_walk_sees_imports_inside_functions() -> None:
    assert "tryon.plugins" in import_graph(CORE)["tryon.pipeline"]  # inside a function
    gan = import_graph(ROOT / "plugins" / "gan" / "tryon_gan")
    assert "tryon_gan.samplers" in gan["tryon_gan.pipelines"]  # inside a method
    wuton = import_graph(ROOT / "plugins" / "wuton" / "tryon_wuton")
    assert "tryon_wuton.data.synth" in wuton["tryon_wuton.cli"]  # inside a function


def test_the_core_imports_no_plugin() -> None:
    bad = sorted(f"{m} imports {t}" for m, ts in external_imports(CORE).items() for t in ts
                 if t.split(".")[0] in PLUGIN_NAMES or t.startswith("tryon_"))
    assert not bad, "the core knows no task: " + "; ".join(bad)


@pytest.mark.parametrize("root", PLUGINS, ids=lambda p: p.name)
def test_a_plugin_imports_no_other_plugin(root: Path) -> None:
    bad = sorted(f"{m} imports {t}" for m, ts in external_imports(root).items() for t in ts
                 if t.split(".")[0] != root.name and (t.split(".")[0] in PLUGIN_NAMES or t.startswith("tryon_")))
    assert not bad, "plugins never import each other (they exchange files): " + "; ".join(bad)


@pytest.mark.parametrize("root", PLUGINS, ids=lambda p: p.name)
def test_a_plugin_imports_no_private_core_module(root: Path) -> None:
    bad = sorted(f"{m} imports {t}" for m, ts in external_imports(root).items() for t in ts
                 if t.split(".")[0] == "tryon" and _private(t))
    assert not bad, "plugins use the core's public API only: " + "; ".join(bad)


def test_wuton_inference_code_does_not_reach_training() -> None:
    graph = import_graph(ROOT / "plugins" / "wuton" / "tryon_wuton")
    for name in WUTON_INFERENCE:
        assert name in graph, name
        training = sorted(m for m in reachable(graph, name) if m.startswith("tryon_wuton.training"))
        assert not training, f"{name} reaches {training}"


def test_every_plugin_has_layers() -> None:
    assert set(LAYERS) == PLUGIN_NAMES, "give every plugin its layers in LAYERS (plugin_layers)"


@pytest.mark.parametrize("root", PLUGINS, ids=lambda p: p.name)
def test_every_plugin_has_the_layout(root: Path) -> None:
    missing = [name for name in LAYOUT if not (
        (root / name / "__init__.py").is_file() if name.endswith("/") else
        (root / name).is_file() or (name == "models" and ((root / "models.py").is_file()
                                                          or (root / "models" / "__init__.py").is_file())))]
    assert not missing, f"{root.name}: the plugin layout (docs/contracts.md) lacks {missing}"


@pytest.mark.parametrize("root", PLUGINS, ids=lambda p: p.name)
def test_the_hook_module_is_thin(root: Path) -> None:
    """``plugin.py`` holds hook implementations only: of its own package it imports ``specs`` and ``cli``."""
    own = import_graph(root)[f"{root.name}.plugin"]
    assert own <= {f"{root.name}.specs", f"{root.name}.cli"}, f"{root.name}.plugin imports {sorted(own)}"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_layers_hold(package: str) -> None:
    root = next(p for p in PLUGINS if p.name == package)
    graph = import_graph(root)
    layers = LAYERS[package]
    unplaced = sorted(m for m in graph if layer_of(m, layers) is None)
    assert not unplaced, f"{package}: modules with no layer in LAYERS (place them): {unplaced}"
    bad = upward_imports(graph, layers)
    assert not bad, f"{package}: upward imports: " + "; ".join(bad)
