"""Renamed CLI verbs keep their former name for one release: ``app.add_command(NEW, ..., aliases=(OLD,))`` or
``app.add_alias(OLD, NEW)``. ``tryon OLD`` takes NEW's options and runs it after one deprecation line on stderr;
aliases are never listed and never count as verbs; a name clash costs the alias only."""

from __future__ import annotations

import argparse

import pytest

import tryon.cli
from tryon.cli import App
from tryon.errors import TryonError
from tryon.plugins import get_manager


def _app(ran: list) -> App:
    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--steps", type=int, default=3)

    def run(args: argparse.Namespace) -> int:
        ran.append(args.steps)
        print(f"trained {args.steps}")
        return 0

    app = App()
    assert app.add_command("train demo-new", help="train the demo task", configure=configure, run=run,
                           aliases=("train demo-old",))
    return app


def test_an_alias_runs_the_verb_after_one_deprecation_line(monkeypatch, capsys) -> None:
    ran: list = []
    app = _app(ran)
    monkeypatch.setattr(tryon.cli, "build_app", lambda: app)
    assert tryon.cli.main(["train", "demo-old", "--steps", "5"]) == 0
    out, err = capsys.readouterr()
    assert out == "trained 5\n" and ran == [5]
    assert err.splitlines() == ["tryon: warning: `tryon train demo-old` is deprecated: use `tryon train demo-new`"]
    assert tryon.cli.main(["train", "demo-new"]) == 0 and ran == [5, 3]
    assert capsys.readouterr().err == ""  # the current name says nothing


def test_aliases_are_not_verbs_nor_listed(monkeypatch, capsys) -> None:
    app = _app([])
    assert [c.name for c in app.group_verbs("train")] == ["train demo-new"]
    assert {k: (a.target, a.plugin) for k, a in app.aliases.items()} == {"train demo-old": ("train demo-new", "")}
    monkeypatch.setattr(tryon.cli, "build_app", lambda: app)
    assert tryon.cli.main(["train"]) == 0
    assert "demo-new" in (listing := capsys.readouterr().out) and "demo-old" not in listing
    with pytest.raises(SystemExit):
        tryon.cli.main(["train", "--help"])
    assert "demo-new" in (listing := capsys.readouterr().out) and "demo-old" not in listing
    with pytest.raises(SystemExit):  # --help through the alias shows the verb's options, then exits
        tryon.cli.main(["train", "demo-old", "--help"])
    out = capsys.readouterr().out
    assert "--steps" in out and "deprecated name of `tryon train demo-new`" in out


def test_alias_clashes_cost_the_alias_only(monkeypatch) -> None:
    app = _app([])
    with pytest.raises(TryonError, match="already registered"):  # the core's own mistakes raise
        app.add_alias("train demo-new", "train demo-new")
    with pytest.raises(TryonError, match="no verb 'train nothing'"):
        app.add_alias("train old", "train nothing")
    with pytest.raises(TryonError, match="multi-word verbs"):
        app.add_alias("frobnicate now", "train demo-new")
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(get_manager(), "record_failure", lambda plugin, message: recorded.append((plugin, message)))
    app._set_plugin("other")
    try:
        # a plugin's alias that clashes is recorded as that plugin's failure; its verb stays
        assert app.add_command("train other-task", help="x", run=lambda a: 0, aliases=("train demo-old",))
        assert "train other-task" in app.commands and app.aliases["train demo-old"].target == "train demo-new"
        # a verb wins over a former name: the alias is dropped, recorded against the plugin that declared it
        app._set_plugin("third")
        app.aliases["train demo-old"].plugin = "first"
        assert app.add_command("train demo-old", help="a real verb now", run=lambda a: 0)
        assert "train demo-old" not in app.aliases and "train demo-old" in app.commands
    finally:
        app._set_plugin("")
    assert [p for p, _ in recorded] == ["other", "first"]
    assert "CLI alias (of 'train other-task') 'train demo-old' not added: the name is already registered" in recorded[0][1]
    assert "dropped: 'third' registers a verb of that name" in recorded[1][1]
