"""The study harness: compute → atomic results.json → render, and --render-only re-renders without computing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tryon.errors import InputError
from tryon.study import RESERVED, Study, load_results, main

BUDGETS = {"tiny": {"n": 3}, "default": {"n": 10}}


def _study(calls: list[str]):
    def compute(study: Study, args) -> None:
        calls.append("compute")
        with study.section("count"):
            study.results["values"] = list(range(study.knobs["n"]))
        study.save_image("grids/one.png", np.full((4, 5, 3), 200, np.uint8))

    def render(out: Path, results: dict) -> str:
        calls.append("render")
        text = f"n={len(results['values'])}"
        (out / "table.md").write_text(text + "\n", encoding="utf-8")
        return text

    return compute, render


def test_compute_saves_facts_budget_timings_and_artifacts(tmp_path: Path) -> None:
    calls: list[str] = []
    compute, render = _study(calls)
    assert main("toy", compute, render, BUDGETS, argv=["--out", str(tmp_path), "--budget", "tiny"]) == 0
    data = load_results(tmp_path)
    assert calls == ["compute", "render"]
    assert data["study"] == "toy" and data["values"] == [0, 1, 2]
    assert data["budget"] == {"name": "tiny", "n": 3}
    assert set(data["timings"]) == {"count"} and data["timings"]["count"] >= 0
    assert data["artifacts"] == ["grids/one.png"] and (tmp_path / "grids" / "one.png").is_file()
    assert data["machine"]["cpu"] and isinstance(data["machine"]["isa"], list) and data["versions"]["tryon"]
    assert (tmp_path / "table.md").read_text() == "n=3\n"
    # no temporary files left next to the results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids", "results.json", "table.md"]


def test_render_only_reads_the_saved_record_and_never_computes(tmp_path: Path) -> None:
    calls: list[str] = []
    compute, render = _study(calls)
    main("toy", compute, render, BUDGETS, argv=["--out", str(tmp_path), "--budget", "tiny"])
    (tmp_path / "table.md").unlink()
    calls.clear()
    assert main("toy", compute, render, BUDGETS, argv=["--out", str(tmp_path), "--render-only"]) == 0
    assert calls == ["render"] and (tmp_path / "table.md").read_text() == "n=3\n"


def test_render_only_without_results_and_of_another_study_fail_in_one_line(tmp_path: Path, capsys) -> None:
    calls: list[str] = []
    compute, render = _study(calls)
    assert main("toy", compute, render, BUDGETS, argv=["--out", str(tmp_path), "--render-only"]) == 1
    assert "got no such file" in capsys.readouterr().err and calls == []
    (tmp_path / "results.json").write_text(json.dumps({"study": "other"}))
    assert main("toy", compute, render, BUDGETS, argv=["--out", str(tmp_path), "--render-only"]) == 1
    assert "of study 'toy'" in capsys.readouterr().err


def test_reserved_keys_and_escaping_artifact_names_are_refused(tmp_path: Path) -> None:
    study = Study("toy", tmp_path, log=False)
    with pytest.raises(InputError, match="reserved"):
        study.results[RESERVED[2]] = 1
        study.save()
    with pytest.raises(InputError, match="relative to the study folder"):
        study.path("../escape.png")
    assert not (tmp_path / "results.json").exists()


def test_facts_do_not_import_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "from tryon.study import facts; f = facts(); assert f['machine']['cpu'] and f['versions']['tryon']")
    subprocess.run([sys.executable, "-c", code], check=True)


STUDY_MODULE = '''
NAME = "verb-study"
BUDGETS = {"tiny": {"n": 2}, "default": {"n": 5}}
CALLS = []

def add_arguments(parser):
    parser.add_argument("--scale", type=float, default=1.0)

def compute(study, args):
    CALLS.append("compute")
    study.results["total"] = study.knobs["n"] * args.scale

def render(out, results):
    return f"total {results['total']}"
'''


def test_study_verb_configures_runs_and_re_renders_a_study_module(tmp_path: Path, monkeypatch, capsys) -> None:
    import argparse

    from tryon.study import study_verb

    (tmp_path / "verb_study_module.py").write_text(STUDY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    verb = study_verb("verb_study_module", default_out=str(tmp_path / "runs" / "verb"))
    assert set(verb) == {"configure", "run"}
    parser = argparse.ArgumentParser()
    verb["configure"](parser)
    args = parser.parse_args(["--budget", "tiny", "--scale", "3"])
    assert args.out == str(tmp_path / "runs" / "verb") and args.render_only is False
    assert verb["run"](args) == 0
    assert load_results(Path(args.out))["total"] == 6.0 and capsys.readouterr().out.strip() == "total 6.0"
    import verb_study_module

    assert verb_study_module.CALLS == ["compute"]
    assert verb["run"](parser.parse_args(["--render-only"])) == 0  # re-rendered from results.json, not recomputed
    assert verb_study_module.CALLS == ["compute"] and capsys.readouterr().out.strip() == "total 6.0"
    sys.modules.pop("verb_study_module", None)


def test_seed_verdict_is_one_rule_for_every_study() -> None:
    from tryon.study import seed_verdict

    assert seed_verdict([0.2, 0.1]) == "held"
    assert seed_verdict([0.3, -0.1]) == "mixed"  # wins on the mean, not in every seed
    assert seed_verdict([0.1, -0.3]) == "not held"
    assert seed_verdict([-0.2, -0.1], higher_is_better=False) == "held"  # e.g. a lower EMD
    assert seed_verdict([0.0]) == "not held" and seed_verdict([float("nan"), 1.0]) == "n/a" and seed_verdict([]) == "n/a"
