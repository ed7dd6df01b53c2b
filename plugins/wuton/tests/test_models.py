"""WUTON networks (000 §4.3.3.1, App. E): shapes, identity θ, correlation map, export friendliness."""

from __future__ import annotations

import pytest
import torch

from tryon_wuton.models import (
    WUTON,
    FeatureCorrelation,
    GeometricMatcher,
    WUTONExport,
    build_discriminator,
    l2_normalise,
)

SIZE = (64, 48)


@pytest.fixture(scope="module")
def model() -> WUTON:
    torch.manual_seed(0)
    return WUTON(size=SIZE)


def _images(b: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, *SIZE, generator=g) * 2 - 1, torch.rand(b, 3, *SIZE, generator=g) * 2 - 1


def test_forward_shapes_and_identity_start(model: WUTON) -> None:
    person, garment = _images(3)
    model.train()
    image, theta = model(person, garment)
    assert image.shape == (3, 3, *SIZE)
    assert theta.shape == (3, 50)
    assert float(image.abs().max()) <= 1.0  # tanh output
    # FC zero-initialised: θ = 0 (identity TPS) at the start of training
    assert float(theta.abs().max()) == 0.0


def test_feature_sizes_and_precomputed_tps_buffers(model: WUTON) -> None:
    assert model.feature_sizes == [(32, 24), (16, 12), (8, 6), (4, 3), (2, 1)]
    # one constant basis per encoder scale + the image size (for warp_garment), no on-the-fly build
    assert set(model.tps.sizes) == set(model.feature_sizes) | {SIZE}
    buffers = dict(model.tps.named_buffers())
    for h, w in model.feature_sizes:
        assert f"_M_{h}x{w}" in buffers and buffers[f"_M_{h}x{w}"].shape == (h * w, 25)


def test_zero_theta_warp_is_identity_at_every_scale(model: WUTON) -> None:
    person, garment = _images(2, seed=1)
    feats = model.garment_encoder(garment)
    theta = torch.zeros(2, 50)
    warped = model.warp_features(feats, theta)
    assert len(warped) == 5
    for f, w in zip(feats, warped):
        assert w.shape == f.shape
        # grid_sample at the TPS's zero-θ grid (6e-8 off the pixel centres): measured <= 1.6e-6 per scale and 1.9e-6 for
        # the garment image, AVX2 and SSE4.1 alike; 5x margin (tests/test_tps.py derives this error term by term)
        assert float((w - f).abs().max()) < 1e-5
    assert float((model.warp_garment(garment, theta) - garment).abs().max()) < 1e-5


def test_nonzero_theta_moves_features_and_garment_fill_is_white(model: WUTON) -> None:
    garment = torch.full((1, 3, *SIZE), -1.0)  # black garment filling the frame
    theta = torch.full((1, 50), 0.0)
    theta[0, 0::2] = 0.6  # every control point samples 0.6 to the right: the right border goes out of frame
    out = model.warp_garment(garment, theta)
    # out of the source image = the garment background (white, +1), not zero-padding grey
    # the right column samples outside the frame: the white fill, 1.0 exactly (measured); 0.9 would still catch grey 0
    assert float(out[..., -1].mean()) > 0.9
    # the left column samples inside the constant black garment: -1 up to fp32 blending, measured exactly -1
    assert float(out[..., 0].mean()) == pytest.approx(-1.0, abs=1e-5)
    feats = model.garment_encoder(_images(1)[1])
    moved = model.warp_features(feats, theta)
    # measured 2.9 (AVX2 and SSE4.1): moving; 1e-2 is far above the 1.6e-6 of a zero-θ warp
    assert float((moved[0] - feats[0]).abs().max()) > 1e-2


