"""The AVAE pipelines: weights round-trip through safetensors, inputs of every kind come back in their kind and size,
the latent can be edited between encoder and generator, and the encoder exports to ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import tryon
from tryon.errors import InputError
from tryon_control.pipelines import AvaeGeneratePipeline, AvaeReconstructPipeline


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return AvaeReconstructPipeline(data_shape=[1, 16, 16], latent_dim=4, noise_dim=4, width=4, letterbox_fill=-1.0).eval()


def test_save_and_load_give_the_same_outputs_in_both_tasks(pipe, tmp_path) -> None:
    pipe.save_pretrained(tmp_path / "w")
    files = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert files == ["config.json", "critic.safetensors", "decoder.safetensors", "encoder.safetensors", "generator.safetensors"]
    again = tryon.load("avae-reconstruct", weights=tmp_path / "w", device="cpu")
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    a, b = pipe(x, seed=3), again(x, seed=3)
    assert torch.equal(a.image, b.image) and torch.equal(a.decoded, b.decoded) and torch.equal(a.latents, b.latents)
    gen = tryon.load("avae-generate", weights=tmp_path / "w", device="cpu")
    assert isinstance(gen, AvaeGeneratePipeline) and gen.config["letterbox_fill"] == -1.0
    res = gen(n=5, seed=2)
    assert res.samples.shape == (5, 1, 16, 16) and res.latents.shape == (5, 4) and res.stats.returned == 5
    assert gen(n=5, seed=2, decoder=True).samples.shape == (5, 1, 16, 16)


def test_inputs_come_back_in_their_kind_and_size(pipe) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = pipe(arr)
    assert isinstance(out.image, np.ndarray) and out.image.shape == (20, 30, 3) and out.decoded.shape == (20, 30, 3)
    img = pipe(Image.fromarray(arr)).image
    assert isinstance(img, Image.Image) and img.size == (30, 20)
    batch = pipe([Image.fromarray(arr), Image.fromarray(arr[:10])])
    assert [im.size for im in batch.image] == [(30, 20), (30, 10)] and batch.latents.shape == (2, 4)


def test_the_latent_can_be_edited_between_encoder_and_generator(pipe) -> None:
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 2 - 1
    plain = pipe(x, seed=0)
    moved = pipe(x, latent_shift=[2.0, 0.0, 0.0, 0.0], seed=0)
    assert torch.equal(moved.latents - plain.latents, torch.tensor([[2.0, 0.0, 0.0, 0.0]]))
    assert not torch.equal(moved.image, plain.image)
    # the same latent and ξ give the same image: the edit is the shift alone (a grey model's output comes back as RGB)
    assert torch.equal(pipe.generate(moved.latents, seed=0).clamp(-1, 1).repeat(1, 3, 1, 1), moved.image)
    with pytest.raises(InputError, match="latent_shift"):
        pipe(x, latent_shift=[1.0, 2.0])
    assert not torch.equal(pipe(x, sample=True, seed=1).latents, plain.latents)  # z = μ + σ ε


def test_a_model_of_points_takes_and_returns_points() -> None:
    torch.manual_seed(0)
    toy = AvaeReconstructPipeline(data_shape=[2], arch="mlp", latent_dim=1, data_scale=[3.0, 1.0]).eval()
    out = toy(torch.randn(7, 2))
    assert out.image.shape == (7, 2) and out.decoded.shape == (7, 2) and out.latents.shape == (7, 1)
    with pytest.raises(InputError, match="N×2"):
        toy(torch.randn(7, 3))


def test_the_encoder_exports_to_onnx_within_the_parity_bound(pipe, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from tryon.export.onnx import export_onnx

    spec = next(e for e in tryon.get_task("avae-reconstruct").exportable if e.name == "encoder")
    manifest = export_onnx(pipe, spec, tmp_path / "enc", parity_batches=(1, 3))
    p = manifest["parity"]  # the ISA-independent criterion (tryon.export.parity) against a float64 run
    assert p["criterion"] == "float64" and all(p["error_vs_float64"][n] <= p["bound"][n] for n in p["bound"])
    assert [o["name"] for o in manifest["outputs"]] == ["latent"]
    toy = AvaeReconstructPipeline(data_shape=[2], arch="mlp", latent_dim=1)
    with pytest.raises(InputError, match="model of images"):
        spec.build(toy)
