"""Thin-plate-spline (TPS) warps (Bookstein, 1989), as used by the geometric matcher of 000 §4.3.3.1.

Two implementations:

* :class:`FixedGridTPS` — the CP-VTON / WUTON style TPS with a *fixed* ``g x g`` control grid P in the
  output (target) frame and regressed offsets θ (000 §4.3.3.1, App. E: θ ∈ R^50 for 5x5). Everything that
  needs a linear solve is done once, in float64, at construction: for an output size (H, W) the warp is
  ``grid = G + M θ`` with ``M = A L⁻¹[:, :N]`` (HW x N), where L is the TPS system of P and
  ``A = [U(‖G − P‖), 1, G]`` is the basis at the pixel-centre grid G. The forward pass is one MatMul, one
  Add and one GridSample, so it exports to ONNX (no ``linalg.solve``) and is 10-25x faster than a
  per-call solve (reference/deps.md §3).
* :func:`tps_warp` — free control points (any number, per-batch), evaluated with kornia's
  ``warp_image_tps``.

Conventions (docs/contracts.md): coordinates are ``grid_sample`` normalised coordinates in [-1, 1],
``(x, y)`` order, ``align_corners=False`` (pixel *centres* at ``(2j + 1) / W - 1``). A warp maps each output
pixel to the input location it samples, so control points are given as (output location, input location).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.errors import InputError

__all__ = ["FixedGridTPS", "tps_kernel", "pixel_centre_grid", "tps_warp"]

_Size = tuple[int, int]


def tps_kernel(squared_distance: Tensor) -> Tensor:
    """TPS radial basis ``U(r) = r² log r²`` written in terms of ``d = r²`` (``U = d log d``), ``U(0) = 0``.

    (Bookstein's U; scaling the kernel by a constant does not change the interpolant.)

    Args:
        squared_distance: (*) float squared distances ``d = r² >= 0``, any shape.

    Returns:
        (*) ``d log d``, same shape and dtype; 0 where ``d <= 0``.

    >>> tps_kernel(torch.tensor([0.0, 1.0, 4.0]))
    tensor([0.0000, 0.0000, 5.5452])
    """
    positive = squared_distance > 0
    safe = torch.where(positive, squared_distance, torch.ones_like(squared_distance))
    return torch.where(positive, squared_distance * torch.log(safe), torch.zeros_like(squared_distance))


def pixel_centre_grid(size: _Size, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    """``H x W x 2`` identity sampling grid of pixel centres, ``(x, y)`` order, ``align_corners=False``.

    Built with ``arange`` + ``meshgrid`` (not ``affine_grid``, which old ONNX opsets lack, deps.md §4).

    Args:
        size: output size ``(H, W)``.
        dtype: dtype of the grid.
        device: device of the grid.

    Returns:
        (H, W, 2) grid; ``[i, j] = (x_j, y_i)`` with ``x_j = (2j + 1) / W − 1`` and ``y_i = (2i + 1) / H − 1``,
        in (-1, 1).

    >>> pixel_centre_grid((2, 2))
    tensor([[[-0.5000, -0.5000],
             [ 0.5000, -0.5000]],
    <BLANKLINE>
            [[-0.5000,  0.5000],
             [ 0.5000,  0.5000]]])
    """
    h, w = int(size[0]), int(size[1])
    xs = (torch.arange(w, dtype=dtype, device=device) * 2 + 1) / w - 1
    ys = (torch.arange(h, dtype=dtype, device=device) * 2 + 1) / h - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def _squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise squared distances ``(..., n, m)`` between ``(..., n, 2)`` and ``(..., m, 2)`` points."""
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)
    return (diff * diff).sum(-1)


def _system_matrix(points: Tensor) -> Tensor:
    """TPS system ``L = [[K, 1, P], [1ᵀ, 0, 0], [Pᵀ, 0, 0]]`` ((N+3) x (N+3)) for ``N x 2`` (or ``B x N x 2``) points."""
    n = points.shape[-2]
    batch = points.shape[:-2]
    k = tps_kernel(_squared_distances(points, points))
    p = torch.cat([torch.ones(*batch, n, 1, dtype=points.dtype, device=points.device), points], dim=-1)
    top = torch.cat([k, p], dim=-1)
    bottom = torch.cat([p.transpose(-1, -2), torch.zeros(*batch, 3, 3, dtype=points.dtype, device=points.device)], -1)
    return torch.cat([top, bottom], dim=-2)