def test_correlation_map_matches_eq_4_3_3() -> None:
    torch.manual_seed(0)
    f1 = l2_normalise(torch.randn(2, 8, 4, 3))
    f2 = l2_normalise(torch.randn(2, 8, 4, 3))
    corr = FeatureCorrelation()(f1, f2)
    assert corr.shape == (2, 12, 4, 3)
    # C_ijk = F1_ij · F2_mn with k = m * w + n
    for (i, j, m, n) in [(0, 0, 0, 0), (3, 2, 1, 2), (2, 1, 3, 0)]:
        expected = (f1[:, :, i, j] * f2[:, :, m, n]).sum(1)
        # an 8-term fp32 dot product either way: measured 3e-8 (AVX2) / 6e-8 (SSE4.1); 17x margin
        assert torch.allclose(corr[:, m * 3 + n, i, j], expected, atol=1e-6)
    # L2-normalised vectors → cosine similarities, <= 1 up to fp32 rounding of the norms (~1e-7; measured max 0.90)
    assert float(corr.abs().max()) <= 1.0 + 1e-5


def test_matcher_correlation_shape_and_non_shared_extractors() -> None:
    torch.manual_seed(0)
    gm = GeometricMatcher(size=(128, 96))
    person, garment = torch.rand(2, 3, 128, 96) * 2 - 1, torch.rand(2, 3, 128, 96) * 2 - 1
    corr = gm.correlate(garment, person)
    assert gm.corr_size == (4, 3)
    assert corr.shape == (2, 12, 4, 3)
    p1 = dict(gm.garment_features.named_parameters())
    p2 = dict(gm.person_features.named_parameters())
    assert p1.keys() == p2.keys()
    assert any(not torch.equal(p1[k], p2[k]) for k in p1)  # separate parameters, not shared
    assert all(p1[k].data_ptr() != p2[k].data_ptr() for k in p1)
    assert gm(garment, person).shape == (2, 50)


def test_theta_moves_after_one_gradient_step(model: WUTON) -> None:
    m = WUTON(size=SIZE)
    person, garment = _images(2, seed=2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    image, theta = m(person, garment)
    (image - person).abs().mean().backward()
    assert m.matcher.regressor.fc.weight.grad is not None
    assert float(m.matcher.regressor.fc.weight.grad.abs().sum()) > 0  # image loss reaches the matcher
    opt.step()
    _, theta2 = m(person, garment)
    assert float(theta2.abs().max()) > 0


def test_detach_theta_cuts_the_matcher_off_the_image_losses() -> None:
    torch.manual_seed(0)
    m = WUTON(size=SIZE)
    person, garment = _images(2, seed=3)
    image, theta = m(person, garment, detach_theta=True)
    assert theta.requires_grad
    image.mean().backward()
    assert all(p.grad is None for p in m.matcher.parameters())
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in m.decoder.parameters())


def test_discriminator_five_downsamplings() -> None:
    d = build_discriminator()
    out = d(torch.rand(2, 3, 256, 192) * 2 - 1)
    assert out.shape == (2, 1, 8, 6)
    assert d(torch.rand(2, 3, *SIZE)).shape == (2, 1, 2, 2)


def test_export_view_and_onnx_parity(model: WUTON, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model.eval()
    wrapped = WUTONExport(model).eval()
    person, garment = _images(2, seed=4)
    with torch.no_grad():
        image, warped = wrapped(person, garment)
    assert image.shape == warped.shape == (2, 3, *SIZE)
    path = tmp_path / "wuton.onnx"
    torch.onnx.export(
        wrapped, (person, garment), str(path), input_names=["person", "garment"], output_names=["image", "warped_garment"],
        opset_version=17, dynamo=False, dynamic_axes={k: {0: "batch"} for k in ("person", "garment", "image", "warped_garment")},
    )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in (1, 3):
        p, g = _images(b, seed=5 + b)
        got = sess.run(None, {"person": p.numpy(), "garment": g.numpy()})
        with torch.no_grad():
            ref = wrapped(p, g)
        for a, r in zip(got, ref):
            assert a.shape == tuple(r.shape)
            # ONNX Runtime vs torch, the whole fp32 WUTON: measured 4.4e-5 (AVX2 and SSE4.1 torch kernels, ORT on AVX2); 23x
            assert float(abs(a - r.numpy()).max()) < 1e-3
