"""`tryon demo control` is a study: a tiny run trains every section's models for a few steps, writes results.json with
the machine facts, the tables and the grids; `--render-only` re-creates the same report from results.json and the
grids alone, without training."""

from __future__ import annotations

import json

import pytest

from tryon.cli import main as tryon_main
from tryon.testing import rerender


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-control") / "demo"
    assert tryon_main(["demo", "control", "--budget", "tiny", "--threads", "1", "--out", str(out)]) == 0
    return out


def test_tiny_run_records_every_section(demo):
    from tryon_control.experiments.demo import AVAE_MODELS

    res = json.loads((demo / "results.json").read_text())
    assert res["study"] == "demo-control" and res["budget"]["name"] == "tiny"
    assert res["machine"]["cpu"] and isinstance(res["machine"]["isa"], list)
    assert [r["model"] for r in res["avae"]["summary"]] == list(AVAE_MODELS)
    assert all(v == 3 for v in res["avae"]["steps_done"].values())
    assert res["avae"]["summary"][0]["mse"]["mean"] > 0 and "mse" not in res["avae"]["summary"][2]  # the GAN has no encoder
    bv = res["betavae"]
    assert [r["beta"] for r in bv["summary"]] == [1.0, 10.0] and bv["settings"]["steps"] == 5
    assert len(next(iter(bv["per_seed"].values()))["1"]["protocol"]["per_t"]) == 11  # t = −5 … 5
    assert bv["claim"]["verdict"] in ("held", "not held") and "shown" not in bv
    sc = res["scenes"]
    assert sc["steps"] == 3 and set(sc["metrics"]) >= {"ap50", "ap", "count_error", "calls"}
    assert 0 <= sc["metrics"]["ap50"] <= 1 and sc["metrics"]["calls"] <= 64  # at most 4x4 cells x K = 4 object-VAE calls
    assert set(res["timings"]) == {"AVAE", "beta-VAE directions", "multi-object scenes"}
    assert res["artifacts"] and all((demo / a).is_file() for a in res["artifacts"])


def test_render_only_needs_only_results_and_grids(demo, monkeypatch):
    import tryon_control.experiments.demo as study

    def no_compute(*_a, **_k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(study, "compute", no_compute)
    before, after = rerender(demo, tryon_main, ["demo", "control"], keep=("grids",))
    assert after == before
    assert "tiny smoke run" in (demo / "report.md").read_text()
