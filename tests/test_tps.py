"""TPS warps (000 §4.3.3.1) and mask helpers: identity, agreement with scipy and kornia, ONNX export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tryon.errors import InputError, MaskError
from tryon.geometry import (
    FixedGridTPS,
    dilate,
    erode,
    feather,
    pixel_centre_grid,
    pixel_to_token_mask,
    tps_warp,
)

SIZE = (64, 48)


def coordinate_image(size, batch=1):
    """An image whose two channels are the (x, y) pixel-centre coordinates: warping it returns the grid."""
    g = pixel_centre_grid(size).permute(2, 0, 1)
    return g.unsqueeze(0).expand(batch, -1, -1, -1).contiguous()


@pytest.mark.parametrize("size", [SIZE, (33, 21)])  # a registered size and one built on the fly
def test_zero_theta_is_identity(size):
    torch.manual_seed(0)
    tps = FixedGridTPS(5, sizes=[SIZE])
    theta = torch.zeros(2, 50)
    grid = tps.grid(theta, size)
    assert grid.shape == (2, *size, 2)
    grid_err = (grid - pixel_centre_grid(size)).abs().max().item()
    assert grid_err < 1e-6  # fp32 rounding of the TPS basis product: measured 6e-8 (AVX2 and SSE4.1); 17x margin
    x = torch.rand(2, 3, *size) * 2 - 1  # images live in [-1, 1]
    # The warp error is grid_sample's own fp32 error at the exact pixel-centre grid (measured here, on this CPU's
    # kernels: 1.9e-6 on AVX2 and SSE4.1) plus the grid error moved through bilinear interpolation: grid_err x
    # (h + w) / 2 pixels per unit x the largest step between neighbouring pixels. Bound: twice that first-order
    # sum. Measured 1.9e-6 against 1.7e-5 at 64×48, 3.6e-6 against 1.0e-5 at 33×21 (a fixed 1e-5 had 2.75x).
    exact = pixel_centre_grid(size).unsqueeze(0).expand(2, -1, -1, -1)
    ref_err = (torch.nn.functional.grid_sample(x, exact, mode="bilinear", padding_mode="zeros", align_corners=False)
               - x).abs().max().item()
    step = max(x.diff(dim=-1).abs().max().item(), x.diff(dim=-2).abs().max().item())
    assert (tps.warp(x, theta) - x).abs().max().item() <= 2 * (ref_err + grid_err * (size[0] + size[1]) / 2 * step)


def test_control_points_layout():
    tps = FixedGridTPS(5)
    p = tps.control_points
    assert p.shape == (25, 2)
    # x-major: P[k] = (x_j, y_i), k = i * 5 + j
    assert p[1].tolist() == [-0.5, -1.0] and p[5].tolist() == [-1.0, -0.5] and p[24].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("size", [SIZE, (37, 29)])
def test_agrees_with_scipy_thin_plate_spline(size):
    interpolate = pytest.importorskip("scipy.interpolate")
    torch.manual_seed(1)
    tps = FixedGridTPS(5, sizes=[SIZE])
    theta = 0.1 * torch.randn(3, 50)
    grid = tps.grid(theta, size).double().reshape(3, -1, 2).numpy()
    p = tps.control_points.double().numpy()
    g = pixel_centre_grid(size, torch.float64).reshape(-1, 2).numpy()
    worst = 0.0
    for b in range(3):
        target = p + theta[b].double().reshape(25, 2).numpy()
        ref = interpolate.RBFInterpolator(p, target, kernel="thin_plate_spline")(g)
        worst = max(worst, float(np.abs(grid[b] - ref).max()))
    # fp32 TPS grid vs scipy's float64 RBF solve: measured 1.6e-7 (AVX2 and SSE4.1); 600x inside
    assert worst < 1e-4


def test_registered_and_on_the_fly_bases_match_and_cache():
    a = FixedGridTPS(5, sizes=[SIZE])
    b = FixedGridTPS(5)
    ma, ga = a.basis(SIZE)
    mb, gb = b.basis(SIZE)
    assert torch.equal(ma, mb) and torch.equal(ga, gb)
    assert b.basis(SIZE)[0] is mb  # cached
    assert len(a.state_dict()) == 0  # constants, not weights: nothing in checkpoints
    assert "_M_64x48" in dict(a.named_buffers())


def test_gradient_flows_to_theta():
    torch.manual_seed(2)
    tps = FixedGridTPS(5)
    x = torch.randn(2, 3, *SIZE)
    theta = (0.05 * torch.randn(2, 50)).requires_grad_(True)
    loss = tps.warp(x, theta).square().mean()
    loss.backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all() and theta.grad.abs().sum() > 0
    # the grid is linear in theta: its Jacobian is M, checked against autograd in float64
    t64 = torch.zeros(1, 50, dtype=torch.float64, requires_grad=True)
    tps.grid(t64, (8, 6))[0, 3, 2, 0].backward()
    m, _ = tps.basis((8, 6))
    expected = torch.zeros(25, 2, dtype=torch.float64)
    expected[:, 0] = m[3 * 6 + 2].double()
    assert torch.allclose(t64.grad.reshape(25, 2), expected)


def test_bad_theta_shape():
    tps = FixedGridTPS(5)
    with pytest.raises(InputError, match="theta"):
        tps.grid(torch.zeros(1, 49), SIZE)
    with pytest.raises(InputError, match="x"):
        tps.warp(torch.zeros(3, *SIZE), torch.zeros(1, 50))


def test_kornia_exact_tps_agrees_with_fixed_grid():
    torch.manual_seed(3)
    tps = FixedGridTPS(5, sizes=[SIZE])
    theta = 0.05 * torch.randn(2, 50)
    src = tps.control_points + theta.reshape(2, 25, 2)
    # a smooth image and the coordinate image (whose warp is the sampling grid itself)
    img = torch.nn.functional.interpolate(torch.randn(2, 3, 8, 6), size=SIZE, mode="bilinear", align_corners=False)
    # kornia's exact TPS solve vs the fixed-grid basis, through grid_sample on a smooth image: measured 4.7e-5 (AVX2) /
    # 5.3e-5 (SSE4.1), 19x inside; on the coordinate image the grids agree to 1.0e-6 (100x inside 1e-4)
    assert (tps_warp(img, src, tps.control_points) - tps.warp(img, theta)).abs().max().item() < 1e-3
    coords = coordinate_image(SIZE, 2)
    warped = tps_warp(coords, src, tps.control_points, padding_mode="border")
    grid = tps.grid(theta, SIZE).permute(0, 3, 1, 2)
    inside = (grid.abs() < 1 - 2.0 / SIZE[1]).all(1, keepdim=True).expand_as(grid)
    assert (warped - grid)[inside].abs().max().item() < 1e-4  # measured 1.0e-6, see above


def test_kornia_solver_identity_and_gradient():
    torch.manual_seed(4)
    img = torch.randn(1, 3, *SIZE)
    pts = torch.rand(1, 9, 2) * 1.6 - 0.8
    # identical source and target points: kornia's solve leaves measured 4.2e-6 (AVX2 and SSE4.1); 24x inside
    assert (tps_warp(img, pts, pts, solver="kornia") - img).abs().max().item() < 1e-4
    src = (pts + 0.05 * torch.randn_like(pts)).requires_grad_(True)
    tps_warp(img, src, pts, solver="kornia").mean().backward()
    assert src.grad is not None and src.grad.abs().sum() > 0
    with pytest.raises(InputError, match="src_points"):
        tps_warp(img, pts[:, :4], pts)


@pytest.mark.filterwarnings("ignore:# The axis name")
def test_onnx_export_dynamic_batch(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

    class Warp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tps = FixedGridTPS(5, sizes=[SIZE])

        def forward(self, x, theta):
            return self.tps.warp(x, theta, padding_mode="border")

    torch.manual_seed(5)
    model = Warp().eval()
    x, theta = torch.randn(2, 3, *SIZE), 0.05 * torch.randn(2, 50)
    batch = torch.export.Dim("batch")
    path = tmp_path / "tps.onnx"
    torch.onnx.export(
        model,
        (x, theta),
        str(path),
        opset_version=17,
        dynamo=True,
        input_names=["x", "theta"],
        output_names=["warped"],
        dynamic_shapes={"x": {0: batch}, "theta": {0: batch}},
    )
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    ops = [node.op_type for node in graph.graph.node]
    assert ops.count("GridSample") == 1
    assert not [op for op in ops if any(w in op.lower() for w in ("solve", "linalg", "inverse", "lu"))]
    assert 16 <= max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) <= 18
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in (1, 3):
        x, theta = torch.randn(b, 3, *SIZE), 0.05 * torch.randn(b, 50)
        (got,) = session.run(None, {"x": x.numpy(), "theta": theta.numpy()})
        with torch.no_grad():
            ref = model(x, theta).numpy()
        # ONNX Runtime vs torch on the same fp32 graph: measured 1.4e-5 / 1.5e-5 (torch on AVX2 / SSE4.1, ORT on AVX2); 7x
        assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-4


# ------------------------------------------------------------------------------------------------ masks
def test_dilate_erode_known_shapes():
    m = torch.zeros(1, 1, 16, 12)
    m[0, 0, 8, 6] = 1
    d = dilate(m, 3)
    assert d.sum().item() == 9 and d[0, 0, 7:10, 5:8].eq(1).all()
    assert torch.equal(erode(d, 3), m)
    assert dilate(m[0, 0], 5).shape == (16, 12) and dilate(m[0, 0], 5).sum().item() == 25  # H x W layout kept
    assert dilate(m[:, 0], 3).shape == (1, 16, 12)
    with pytest.raises(MaskError):
        dilate(torch.zeros(16), 3)


def test_feather_range_and_mass():
    m = torch.zeros(1, 1, 32, 24)
    m[..., 8:24, 6:18] = 1
    f = feather(m, 2.0)
    assert f.min().item() >= 0 and f.max().item() <= 1
    assert 0 < f[0, 0, 8, 12].item() < 1  # the edge is soft
    # blur away from borders keeps mass: the mask is 6 px = 3σ from the left and right borders, where the reflect
    # padding folds a little of the kernel's tail back: measured 3.7e-4 relative, the same on AVX2 and SSE4.1 (it is
    # geometry, not rounding: fp32 summation adds ~1e-7). An unnormalised ±3σ kernel would lose 5e-3
    assert math.isclose(f.sum().item(), m.sum().item(), rel_tol=1e-3)
    assert torch.equal(feather(m, 0), m)
    # images smaller than the kernel radius: replicate border, a constant mask stays constant
    assert (feather(torch.ones(1, 1, 5, 4), 2.0) - 1).abs().max().item() < 1e-5  # measured 1.2e-7


def test_pixel_to_token_mask_any_pixel():
    m = torch.zeros(2, 1, 64, 48)
    m[0, 0, 10, 7] = 1
    t = pixel_to_token_mask(m, (16, 12))
    assert t.shape == (2, 1, 16, 12)
    assert t.sum().item() == 1 and t[0, 0, 2, 1].item() == 1
    assert pixel_to_token_mask(m[0, 0], (16, 12)).shape == (16, 12)


def test_random_rectangle_mask_sizes_in_range():
    from tryon.geometry import random_rectangle_mask

    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        m = random_rectangle_mask((100, 80), generator=g)
        rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
        rh, rw = len(rows), len(cols)
        assert 40 <= rh <= 60 and 32 <= rw <= 48
        assert m.sum().item() == rh * rw  # one filled rectangle
        assert rows.max() - rows.min() + 1 == rh and cols.max() - cols.min() + 1 == rw


def test_free_form_mask_binary_both_sides_and_blocky():
    from tryon.geometry import free_form_mask

    g = torch.Generator().manual_seed(1)
    m = free_form_mask((60, 60), generator=g)
    assert set(m.unique().tolist()) == {0.0, 1.0}
    # the mask follows a 6x6 grid: the centre pixel of each 10x10 cell equals the low-resolution draw
    g2 = torch.Generator().manual_seed(1)
    low = (torch.rand(1, 1, 6, 6, generator=g2) < 0.5).float()[0, 0]
    assert torch.equal(m[5::10, 5::10], low)
