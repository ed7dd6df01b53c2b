"""Editing pipelines: Alg. 7 switches, token locality, samplers through the registry, input errors via
`tryon run`."""

import numpy as np
import pytest
import torch
from PIL import Image

import tryon
from tryon.cli import main as tryon_main

FAST = {"epochs": 1, "optim_steps": 0, "top_k": 20}


def _mask(h=32, w=32, box=(10, 22, 8, 20)):
    m = torch.zeros(1, 1, h, w)
    m[..., box[0] : box[1], box[2] : box[3]] = 1
    return m


def _image(seed=0, h=32, w=32):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_inpaint_keeps_tokens_outside_dilated_mask(tiny_model):
    x, m = _image(), _mask()
    out, rec = tiny_model.edit_tensors(x, m, inpainting=True, **FAST, collage=True, collages_per_epoch=2)
    outside = ~rec["latent_mask_dilated"]
    assert torch.equal(rec["tokens_sampled"][outside], rec["tokens_source"][outside])
    assert not torch.equal(rec["tokens_sampled"][~outside], rec["tokens_source"][~outside])
    assert out.shape == x.shape


@pytest.mark.parametrize("switch", [{"randomize": False}, {"dilation": 0}, {"collage": False},
                                    {"sampler": "random"}, {"sampler": "raster"}, {"sampler": "spiral-rings"},
                                    {"optim_steps": 2}, {"top_k": 1}])
def test_each_switch_changes_output(tiny_model, switch):
    x, m = _image(), _mask()
    base = {**FAST, "collages_per_epoch": 2, "seed": 3}
    ref, _ = tiny_model.edit_tensors(x, m, inpainting=True, **base)
    alt, _ = tiny_model.edit_tensors(x, m, inpainting=True, **{**base, **switch})
    assert not torch.allclose(ref, alt)


def test_samplers_cost_one_token_vs_batched(tiny_model):
    x, m = _image(), _mask()
    _, one = tiny_model.edit_tensors(x, m, inpainting=True, **FAST, collage=False)
    _, rings = tiny_model.edit_tensors(x, m, inpainting=True, **FAST, collage=False, sampler="spiral-rings")
    n = int(one["latent_mask_dilated"].sum())
    assert one["stats"].model_calls == n and rings["stats"].model_calls < n / 3
    assert sorted(rings["visits"]["visits"][0]) == sorted(one["visits"]["visits"][0])
    _, ll = tiny_model.edit_tensors(x, m, inpainting=True, **FAST, collage=False, sampler="least-likely",
                                    sampler_options={"steps": 4})
    assert ll["stats"].model_calls == 4 and len(set(ll["visits"]["visits"][0])) == n


def test_kinds_sizes_batches_and_empty_mask(tiny_model):
    arr = (np.random.default_rng(0).random((30, 26, 3)) * 255).astype(np.uint8)
    mask = np.zeros((30, 26), np.uint8)
    mask[8:20, 6:18] = 255
    out = tiny_model(arr, mask, **FAST)
    assert isinstance(out, np.ndarray) and out.shape == arr.shape
    outs = tiny_model([Image.fromarray(arr)] * 2, mask, **FAST)
    assert isinstance(outs, list) and outs[0].size == (26, 30)
    with pytest.warns(UserWarning, match="nothing to edit"):
        same = tiny_model(arr, np.zeros((30, 26), np.uint8), **FAST)
    assert np.array_equal(same, arr)


def _same_weights(cls, model):
    other = cls(**model.config)
    for name, comp in model.components().items():
        getattr(other, name).load_state_dict(comp.state_dict())
    return other.eval()


def test_composite_and_crossover_paste_other_inside(tiny_model):
    from tryon_edibert.pipelines import CompositePipeline, CrossoverPipeline

    x, other, m = _image(0), _image(1), _mask()
    crossed = _same_weights(CrossoverPipeline, tiny_model)(x, other, m, **FAST, seed=1)
    pasted = x * (1 - m) + other * m  # eq. 4.2.8: the crossover is the composite of the pasted image
    composited = _same_weights(CompositePipeline, tiny_model)(pasted, m, **FAST, seed=1)
    assert torch.allclose(crossed, composited)
    assert not torch.allclose(crossed, _same_weights(CompositePipeline, tiny_model)(x, m, **FAST, seed=1))


