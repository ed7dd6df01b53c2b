"""S-WUTON split export (catalogue mode): ``tryon export wuton-student --split`` writes garment / person / pair
graphs whose chain meets the export's parity criterion and reproduces the monolithic graph, and a catalogue grid equals the
per-pair monolithic outputs. 64×48, random weights with a non-identity TPS, default (dynamo) exporter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tryon
from tryon.export import export_onnx

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def student64():
    torch.manual_seed(0)
    pipe = tryon.load("wuton-student", device="cpu", size=[64, 48]).eval()
    with torch.no_grad():  # a non-identity TPS, so every grid_sample does real work
        pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
    return pipe


@pytest.fixture(scope="module")
def split64(student64, tmp_path_factory):
    out = tmp_path_factory.mktemp("split") / "wuton-student"
    manifest = export_onnx(student64, "student", out, opset=17, parity_batches=(1, 3), split=True)
    return student64, out, manifest


def test_torch_branches_and_head_equal_the_generator(student64) -> None:
    from tryon_wuton.models import WUTONExport
    from tryon_wuton.split import split_graphs

    pipe = student64
    gen = torch.Generator().manual_seed(1)
    person, garment = (torch.rand(2, 3, 64, 48, generator=gen) * 2 - 1 for _ in range(2))
    g_spec, p_spec, head_spec = split_graphs(pipe)
    with torch.no_grad():
        ref = WUTONExport(pipe.generator).eval()(person, garment)
        gf, pf = g_spec.build(pipe)(garment), p_spec.build(pipe)(person)
        out = head_spec.build(pipe)(garment, *gf, *pf)
        # a branch's output for one image does not depend on the rest of the batch (instance norm per image).
        # torch picks other conv kernels at batch 1: rounding of ~1e-6, except on the coarsest scale, where
        # instance norm over a 2x1 map divides by the spread of two nearly equal values (measured 2.4e-4 at
        # this seed); depending on the batch would show as O(1) differences
        alone = g_spec.build(pipe)(garment[1:])
    assert len(gf) == len(g_spec.outputs) == 6 and len(pf) == len(p_spec.outputs) == 6
    assert [tuple(f.shape[1:]) for f in gf[:5]] == [(16, 32, 24), (32, 16, 12), (64, 8, 6), (128, 4, 3), (256, 2, 1)]
    # the person's decoder terms, coarsest level first: each level's output channels at that level's input scale
    assert [tuple(f.shape[1:]) for f in pf[:5]] == [(128, 2, 1), (64, 4, 3), (32, 8, 6), (16, 16, 12), (16, 32, 24)]
    image_error = float((out[0] - ref[0]).abs().max())
    assert torch.equal(out[1], ref[1])  # T_θ(c): the same operations on the same values
    # the decoder adds the person's precomputed terms (tryon.nn.split_decoder): the same float32 products summed
    # in another order, measured 9.0e-7 on an image in [-1, 1]; 10x that
    assert image_error <= 1e-5, image_error
    errors = [float((a[0] - b[1]).abs().max()) for a, b in zip(alone, gf)]
    # bounds: 20x the ~1e-6 rounding of the fine scales, 4x the measured 2.4e-4 of the coarsest (instance norm
    # over two values); a batch dependence would be O(1)
    assert max(errors[:4]) <= 2e-5 and max(errors) <= 1e-3, errors


def test_split_export_parity_and_manifest(split64) -> None:
    _, out, manifest = split64
    on_disk = json.loads((out / "manifest.json").read_text())
    assert [g["name"] for g in on_disk["graphs"]] == ["garment", "person", "pair"]
    assert {g["name"]: g["branch_of"] for g in on_disk["graphs"]} == {"garment": "garment", "person": "person", "pair": None}
    split = on_disk["split"]
    sp, mono = split["parity"], on_disk["parity"]
    # the chain meets the criterion of model.onnx (float64 reference, tryon.export.parity) ...
    assert sp["criterion"] == "float64" and all(sp["error_vs_float64"][n] <= sp["bound"][n] for n in sp["bound"])
    assert set(sp["by_output"]) == {"image", "warped_garment"}
    # ... and equals model.onnx up to rounding: both are within the bound of the same float64 run (triangle
    # inequality); measured 0 (same onnxruntime kernels on the same values)
    assert split["vs_model"]["max_abs_error"] <= max(sp["bound"].values()) + max(mono["bound"].values())
    # fp16-stored features: rounding to 11 bits (2^-11 relative, any ISA) passed through the pair head;
    # measured 3e-3 at 64x48, so 2e-2 leaves a ~7x margin
    assert 0 < split["fp16_features"]["max_abs_error"] < 2e-2
    ops = {g["name"]: g["ops"] for g in on_disk["graphs"]}
    assert ops["pair"].get("GridSample") == 6 and "GridSample" not in ops["garment"] and "GridSample" not in ops["person"]
    assert ops["garment"].get("InstanceNormalization") and ops["person"].get("InstanceNormalization")
    # the branches carry most of the weights; the head holds the regressor and the decoder
    sizes = {g["name"]: g["bytes"] for g in on_disk["graphs"]}
    assert sizes["garment"] > sizes["pair"] and sizes["person"] > sizes["pair"]
    # the head pruned to the main output: the image does not need the pixel warp T_theta(c), so the garment's
    # pixels are no input of it and its nodes are dropped; the same nodes on the same values give the same image
    (pruned,) = on_disk["graphs"][-1]["pruned"]
    assert pruned["outputs"] == ["image"] and pruned["file"] == "pair-image.onnx" and (out / pruned["file"]).is_file()
    assert "garment" not in pruned["inputs"] and pruned["nodes_dropped"] > 0
    assert pruned["max_abs_vs_head"] == 0.0  # measured 0: onnxruntime runs the kept nodes unchanged


def test_catalogue_grid_equals_per_pair_monolithic_outputs(split64) -> None:
    from tryon.runtime import CatalogueSession, TryOnSession

    pipe, out, _ = split64
    rng = np.random.default_rng(0)
    persons = [rng.integers(0, 255, (100, 70, 3), dtype=np.uint8), rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)]
    garments = [rng.integers(0, 255, (90, 60, 3), dtype=np.uint8) for _ in range(3)]
    cat = CatalogueSession(out, intra_op_threads=2)
    mono = TryOnSession(out, intra_op_threads=2)
    grid = cat.grid(persons, garments)
    for i, p in enumerate(persons):
        for j, g in enumerate(garments):
            diff = np.abs(grid[i][j].astype(int) - mono(p, g).astype(int))
            # the split decoder sums the person's terms in another order (tryon.nn.split_decoder): float differences
            # of ~1e-6 flip the 8-bit rounding of a few values by one level (measured: 0 to 0.011 % of them; 1 % bound)
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (i, j, diff.max(), (diff > 0).mean())
    assert cat.stats()["computed"] == {"person": 2, "garment": 3} and cat.stats()["head_items"] == 6
    assert "pair-image.onnx" in cat.sessions  # the default (main output only) ran the pruned head
    full = cat.grid(persons[:1], garments[:1], return_all=True)[0][0]  # both outputs: the full head
    assert np.array_equal(full["image"], grid[0][0]) and full["warped_garment"].shape == grid[0][0].shape
    plain = CatalogueSession(out, intra_op_threads=2, pruned_heads=False)
    assert np.array_equal(plain.grid(persons[:1], garments[:1])[0][0], grid[0][0]) and "pair-image.onnx" not in plain.sessions
    ref = pipe(person=persons[0], garment=garments[1])  # and the torch pipeline, up to uint8 rounding
    assert int(np.abs(grid[0][1].astype(int) - ref.astype(int)).max()) <= 1
