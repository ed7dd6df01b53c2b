"""Editing through inversion: inpainting fills the masked pixels from the inversion of the known ones and keeps
the rest (bit for bit beyond the core's feathered seam, ``tryon.compose``; 000 §4.2.4.2); compositing/crossover
harmonise a collage; `tryon train gan-invert` + `tryon run gan-inpaint` work."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _inversion_fixtures import TinyGenerator, known_latents  # noqa: E402

from tryon.compose import seam_width  # noqa: E402
from tryon.errors import ImageSizeError, MaskError  # noqa: E402
from tryon.geometry.masks import dilate  # noqa: E402
from tryon_gan.editing import collage, composite, crossover, inpaint, paste  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup():
    g = TinyGenerator(6, seed=0)
    z = known_latents(2, 6, seed=4)
    with torch.no_grad():
        x = g(z)
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 5:11, 3:13] = 1
    return g, x, mask


def test_inpaint_fills_from_known_pixels_and_keeps_the_rest(setup):
    g, x, mask = setup
    damaged = x * (1 - mask) + mask * torch.rand_like(x)  # garbage inside the hole
    res = inpaint(g, damaged, mask, method="optimisation", steps=120, seed=1)
    outside = (dilate(mask, 2 * seam_width() + 1) == 0).expand_as(x)  # beyond the default 3-pixel seam
    assert torch.equal(res.images[outside], damaged[outside])  # known pixels untouched
    hard = inpaint(g, damaged, mask, method="optimisation", steps=2, seed=1, feather=0.0)
    assert torch.equal(hard.images[(mask == 0).expand_as(x)], damaged[(mask == 0).expand_as(x)])
    hole = mask.bool().expand_as(x)
    err_in = float(((res.images - x)[hole] ** 2).mean())
    err_garbage = float(((damaged - x)[hole] ** 2).mean())
    # the hole is refilled from the known pixels: measured MSE 1.2e-7 inside (AVX2 and SSE4.1) against 0.35 for
    # the garbage; 0.01 (0.1 rms in [-1, 1]) separates a recovered hole from an unrecovered one by orders of magnitude
    assert err_in < 0.01 < err_garbage, (err_in, err_garbage)


def test_feathered_paste_and_collage(setup):
    _, x, mask = setup
    dec = torch.zeros_like(x)
    hard = paste(x, dec, mask, 0.0)
    soft = paste(x, dec, mask, 1.5)
    assert torch.equal(hard[mask.bool().expand_as(x)], soft[mask.bool().expand_as(x)])  # inside: all decode
    ring = (soft != hard).any(1)
    assert ring.any() and not (ring & mask[:, 0].bool()).any()
    c = collage(x[:1], x[1:], mask[:1])
    assert torch.equal(c[0][:, 5:11, 3:13], x[1][:, 5:11, 3:13]) and torch.equal(c[0][:, 0], x[0][:, 0])
    with pytest.raises(ImageSizeError):
        collage(x, x[:, :, :8], mask)


def test_composite_and_crossover_shapes_and_errors(setup):
    g, x, mask = setup
    res = crossover(g, x[:1], x[1:], mask[:1], method="optimisation", steps=10)
    assert res.images.shape == (1, 3, 16, 16) and res.inversion.steps.tolist() == [10]
    res2 = composite(g, x, mask, method="optimisation", steps=5, paste_back=False)
    assert torch.equal(res2.images, res2.decoded.clamp(-1, 1))
    with pytest.raises(MaskError):
        inpaint(g, x, torch.zeros(1, 1, 8, 8), steps=1)


def _pipe(cls):
    torch.manual_seed(0)
    return cls(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8, method="encoder").eval()


def test_edit_pipelines_keep_the_users_pixels_by_default():
    """uint8 in, identical uint8 out beyond the seam, through the 20×26 → 16×16 letterbox; ``paste=False`` is the
    raw decode; in the seam band the output lies between the source and the decode."""
    from tryon.testing import assert_pasted_back, seam_regions
    from tryon_gan.pipelines import GanCompositePipeline, GanCrossoverPipeline, GanInpaintPipeline

    rng = np.random.default_rng(0)
    arr = (rng.random((20, 26, 3)) * 255).astype(np.uint8)
    other = (rng.random((20, 26, 3)) * 255).astype(np.uint8)
    m = np.zeros((20, 26), np.uint8)
    m[5:13, 8:18] = 255
    far, _ = seam_regions(m)
    pipe = _pipe(GanInpaintPipeline)
    assert_pasted_back(arr, pipe(arr, m), pipe(arr, m, paste=False), m)
    for cls, args in ((GanCompositePipeline, (arr, m)), (GanCrossoverPipeline, (arr, other, m))):
        res = _pipe(cls)(*args)
        assert np.array_equal(res[far], arr[far])
    hard = pipe(arr, m, feather=0.0)
    assert np.array_equal(hard[m == 0], arr[m == 0])


def test_cli_train_encoder_then_run_inpaint(setup, tmp_path):
    from tryon.cli import main
    from tryon_gan.pipelines import GanInvertPipeline

    gen_dir = tmp_path / "gan"
    torch.manual_seed(0)
    GanInvertPipeline(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8).save_pretrained(gen_dir)
    run = tmp_path / "enc"
    rc = main(["train", "gan-invert", "--generator", str(gen_dir), "--out", str(run), "--steps", "4", "--batch-size", "8",
               "--width", "8", "--inversion-steps", "5", "--log-every", "2", "--ckpt-every", "4", "--no-progress",
               "--device", "cpu"])
    assert rc == 0 and (run / "encoder.safetensors").is_file() and (run / "config.json").is_file()
    ramp = np.linspace(0, 255, 20)
    smooth = np.stack([ramp[None, :].repeat(20, 0), ramp[:, None].repeat(20, 1), np.full((20, 20), 128.0)], -1)
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "a.png")
    m = np.zeros((20, 20), np.uint8)
    m[5:12, 5:12] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    out = tmp_path / "out.png"
    rc = main(["run", "gan-inpaint", "--weights", str(run), "--image", str(tmp_path / "a.png"), "--mask",
               str(tmp_path / "m.png"), "--out", str(out), "--device", "cpu"])
    assert rc == 0 and Image.open(out).size == (20, 20)
    src, res = np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(out))
    # pixels beyond the seam are the input's, bit for bit, despite the letterbox round trip (resize 20 → 16 → 20)
    assert np.array_equal(src[15:, :], res[15:, :])
    m_bad = tmp_path / "m_bad.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(m_bad)
    assert main(["run", "gan-inpaint", "--weights", str(run), "--image", str(tmp_path / "a.png"), "--mask", str(m_bad),
                 "--out", str(tmp_path / "o2.png"), "--device", "cpu"]) != 0
