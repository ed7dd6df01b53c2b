"""`tryon demo edibert` is a study: one tiny run (`--quick`, the alias of `--budget tiny`) writes results.json with the
machine facts, the real-photo inpainting next to OpenCV Telea and the grids; `--render-only` re-creates the report
from results.json and the grids alone, without computing."""

from __future__ import annotations

import json

import pytest

from tryon.cli import main as tryon_main
from tryon.testing import rerender


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-edibert") / "demo"
    assert tryon_main(["demo", "edibert", "--quick", "--no-progress", "--out", str(out)]) == 0
    return out


def test_tiny_run_records_the_study_and_its_numbers(demo):
    res = json.loads((demo / "results.json").read_text())
    assert res["study"] == "demo-edibert" and res["budget"]["name"] == "tiny"  # --quick is --budget tiny
    assert res["machine"]["cpu"] and isinstance(res["machine"]["isa"], list) and res["versions"]["tryon"]
    assert len(res["ablation"]) == 6 and len(res["timing"]) == 4
    assert set(res["timing_target"]) >= {"met", "sampler", "speed_up", "l1_vs_one_token"}
    assert set(res["curves"]) == {"vqgan", "edibert"} and all(res["curves"].values())
    assert {"data", "train edibert-vqgan", "ablation", "real photo crops"} <= set(res["timings"])
    real = res["real_images"]
    assert real["n"] == 8 and real["hole"] == [12, 12] and real["sources"] == ["coffee", "rocket", "camera"]
    assert set(real["l1_hole"]) == {"EdiBERT (this demo)", "OpenCV Telea"}
    # pixels in [0, 1]: a mean absolute error in the hole lies in [0, 1] by construction; Telea fills from the rim,
    # so it is never exact on photo crops
    assert all(0 < v <= 1 for v in real["l1_hole"].values())
    assert real["columns"] == ["input", "mask", "EdiBERT", "Telea", "truth"]
    assert res["artifacts"] == ["grids/ablation.png", "grids/denoise.png", "grids/composite.png", "grids/real-inpaint.png"]
    assert all((demo / a).is_file() for a in res["artifacts"])
    md = (demo / "report.md").read_text()
    assert "Real photographs" in md and "trained on procedural scenes only" in md and "benchmarks/real_inpaint.py" in md


def test_render_only_needs_only_results_and_grids(demo, monkeypatch, capsys):
    import tryon_edibert.experiments.demo as study

    def no_compute(*_a, **_k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(study, "compute", no_compute)
    capsys.readouterr()
    before, after = rerender(demo, tryon_main, ["demo", "edibert"], keep=("grids",))
    assert after == before
    assert "real photo crops, hole L1" in capsys.readouterr().out