def _is_tracing() -> bool:
    """True while torch.export / dynamo / TorchScript / ONNX export traces the module (then: no caching)."""
    compiler = getattr(torch, "compiler", None)
    for name in ("is_exporting", "is_compiling"):
        fn = getattr(compiler, name, None)
        if fn is not None and fn():
            return True
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export())


class FixedGridTPS(nn.Module):
    """TPS warp with a fixed ``grid_size x grid_size`` control grid and precomputed inverse (000 §4.3.3.1).

    Control points ``P`` form a regular grid on ``[-1, 1]²`` in the *output* frame, x-major:
    ``P[k] = (x_j, y_i)`` with ``k = i * grid_size + j``. ``theta`` (``B x 2N``, N = grid_size²; 50 for the 5x5
    grid of 000 App. E) holds per-point offsets ``(dx, dy)``: output location ``P[k]`` samples the input at
    ``P[k] + theta[k]``. ``theta = 0`` is exactly the identity.

    Because a TPS reproduces affine maps exactly, ``M P = G``, so the grid is computed as ``G + M θ`` (the
    identity part is exact; only the small offset goes through the float32 product).

    Args:
        grid_size: control points per side (5 in 000 App. E).
        sizes: output sizes ``(H, W)`` whose basis is stored as constant (non-persistent) buffers — pass
            every size the module will see when exporting to ONNX. Other sizes are built on first use
            (tensor ops only, no solve) and cached per device.

    Shape:
        - ``x``: (B, C, H, W) float image, any range.
        - ``theta``: (B, 2N) or (B, N, 2) offsets ``(dx, dy)`` in normalised units (the [-1, 1] frame),
          N = grid_size².
        - output: (B, C, H, W), same dtype as ``x``.

    >>> tps = FixedGridTPS(grid_size=5)
    >>> x = torch.rand(2, 3, 8, 6, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(tps(x, torch.zeros(2, 50)), x, atol=1e-6)  # theta = 0 is the identity
    True
    >>> tps.grid(torch.zeros(2, 50), (8, 6)).shape
    torch.Size([2, 8, 6, 2])
    """

    def __init__(self, grid_size: int = 5, sizes: Iterable[Sequence[int]] = ()) -> None:
        super().__init__()
        if int(grid_size) < 2:
            raise ValueError(f"grid_size: expected an integer >= 2, got {grid_size!r}")
        self.grid_size = int(grid_size)
        self.num_points = self.grid_size**2
        axis = torch.linspace(-1.0, 1.0, self.grid_size, dtype=torch.float64)
        py, px = torch.meshgrid(axis, axis, indexing="ij")
        points = torch.stack([px.reshape(-1), py.reshape(-1)], dim=-1)  # N x 2, k = i * g + j
        # float64 L^-1, solved once; kept on the CPU as a plain attribute so that .to()/.half() leave it alone
        # (MPS has no float64). A float32 inverse costs ~1e-4 of identity error (deps.md §3).
        self._points64 = points
        self._inverse64 = torch.linalg.inv(_system_matrix(points))
        self.register_buffer("control_points", points.float(), persistent=False)
        self.sizes: tuple[_Size, ...] = tuple(sorted({(int(s[0]), int(s[1])) for s in sizes}))
        for size in self.sizes:
            m, g = self._build_basis(size)
            self.register_buffer(self._buffer_name("M", size), m, persistent=False)
            self.register_buffer(self._buffer_name("G", size), g, persistent=False)
        self._cache: dict[tuple[int, int, str], tuple[Tensor, Tensor]] = {}

    @staticmethod
    def _buffer_name(kind: str, size: _Size) -> str:
        return f"_{kind}_{size[0]}x{size[1]}"

    def _build_basis(self, size: _Size) -> tuple[Tensor, Tensor]:
        """``(M, G)`` for an output size: ``M = A L⁻¹[:, :N]`` (HW x N) and ``G`` (HW x 2), float32.

        Only tensor ops (distances, log, matmul) on the stored float64 inverse: no solve, no numpy.
        """
        h, w = size
        if h < 1 or w < 1:
            raise InputError("TPS output size", "H >= 1 and W >= 1", f"{h}x{w}")
        g = pixel_centre_grid(size, dtype=torch.float64).reshape(-1, 2)
        basis = torch.cat(
            [tps_kernel(_squared_distances(g, self._points64)), torch.ones(h * w, 1, dtype=torch.float64), g], dim=1
        )
        m = basis @ self._inverse64[:, : self.num_points]
        return m.float(), g.float()

    def basis(self, size: Sequence[int], device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        """``(M, G)`` for ``size = (H, W)`` on ``device``: registered buffers if the size was given at init,
        else built and cached (not cached while an exporter traces the module).

        Returns:
            ``M``: (H·W, N) float32, maps offsets to grid displacements; ``G``: (H·W, 2) float32 pixel-centre
            grid (:func:`pixel_centre_grid`, flattened).
        """
        key = (int(size[0]), int(size[1]))
        if key in self.sizes:
            return getattr(self, self._buffer_name("M", key)), getattr(self, self._buffer_name("G", key))
        device = torch.device(device) if device is not None else self.control_points.device
        cache_key = (key[0], key[1], str(device))
        if cache_key in self._cache:
            return self._cache[cache_key]
        m, g = self._build_basis(key)
        m, g = m.to(device), g.to(device)
        if not _is_tracing():
            self._cache[cache_key] = (m, g)
        return m, g

    def grid(self, theta: Tensor, size: Sequence[int]) -> Tensor:
        """Sampling grid ``G + M θ`` for offsets ``theta``, ``align_corners=False``.

        Args:
            theta: (B, 2N) or (B, N, 2) offsets ``(dx, dy)`` in normalised units, N = grid_size².
            size: output size ``(H, W)``.

        Returns:
            (B, H, W, 2) grid of ``(x, y)`` input locations in normalised coordinates, ``theta``'s dtype;
            values outside [-1, 1] sample the padding.
        """
        n = self.num_points
        if theta.dim() not in (2, 3) or theta.shape[1:].numel() != 2 * n or (theta.dim() == 3 and theta.shape[-1] != 2):
            raise InputError("theta", f"a B x {2 * n} (or B x {n} x 2) tensor of TPS offsets", f"shape {tuple(theta.shape)}")
        h, w = int(size[0]), int(size[1])
        m, g = self.basis((h, w), theta.device)
        offsets = theta.reshape(-1, n, 2)
        grid = g.to(theta.dtype) + torch.matmul(m.to(theta.dtype), offsets)  # B x HW x 2
        return grid.reshape(-1, h, w, 2)

    def warp(self, x: Tensor, theta: Tensor, padding_mode: str = "zeros", mode: str = "bilinear") -> Tensor:
        """Warp ``x`` by ``theta``: ``grid_sample(x, grid(theta, (H, W)))`` (000 §4.3.3.1).

        Args:
            x: (B, C, H, W) float image, any range.
            theta: (B, 2N) or (B, N, 2) offsets in normalised units, N = grid_size².
            padding_mode: ``grid_sample``'s ``"zeros"``, ``"border"`` or ``"reflection"``.
            mode: ``grid_sample``'s ``"bilinear"`` or ``"nearest"``.

        Returns:
            (B, C, H, W) warped image, ``x``'s dtype; pixels that sample outside the input get the padding
            (0 with ``"zeros"``).
        """
        if x.dim() != 4:
            raise InputError("x", "a B x C x H x W tensor", f"shape {tuple(x.shape)}")
        grid = self.grid(theta, x.shape[-2:]).to(x.dtype)
        return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)

    def forward(self, x: Tensor, theta: Tensor) -> Tensor:
        """Same as :meth:`warp` with default modes."""
        return self.warp(x, theta)

    def extra_repr(self) -> str:
        return f"grid_size={self.grid_size}, sizes={list(self.sizes)}"


