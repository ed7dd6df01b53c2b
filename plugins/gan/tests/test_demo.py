"""`tryon demo gan` is a study: one tiny run (`--quick`, the alias of `--budget tiny`) trains the toys and the inversion
encoder in compute and writes results.json with the machine facts and the grids; `--render-only` re-creates the
report from results.json and the grids alone, without training anything."""

from __future__ import annotations

import json

import pytest

from tryon.cli import main as tryon_main
from tryon.testing import rerender


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-gan") / "demo"
    assert tryon_main(["demo", "gan", "--quick", "--out", str(out)]) == 0
    return out


def test_tiny_run_records_the_study_and_its_numbers(demo):
    from tryon_gan.experiments.demo import GRIDS
    from tryon_gan.experiments.inversion import GRIDS as INVERSION_GRIDS

    res = json.loads((demo / "results.json").read_text())
    assert res["study"] == "demo-gan" and res["budget"]["name"] == "tiny"  # --quick is --budget tiny
    assert res["machine"]["cpu"] and isinstance(res["machine"]["isa"], list) and res["versions"]["tryon"]
    assert set(res["settings"]["steps"].values()) == {20} and res["settings"]["n"] == 200
    assert [r["sampler"] for r in res["nine"]["rows"]] == ["WGAN-GP", "JBT 90%", "JBT 70%"]
    assert len(res["nine"]["marginal_precision_deciles"]) == 10 and "images" not in res["nine"]
    assert len(res["grid"]["rows"]) == 2 and set(res["rw25"]["cost"]) >= {"t_G", "pred_SIR(10)"}
    assert [r["loss"] for r in res["digits"]["rows"]] == ["nonsaturating", "wgan", "hinge", "san"]
    # the inversion section is computed here now (it used to train its encoder while the report was written)
    inv = res["inversion"]
    assert inv["budget"] == "tiny" and [r[0] for r in inv["reconstruction"]] == ["optimisation", "encoder", "hybrid",
                                                                                  "plumerault"]
    assert len(inv["directions"]) == 4 and "GAN inversion" in res["timings"]
    assert res["artifacts"] == [*GRIDS.values(), *INVERSION_GRIDS.values()]
    assert all((demo / a).is_file() for a in res["artifacts"])


def test_render_only_needs_only_results_and_grids(demo, monkeypatch):
    import tryon_gan.experiments.demo as study
    import tryon_gan.experiments.inversion as inversion

    def no_compute(*_a, **_k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(study, "compute", no_compute)
    monkeypatch.setattr(inversion, "inversion_study", no_compute)
    before, after = rerender(demo, tryon_main, ["demo", "gan"], keep=("grids",))
    assert after == before
    md = (demo / "report.md").read_text()
    assert "## GAN inversion" in md and "tiny smoke run" in md
