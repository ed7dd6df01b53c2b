"""Every plugin demo is a study whose own options never shadow a budget knob (``Study.settings`` replaces a knob by
the command-line option of the same name, so a collision would silently change the budget)."""

from __future__ import annotations

import argparse
import importlib

import pytest

DEMOS = ("tryon_wuton.experiments.demo", "tryon_edibert.experiments.demo", "tryon_gan.experiments.demo")


@pytest.mark.parametrize("module", DEMOS)
def test_no_option_shadows_a_budget_knob(module: str) -> None:
    from tryon.study import add_study_arguments

    demo = importlib.import_module(pytest.importorskip(module.split(".")[0]).__name__ + ".experiments.demo")
    p = argparse.ArgumentParser()
    add_study_arguments(p, demo.NAME, demo.BUDGETS)
    demo.add_arguments(p)
    args = p.parse_args(["--budget", "tiny"])
    assert args.budget == "tiny" and "tiny" in demo.BUDGETS
    assert not set(vars(args)) & set().union(*demo.BUDGETS.values())
    if any("--quick" in a.option_strings for a in p._actions):  # the former smoke flag stays an alias of tiny
        assert p.parse_args(["--quick"]).budget == "tiny"