def _as_batch_points(points: Tensor, name: str, batch: int) -> Tensor:
    if points.dim() == 2:
        points = points.unsqueeze(0)
    if points.dim() != 3 or points.shape[-1] != 2:
        raise InputError(name, "an N x 2 or B x N x 2 tensor of (x, y) points", f"shape {tuple(points.shape)}")
    if points.shape[0] == 1 and batch > 1:
        points = points.expand(batch, -1, -1)
    if points.shape[0] != batch:
        raise InputError(name, f"batch size {batch} (or 1)", f"batch size {points.shape[0]}")
    return points


def tps_warp(
    image: Tensor,
    src_points: Tensor,
    dst_points: Tensor,
    *,
    padding_mode: str = "zeros",
    solver: str = "exact",
) -> Tensor:
    """Warp ``image`` so that input location ``src_points[k]`` lands on output location ``dst_points[k]``.

    Points are ``N x 2`` or ``B x N x 2`` ``(x, y)`` in normalised ``align_corners=False`` coordinates, with
    ``N >= 3`` not all collinear. Gradients flow to the image and to both point sets.

    Args:
        image: (B, C, H, W) float image, any range.
        src_points: (N, 2) or (B, N, 2) input locations ``(x, y)`` in normalised coordinates [-1, 1].
        dst_points: (N, 2) or (B, N, 2) output locations, same N (a batch of 1 is broadcast).
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"`` (as ``grid_sample``).
        solver: ``"exact"`` or ``"kornia"`` (below).

    Returns:
        (B, C, H, W) warped image, ``image``'s dtype; output pixels that sample outside the input get the
        padding (0 with ``"zeros"``).

    >>> image = torch.rand(1, 3, 8, 6, generator=torch.Generator().manual_seed(0))
    >>> pts = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [0.2, 0.1]])
    >>> torch.allclose(tps_warp(image, pts, pts), image, atol=1e-5)  # src == dst: the identity
    True
    >>> moved = tps_warp(image, pts + torch.tensor([2 / 6, 0.0]), pts)  # sample one pixel (2 / W) to the right
    >>> torch.allclose(moved[..., :-1], image[..., 1:], atol=1e-5), bool(moved[..., -1].abs().max() < 1e-5)
    (True, True)

    ``solver="exact"`` (default) is the standard TPS (Bookstein): the output→input map ``f`` with
    ``f(dst_k) = src_k`` and kernel centres at ``dst_k``; its weights come from a batched float64 solve and
    the image is warped with kornia's ``warp_image_tps``. It equals :class:`FixedGridTPS` when ``dst`` is
    that grid and ``src = dst + θ``.

    ``solver="kornia"`` uses ``kornia.geometry.transform.get_tps_transform(dst, src)`` exactly as kornia
    documents. kornia places the kernel centres at its *second* argument (here ``src``) while interpolating
    at ``dst`` (deps.md §3), so this is a different interpolant once points move: it still maps every
    ``dst_k`` to ``src_k``, but between control points it differs from the standard TPS (measured: 2e-3 at
    offsets of 0.01, 3e-2 at 0.05 in normalised units). Kept for parity with kornia-based code.
    """
    from kornia.geometry.transform import get_tps_transform, warp_image_tps

    if image.dim() != 4:
        raise InputError("image", "a B x C x H x W tensor", f"shape {tuple(image.shape)}")
    batch = image.shape[0]
    src = _as_batch_points(src_points, "src_points", batch)
    dst = _as_batch_points(dst_points, "dst_points", batch)
    if src.shape[1] != dst.shape[1]:
        raise InputError("src_points/dst_points", "the same number of points", f"{src.shape[1]} vs {dst.shape[1]}")
    if src.shape[1] < 3:
        raise InputError("src_points", "at least 3 control points", f"{src.shape[1]}")
    dtype = image.dtype
    if solver == "kornia":
        kernel_weights, affine_weights = get_tps_transform(dst.to(dtype), src.to(dtype))
        centres = src.to(dtype)
    elif solver == "exact":
        # Hand-written solve: kornia's get_tps_transform cannot put the kernel centres on the interpolation
        # nodes (see docstring); float64 where the device has it for a well-conditioned system.
        work = torch.float32 if image.device.type == "mps" else torch.float64
        d, s = dst.to(work), src.to(work)
        rhs = torch.cat([s, torch.zeros(batch, 3, 2, dtype=work, device=s.device)], dim=1)
        coeffs = torch.linalg.solve(_system_matrix(d), rhs)
        n = d.shape[1]
        # kornia's evaluator uses U = d/2 log d and affine rows ordered (1, x, y): rescale kernel weights.
        kernel_weights, affine_weights = (2 * coeffs[:, :n]).to(dtype), coeffs[:, n:].to(dtype)
        centres = dst.to(dtype)
    else:
        raise ValueError(f"solver: expected 'exact' or 'kornia', got {solver!r}")
    return warp_image_tps(image, centres, kernel_weights, affine_weights, align_corners=False, padding_mode=padding_mode)