def test_edits_keep_the_users_pixels_by_default(tiny_model):
    """000 §4.2.4.2 (î ⊙ (1 − m) = i ⊙ (1 − m)): uint8 in, identical uint8 out beyond the seam, for a size that is
    padded inside (30×26); ``paste=False`` is the raw decode; the seam band is a blend of the two."""
    from tryon.testing import assert_pasted_back, seam_regions
    from tryon_edibert.pipelines import CompositePipeline, CrossoverPipeline, DenoisePipeline

    rng = np.random.default_rng(0)
    arr = (rng.random((30, 26, 3)) * 255).astype(np.uint8)
    other = (rng.random((30, 26, 3)) * 255).astype(np.uint8)
    m = np.zeros((30, 26), np.uint8)
    m[8:20, 6:18] = 255
    far, _ = seam_regions(m)
    out, raw = tiny_model(arr, m, **FAST), tiny_model(arr, m, **FAST, paste=False)
    assert_pasted_back(arr, out, raw, m)
    for res in (_same_weights(CompositePipeline, tiny_model)(arr, m, **FAST),
                _same_weights(CrossoverPipeline, tiny_model)(arr, other, m, **FAST),
                _same_weights(DenoisePipeline, tiny_model)(arr, mask=m, steps=3).image):
        assert np.array_equal(res[far], arr[far])
    free = _same_weights(DenoisePipeline, tiny_model)(arr, steps=3).image  # no mask: the whole image is the edit
    assert not np.array_equal(free[far], arr[far])


def test_denoise_heatmap_and_positions(edibert_run):
    pipe = tryon.load("edibert-denoise", weights=edibert_run[0], device="cpu")
    arr = (np.random.default_rng(1).random((32, 24, 3)) * 255).astype(np.uint8)
    res = pipe(arr, steps=5)
    assert res.image.shape == arr.shape and res.heatmap.shape == (32, 24)
    assert 0 <= res.heatmap.min() and res.heatmap.max() == pytest.approx(1.0)


def _png(path, arr):
    Image.fromarray(arr).save(path)
    return str(path)


def test_tryon_run_and_its_errors(edibert_run, vqgan_run, tmp_path, capsys):
    img = _png(tmp_path / "a.png", (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8))
    m = np.zeros((32, 32), np.uint8)
    m[8:20, 8:20] = 255
    good = _png(tmp_path / "m.png", m)
    small = _png(tmp_path / "small.png", m[:16])
    soft = _png(tmp_path / "soft.png", np.full((32, 32), 128, np.uint8))
    base = ["run", "edibert-inpaint", "--weights", edibert_run[0], "--image", img, "--device", "cpu",
            "--set", "optim_steps=0", "--set", "epochs=1"]
    assert tryon_main(base + ["--mask", good, "--out", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (32, 32)
    cases = [(small, "32×32"), (soft, "binary")]
    for mask, words in cases:
        capsys.readouterr()
        assert tryon_main(base + ["--mask", mask, "--out", str(tmp_path / "bad.png")]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "mask" in err and words in err
        assert not (tmp_path / "bad.png").exists()
    capsys.readouterr()
    assert tryon_main(["run", "edibert-inpaint", "--weights", vqgan_run[0], "--image", img, "--mask", good,
                       "--out", str(tmp_path / "bad.png"), "--device", "cpu"]) == 1
    assert "edibert-vqgan" in capsys.readouterr().err
    capsys.readouterr()
    assert tryon_main(["run", "edibert-denoise", "--weights", edibert_run[0], "--image", img, "--all-outputs",
                       "--set", "steps=3", "--out", str(tmp_path / "dn.png"), "--device", "cpu"]) == 0
    assert (tmp_path / "dn_heatmap.png").exists() or any("heatmap" in p.name for p in tmp_path.iterdir())
