"""The real-image studies (benchmarks/real_inpaint.py, benchmarks/vqgan_recipe.py): a tiny run writes results.json and
renders from it; --render-only re-creates the same table without computing; and every table committed under
docs/results/ is exactly what its results file renders to (the docs' figures come from results files)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("skimage", reason="the photo crops come from scikit-image's bundled photos (dev extra)")
pytest.importorskip("cv2", reason="the OpenCV baselines need opencv")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["real_inpaint", "vqgan_recipe", "real_table41"])
def test_tiny_run_then_render_only_without_computing(name: str, tmp_path: Path, monkeypatch) -> None:
    from tryon.study import load_results

    mod = _script(name)
    assert mod.main(["--budget", "tiny", "--out", str(tmp_path)]) == 0
    res = load_results(tmp_path)
    assert res["study"] == name.replace("_", "-") and res["machine"]["isa"] is not None and res["rows"]
    table = (tmp_path / "table.md").read_text()
    (tmp_path / "table.md").unlink()

    def no_compute(*a, **k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(mod, "compute", no_compute)
    assert mod.main(["--out", str(tmp_path), "--render-only"]) == 0
    assert (tmp_path / "table.md").read_text() == table


def test_tiny_real_inpaint_scores_the_baselines_and_keeps_pixels(tmp_path: Path) -> None:
    from tryon.study import load_results

    _script("real_inpaint").main(["--budget", "tiny", "--out", str(tmp_path)])
    rows = {r["method"]: r for r in load_results(tmp_path)["summary"]}
    assert set(rows) == {"telea", "ns", "mean"}
    # OpenCV and mean fill copy the kept pixels: the change outside the hole is exactly 0
    assert all(r["l1_outside"] == 0.0 for r in rows.values())
    # on smooth photo crops OpenCV's diffusion fills beat a flat colour (docs/results/real-inpaint: 0.037 vs 0.068)
    assert rows["telea"]["l1_hole"] < rows["mean"]["l1_hole"]


def test_tiny_table41_keeps_the_source_outside_the_mask_for_the_opencv_rows(tmp_path: Path) -> None:
    """Without weights the Table 4.1 study scores OpenCV's rows and the collage: each keeps the source outside the
    mask exactly (masked L1 0), the collage keeps the pasted pixels (inside L1 0) and Poisson blending changes them."""
    from tryon.study import load_results

    _script("real_table41").main(["--budget", "tiny", "--out", str(tmp_path)])
    rows = {(r["task"], r["method"]): r for r in load_results(tmp_path)["summary"]}
    assert set(rows) == {("inpaint", "telea"), ("composite", "collage"), ("composite", "poisson")}
    assert all(r["masked_l1"] == 0.0 for r in rows.values())
    assert rows[("composite", "collage")]["inside_l1"] == 0.0 < rows[("composite", "poisson")]["inside_l1"]


def test_tiny_table42_runs_every_ablation_row_on_a_trained_edibert(tmp_path: Path) -> None:
    """The Table 4.2 ablation on photo crops with an EdiBERT trained for a few steps here: every row of the seed's
    table is scored in every seed, each claim gets a verdict, and the raw decodes change pixels outside the mask."""
    pytest.importorskip("tryon_edibert", reason="the ablation runs the EdiBERT plugin")
    from tryon.data.photos import ensure_photo_crops
    from tryon.study import load_results

    data = ensure_photo_crops(tmp_path / "data", size=32, train=32, test=16)
    compare = _script("inpaint_compare")
    run, _ = compare.train_edibert_side(tmp_path, data / "train", {**compare.FULL, **compare.QUICK}, 0, None, lambda *_: None)
    mod = _script("real_table42")
    assert mod.main(["--budget", "tiny", "--out", str(tmp_path / "out"), "--data", str(data), "--edibert", run]) == 0
    res = load_results(tmp_path / "out")
    assert {r["variant"] for r in res["rows"]} == set(mod.SEED_TABLE) and len(res["verdicts"]) == len(mod.CLAIMS)
    assert all(r["masked_l1"] > 0 for r in res["rows"])  # raw decodes: the tokenizer redraws the kept pixels too


def committed_results() -> list[Path]:
    return sorted((ROOT / "docs" / "results").glob("*/results.json"))


@pytest.mark.parametrize("results", committed_results(), ids=lambda p: p.parent.name)
def test_committed_tables_are_rendered_from_their_results(results: Path, tmp_path: Path) -> None:
    """Every results file under docs/results/ names its study, and the study's script renders exactly the committed
    table from it (``--render-only``): the docs' tables come from results files, not from hand edits."""
    import json

    study = json.loads(results.read_text(encoding="utf-8"))["study"]
    script = ROOT / "benchmarks" / (study.replace("-", "_") + ".py")
    assert script.is_file(), f"{results}: no benchmark script {script.name} for study {study!r}"
    shutil.copytree(results.parent, tmp_path, dirs_exist_ok=True)  # the results and the images they name
    (tmp_path / "table.md").unlink(missing_ok=True)
    assert _script(script.stem).main(["--out", str(tmp_path), "--render-only"]) == 0
    committed = results.with_name("table.md")
    if committed.is_file():
        assert (tmp_path / "table.md").read_text() == committed.read_text()
