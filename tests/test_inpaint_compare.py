"""Smoke test of benchmarks/inpaint_compare.py (EdiBERT vs GAN inversion, the 000 Table 4.1 analogue): tiny
models, every method runs on the same images and masks and the table, JSON, grid and report are written.
Skipped when either plugin is not installed."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
if importlib.util.find_spec("tryon_gan") is None or importlib.util.find_spec("tryon_edibert") is None:
    pytest.skip("needs both the gan and the edibert plugins", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import inpaint_compare
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return inpaint_compare


@pytest.fixture(scope="module")
def quick_run(bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    res = bench.run_compare(out, dict(bench.QUICK), seed=0, threads=1, log=lambda *_: None)
    return out, res


def test_every_method_on_the_same_inputs(bench, quick_run):
    out, res = quick_run
    names = [r["method"] for r in res["rows"]]
    assert names == [m[0] for m in bench.methods(bench.FULL)]
    assert names[0] == "EdiBERT" and len(names) == 5
    for r in res["rows"]:
        for key in ("masked_l1", "l1_in_hole", "proxy_fid", "density", "coverage", "s_per_image"):
            assert math.isfinite(r[key]), (r["method"], key)
        # untrained tiny models: not zero (no paste-back), within the [-1, 1] range's L1 bound
        assert 0.0 < r["masked_l1"] <= 2.0
        assert 0.0 <= r["coverage"] <= 1.0
    saved = json.loads((out / "results.json").read_text())
    assert saved["rows"] == res["rows"]
    assert saved["settings"]["seed"] == 0 and saved["machine"]["cpu"]
    assert "masked_l1_ratio_optimisation_over_edibert" in saved["ordering"]


def test_outputs_written(quick_run):
    out, res = quick_run
    table = (out / "table.md").read_text()
    assert "| EdiBERT |" in table and "GAN Plumerault" in table and "Machine:" in table
    assert (out / "report.html").is_file()
    assert list(out.glob("grid-*.png")), "the input | mask | methods | truth grid"
    # the two models were trained on ONE folder; evaluation images come from another folder
    assert res["runs"]["train_data"] != res["runs"]["held_out"]
    held = sorted(Path(res["runs"]["held_out"]).glob("*.png"))
    train = {p.read_bytes() for p in Path(res["runs"]["train_data"]).glob("*.png")}
    assert held and not any(p.read_bytes() in train for p in held)


def test_masks_are_fixed_by_the_seed(bench):
    a, b = bench._masks(4, 32, "free-form", 0), bench._masks(4, 32, "free-form", 0)
    assert bool((a == b).all()) and a.shape == (4, 1, 32, 32)
    assert not bool((a == bench._masks(4, 32, "free-form", 1)).all())
    r = bench._masks(4, 32, "rect", 0)
    assert set(r.unique().tolist()) <= {0.0, 1.0} and float(r.mean()) > 0


def test_bad_mask_kind_is_one_clear_error(bench, tmp_path):
    from tryon.errors import InputError

    with pytest.raises(InputError, match="free-form or rect"):
        bench.run_compare(tmp_path, dict(bench.QUICK), masks_kind="circles")


def test_gan_inpaint_takes_a_batch_mask_tensor_like_a_list(bench, quick_run):
    """The benchmark hands both tasks B×1×H×W mask tensors; gan-inpaint reads them as a batch (as EdiBERT does)."""
    import torch

    import tryon

    out, _ = quick_run
    pipe = tryon.load("gan-inpaint", weights=out / "gan-encoder", device="cpu")
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    masks = bench._masks(2, 32, "rect", 0)
    a = pipe(images, masks, method="encoder")
    b = pipe(images, [masks[0], masks[1]], method="encoder")
    assert a.shape == images.shape and torch.allclose(a, b)
    from tryon.compose import seam_width
    from tryon.geometry.masks import dilate

    far = (dilate(masks, 2 * seam_width() + 1) == 0).expand_as(images)  # beyond the paste-back's 3-pixel seam
    assert torch.equal(a[far], images[far])  # paste-back keeps the known pixels
