"""`tryon demo wuton` is a study: its stages resume from demo_state.json, and what it records (results.json with the
machine facts, the curves, every stage's numbers) is all `--render-only` needs to re-create the report.

The fast tests resume a demo whose every stage is recorded as done (the resumption path ``make demo`` takes after an
interruption), so they train nothing; the slow one runs the tiny budget end to end (minutes on 2 cores)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tryon.cli import main as tryon_main
from tryon.testing import rerender


def _done_demo(out):
    """A demo folder whose stages all finished earlier: demo_state.json, one evaluation grid, one loss log."""
    from PIL import Image

    from tryon_wuton.experiments.demo import STAGES

    row = {"condition": "gt-parse", "model": "S-WUTON", "ssim": 0.5, "proxy-lpips": 0.25, "proxy-fid": 2.0,
           "arms-l1": 0.125, "accessory-l1": 0.25, "uses_parser": False}
    per_category = [{**row, "category": c, "ssim": v} for c, v in (("all", 0.5), ("upper", 0.625), ("dress", 0.375))]
    results = {
        "5/7 evaluation": {"table": per_category, "protocol": {"n_pairs": 12}, "grids": [
            {"condition": "gt-parse", "path": "grid_gt-parse.png", "columns": ["person", "S-WUTON", "ground truth"]},
            {"condition": "per category", "path": "grid_categories.png", "categories": ["upper", "dress"],
             "columns": ["category", "person", "S-WUTON", "ground truth"]}]},
        "6/7 ONNX export": {"parity": {"max_abs": 0.0001}, "int8_parity": None, "int8_quality": {"ssim_fp32": 0.5},
                            "path": "export/wuton-student"},
        "7/7 benchmark": {"results": [{"task": "wuton-student", "backend": "torch", "batch": 1, "size": [128, 96],
                                       "p50_ms": 5.0, "p95_ms": 6.0, "fps": 200.0}],
                          "ratios": {"compare": [{"batch": 1, "speedup": 2.5}]},
                          "teacher_breakdown": {"p50_ms": {"parser": 1.0, "generator": 2.0}, "parser_share": 0.33},
                          "results_256x192": None},
    }
    out.mkdir(parents=True)
    state = {"done": {name: {"seconds": 1.5, "result": results.get(name, {})} for name in STAGES}}
    (out / "demo_state.json").write_text(json.dumps(state))
    (out / "eval").mkdir()
    Image.fromarray(np.full((8, 12, 3), 128, np.uint8)).save(out / "eval" / "grid_gt-parse.png")
    Image.fromarray(np.full((8, 12, 3), 96, np.uint8)).save(out / "eval" / "grid_categories.png")
    (out / "teacher").mkdir()
    (out / "teacher" / "metrics.csv").write_text("step,wall_time,l1,total\n5,1.0,0.5,2.0\n10,2.0,0.25,1.5\n")
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = _done_demo(tmp_path_factory.mktemp("demo-wuton") / "demo")
    assert tryon_main(["demo", "wuton", "--budget", "tiny", "--out", str(out)]) == 0
    return out


def test_resumed_run_records_the_study(demo):
    from tryon_wuton.experiments.demo import BUDGETS, STAGES

    res = json.loads((demo / "results.json").read_text())
    assert res["study"] == "demo-wuton" and res["budget"] == {"name": "tiny", **BUDGETS["tiny"]}
    assert res["machine"]["cpu"] and isinstance(res["machine"]["isa"], list) and res["versions"]["tryon"]
    assert res["resumed"] == sorted(STAGES) and res["timings"] == {}  # nothing ran again
    assert list(res["stage_seconds"]) == list(STAGES)
    assert res["evaluation"]["table"][0]["model"] == "S-WUTON"
    assert res["artifacts"] == ["eval/grid_gt-parse.png", "eval/grid_categories.png"]
    assert res["curves"] == {"teacher": {"l1": [[5, 0.5], [10, 0.25]], "total": [[5, 2.0], [10, 1.5]]}}
    assert res["settings"] == {"size": [128, 96], "seed": 0, "vgg_weights": None, "bench": True}


def test_render_only_needs_only_results_and_grids(demo, monkeypatch):
    import tryon_wuton.experiments.demo as study

    def no_compute(*_a, **_k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(study, "compute", no_compute)
    before, after = rerender(demo, tryon_main, ["demo", "wuton"], keep=("eval",))
    assert after == before
    md = (demo / "report.md").read_text()
    assert "training losses — teacher" in md and "eval/grid_gt-parse.png" in md and "student ×2.50 faster" in md
    # every category: the "all" rows in the main table, each category in its own table, and the category grid
    assert "| gt-parse | S-WUTON | 0.5 |" in md and "| upper | S-WUTON | 0.625 |" in md and "| dress | S-WUTON | 0.375 |" in md
    assert "Grid per garment category" in md and "eval/grid_categories.png" in md
    assert "| 1/7 synthetic data | 1.5 | no (done earlier) |" in md


def test_budgets_and_options():
    import argparse

    from tryon.study import add_study_arguments
    from tryon_wuton.experiments.demo import BUDGETS, NAME, add_arguments

    p = argparse.ArgumentParser()
    add_study_arguments(p, NAME, BUDGETS, default_out="runs/demo")
    add_arguments(p)
    a = p.parse_args([])
    assert (a.budget, a.out, a.size, a.skip_bench, a.render_only) == ("default", "runs/demo", (128, 96), False, False)
    assert list(BUDGETS) == ["tiny", "default", "long"]
    a = p.parse_args(["--budget", "tiny", "--size", "64x48", "--skip-bench"])
    assert (a.budget, a.size, a.skip_bench) == ("tiny", (64, 48), True)
    # no option shadows a budget knob (Study.settings replaces a knob by the option of the same name)
    assert not set(vars(a)) & set(BUDGETS["tiny"])


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    assert tryon_main(["demo", "wuton", "--budget", "tiny", "--size", "64x48", "--skip-bench", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["study"] == "demo-wuton" and not res["resumed"] and "7/7 benchmark" not in res["stage_seconds"]
    assert {"parser", "teacher", "student", "student_noadv"} == set(res["curves"])
    assert res["export"]["parity"] and all((out / a).is_file() for a in res["artifacts"])
    assert (out / "report.html").is_file()


def test_training_time_is_shared_to_meet_the_wall_clock_goal():
    from tryon_wuton.experiments.demo import BUDGETS, TRAIN_SHARES, training_minutes

    goal, reserve = BUDGETS["default"]["wall_minutes"], BUDGETS["default"]["reserve_minutes"]
    assert goal + 1 <= 15  # `make demo` promises <= 15 min on any 2-core CPU; one minute for set-up and slack
    order = list(TRAIN_SHARES)
    # on time: the four models share goal - reserve in proportion 1 : 5 : 2.5 : 2.5, summing to it exactly
    left, given = float(goal), []
    for i in range(len(order)):
        given.append(training_minutes(left, reserve, order[i:]))
        left -= given[-1]
    assert sum(given) == pytest.approx(goal - reserve)  # float sums of four shares: exact to rounding
    assert given[1] == max(given) and given[2] == pytest.approx(given[3])  # same share: equal to rounding
    # a stage that overran leaves less to the rest, never less than the floor
    assert training_minutes(reserve + 1, reserve, order[2:]) == pytest.approx(0.5)  # 1 min, two equal shares
    assert training_minutes(reserve - 3, reserve, order[3:]) == 0.2
