"""Editing through inversion: inpainting fills the masked pixels from the inversion of the known ones and keeps
the rest; compositing/crossover harmonise a collage; `tryon train gan-encoder` + `tryon run gan-inpaint` work."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _inversion_fixtures import TinyGenerator, known_latents  # noqa: E402

from tryon.errors import ImageSizeError, MaskError  # noqa: E402
from tryon_gan.editing import collage, composite, crossover, inpaint, paste  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    outside = (1 - mask).bool().expand_as(x)
    assert torch.equal(res.images[outside], damaged[outside])  # hard paste: known pixels untouched
    hole = mask.bool().expand_as(x)
    err_in = float(((res.images - x)[hole] ** 2).mean())
    err_garbage = float(((damaged - x)[hole] ** 2).mean())
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


def test_cli_train_encoder_then_run_inpaint(setup, tmp_path):
    from tryon.cli import main
    from tryon_gan.inversion.pipeline import GanInvertPipeline

    gen_dir = tmp_path / "gan"
    torch.manual_seed(0)
    GanInvertPipeline(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8).save_pretrained(gen_dir)
    run = tmp_path / "enc"
    rc = main(["train", "gan-encoder", "--generator", str(gen_dir), "--out", str(run), "--steps", "4", "--batch-size", "8",
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
    # pixels far outside the mask survive the letterbox round trip (resize 20 → 16 → 20 blurs a little)
    assert np.abs(src[15:, :].astype(int) - res[15:, :].astype(int)).mean() < 12
    m_bad = tmp_path / "m_bad.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(m_bad)
    assert main(["run", "gan-inpaint", "--weights", str(run), "--image", str(tmp_path / "a.png"), "--mask", str(m_bad),
                 "--out", str(tmp_path / "o2.png"), "--device", "cpu"]) != 0
