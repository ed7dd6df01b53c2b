"""The contract file tells the truth: every hook is documented (when it is called, its parameters, what it
returns, an example), and every method or name its docstrings (and docs/contracts.md) tell a plugin to call exists."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import tryon
from tryon import hookspecs
from tryon.cli import App
from tryon.registry import DatasetRegistry, MetricRegistry, Registry, SamplerRegistry, TaskRegistry

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None)
#: the object each hook receives, by argument name
REGISTRIES = {r.hook: type(r) for r in (TaskRegistry(), DatasetRegistry(), SamplerRegistry(), MetricRegistry())}
CALL = re.compile(r"\b(registry|app)\.([A-Za-z_]\w*)\(")
DOTTED = re.compile(r"\btryon(?:\.[A-Za-z_]\w*)+")


def receiver(hook: str, arg: str) -> type:
    return App if arg == "app" else REGISTRIES[hook]


def resolve(dotted: str) -> object:
    """Import ``tryon.a.b.C`` as far as modules go, then get the attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def code_of(doc: str) -> list[ast.AST]:
    """The Python in a docstring: its ````inline```` snippets that parse, and its ``Example::`` block."""
    trees = []
    for snippet in re.findall(r"``([^`]+)``", doc):
        try:
            trees.append(ast.parse(snippet.strip(), mode="eval"))
        except SyntaxError:
            continue
    if "Example::" in doc:
        trees.append(ast.parse(textwrap.dedent(doc.split("Example::", 1)[1]).strip("\n")))
    return trees


def calls_on(trees: list[ast.AST], arg: str) -> list[ast.Call]:
    return [n for t in trees for n in ast.walk(t) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name) and n.func.value.id == arg]


def test_every_hook_is_found() -> None:
    assert HOOKS == ["tryon_register_cli", "tryon_register_datasets", "tryon_register_metrics",
                     "tryon_register_samplers", "tryon_register_tasks"]
    assert set(REGISTRIES) | {"tryon_register_cli"} == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_documents_the_call(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    for arg in inspect.signature(fn).parameters:
        assert f":param {arg}:" in doc, f"{hook}: no ':param {arg}:'"
    assert "Called " in doc, f"{hook}: does not say when it is called"
    assert ":return:" in doc, f"{hook}: does not say what to return"
    assert "Example::" in doc and "@tryon.hookimpl" in doc, f"{hook}: no example implementation"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_names_only_existing_methods(hook: str) -> None:
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    (arg,) = inspect.signature(fn).parameters
    calls = CALL.findall(doc)
    assert calls, f"{hook}: its docstring shows no {arg}.<method>(...) call"
    for who, method in calls:
        assert who == arg, f"{hook}: receives {arg!r}, its docstring calls {who}.{method}()"
        cls = receiver(hook, arg)
        assert callable(getattr(cls, method, None)), f"{hook}: {cls.__name__} has no method {method!r}"
    for dotted in set(DOTTED.findall(doc)):
        resolve(dotted)  # raises when the docstring names something that does not exist
    # the calls it shows bind to the real signatures (``registry.register(name, obj, summary=...)`` would not)
    calls = calls_on(code_of(doc), arg)
    assert calls, f"{hook}: no {arg}.<method>(...) call that parses as Python"
    for call in calls:
        method = getattr(receiver(hook, arg), call.func.attr)
        args = [None] * len(call.args)
        kwargs = {k.arg: None for k in call.keywords if k.arg}
        try:
            inspect.signature(method).bind(None, *args, **kwargs)
        except TypeError as exc:
            pytest.fail(f"{hook}: {ast.unparse(call)} does not fit {call.func.attr}{inspect.signature(method)}: {exc}")


def test_module_docstring_and_contracts_page_name_only_existing_things() -> None:
    text = (hookspecs.__doc__ or "") + (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    for who, method in CALL.findall(text):
        cls = App if who == "app" else Registry
        assert callable(getattr(cls, method, None)), f"{who}.{method}() is documented but does not exist"
    assert "registry.register(name," not in text  # the call of contract v1, gone since v2


def test_the_checker_catches_a_wrong_method_or_call() -> None:
    assert CALL.findall("call ``registry.register(name, obj, summary=...)``") == [("registry", "register")]
    (old,) = calls_on(code_of("call ``registry.register(name, obj, summary=...)``"), "registry")
    with pytest.raises(TypeError):
        inspect.signature(Registry.register).bind(None, *old.args, **{k.arg: None for k in old.keywords})
    assert not hasattr(Registry, "register_task") and hasattr(Registry, "register")
    with pytest.raises(AttributeError):
        resolve("tryon.NoSuchSpec")
    assert resolve("tryon.TaskSpec") is tryon.TaskSpec
