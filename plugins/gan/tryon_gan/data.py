"""Datasets of the GAN plugin: the seeds' synthetic mixtures with their oracle, scikit-learn digits, point files
and image folders.

Synthetic data (seeds-gan §7): Gaussians on a grid (000 Fig. 3.2d / 9 Gaussians of App. A.2.3), the DOT
25 Gaussians and Swiss roll (000 Table 3.4, settings of Tanaka 2019), equidistant one-hot modes in R^d (001,
000 Fig. 3.8 / Table 3.2). Each :class:`PointData` knows its generating modes, so the *oracle* answers "which
mode, how far" for any point (:meth:`PointData.oracle`) and the oracle precision counts samples within a few
standard deviations of a mode.

``load_data(spec)`` reads a data spec: ``grid:M=9,D=9,std=0.5``, ``gaussians25``, ``swissroll``,
``onehot:M=10,d=10``, ``digits``, a ``.npy``/``.csv``/``.txt`` file of N×D points, or an image folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tryon.data import DigitsDataset, ImageFolderDataset, data_shape, parse_data_spec
from tryon.errors import DatasetError, InputError


class PointData(torch.utils.data.Dataset):
    """``points`` (N×D float32) as a map-style dataset; ``modes`` (M×D) and ``std`` define the oracle.

    ``curve`` (K×D, a dense polyline) replaces the modes for manifold data (Swiss roll): the oracle's
    distance is to the nearest curve point and the mode index is 0.
    """

    kind = "points"

    def __init__(self, points: Any, *, name: str = "points", modes: Any = None, std: float | None = None,
                 curve: Any = None, labels: Any = None, source: str = ""):
        arr = np.asarray(points, dtype=np.float32)
        where = source or name
        if arr.ndim != 2 or arr.shape[0] < 2:
            raise InputError(f"data {where}", "an N×D array of points (N >= 2)", f"shape {arr.shape}")
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise InputError(f"data {where}", "finite values", f"NaN or Inf ({int(bad.sum())} values, first in row {row})")
        self.points = torch.from_numpy(np.ascontiguousarray(arr))
        self.name = name
        self.modes = None if modes is None else np.asarray(modes, dtype=np.float64)
        self.curve = None if curve is None else np.asarray(curve, dtype=np.float64)
        self.std = None if std is None else float(std)
        self.labels = None if labels is None else np.asarray(labels)

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.points[i]

    def has_oracle(self) -> bool:
        return self.modes is not None or self.curve is not None

    def oracle(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(mode index, distance to that mode)`` of each row of ``x`` (nearest mode, Euclidean)."""
        ref = self.modes if self.modes is not None else self.curve
        if ref is None:
            raise InputError(f"data {self.name}", "a dataset with known modes (synthetic)", "no oracle")
        a = _as_numpy(x).reshape(len(x), -1).astype(np.float64)
        if a.shape[1] != ref.shape[1]:
            raise InputError("oracle input", f"{ref.shape[1]}-d points", f"{a.shape[1]}-d")
        d2 = (a * a).sum(1)[:, None] + (ref * ref).sum(1)[None, :] - 2.0 * a @ ref.T
        idx = d2.argmin(1)
        dist = np.sqrt(np.maximum(d2[np.arange(len(a)), idx], 0.0))
        if self.modes is None:
            idx = np.zeros_like(idx)
        return idx, dist

    def quality_radius(self, n_std: float = 3.0) -> float:
        """Radius within which a sample counts as "on a mode" for the oracle precision (``n_std`` σ·√D-free:
        a 2-D Gaussian keeps 98.9 % of its mass within 3σ)."""
        if self.std is None:
            raise InputError(f"data {self.name}", "a dataset with a known component std", "none")
        return n_std * self.std

    def oracle_precision(self, x: Any, n_std: float = 3.0) -> float:
        """Fraction of samples within ``n_std`` σ of the nearest mode (or of the curve)."""
        _, dist = self.oracle(x)
        return float((dist <= self.quality_radius(n_std)).mean())

    def mode_histogram(self, x: Any, n_std: float = 3.0) -> np.ndarray:
        """Samples per mode (only those within ``n_std`` σ)."""
        idx, dist = self.oracle(x)
        m = 1 if self.modes is None else len(self.modes)
        return np.bincount(idx[dist <= self.quality_radius(n_std)], minlength=m)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` fresh points from the generating distribution when it is known, else drawn from the data."""
        if self.modes is not None and self.std is not None:
            rng = np.random.default_rng(seed)
            k = rng.integers(0, len(self.modes), size=n)
            pts = self.modes[k] + self.std * rng.standard_normal((n, self.modes.shape[1]))
            return torch.from_numpy(pts.astype(np.float32))
        g = torch.Generator().manual_seed(int(seed))
        return self.points[torch.randint(len(self), (n,), generator=g)]


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


# ---------------------------------------------------------------------------------------- synthetic sets
def grid_modes(num_modes: int, spacing: float) -> np.ndarray:
    """``M`` centres on a ⌈√M⌉-column grid with ``spacing`` between neighbours, centred at 0 (M=2: two points
    at distance ``spacing``; 000 Fig. 3.2d leaves the layout open, seeds-gan §7 S2)."""
    if num_modes < 1:
        raise InputError("grid M", "at least 1 mode", str(num_modes))
    cols = math.ceil(math.sqrt(num_modes))
    pts = np.array([(i % cols, i // cols) for i in range(num_modes)], dtype=np.float64) * float(spacing)
    return pts - pts.mean(0, keepdims=True)


def gaussian_grid(num_modes: int = 9, spacing: float = 9.0, std: float = 0.5, n: int = 50_000, seed: int = 0) -> PointData:
    """Equal-mass Gaussians on a grid (9 Gaussians with minimal distance 9: 000 App. A.2.3; the M×D study of
    000 Fig. 3.2d). ``std`` is not given by the seed (0.5 here, recorded in the run's info)."""
    modes = grid_modes(num_modes, spacing)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, num_modes, size=n)
    pts = modes[k] + std * rng.standard_normal((n, 2))
    return PointData(pts, name=f"grid:M={num_modes},D={spacing:g},std={std:g}", modes=modes, std=std, labels=k)


def gaussians25(n: int = 50_000, seed: int = 0) -> PointData:
    """25 Gaussians of DOT (Tanaka 2019; 000 Table 3.4): means 2·(i, j), i, j ∈ {−2..2}, std 0.05, all ÷ 2.828."""
    modes = np.array([(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)]) / 2.828
    std = 0.05 / 2.828
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 25, size=n)
    pts = modes[k] + std * rng.standard_normal((n, 2))
    return PointData(pts, name="gaussians25", modes=modes, std=std, labels=k)


def swiss_roll(n: int = 50_000, seed: int = 0, noise: float = 0.25) -> PointData:
    """Swiss roll of DOT: ``make_swiss_roll(n, noise=0.25)[:, [0, 2]] / 7.5`` (000 Table 3.4). The oracle's
    curve is the noiseless roll; ``std`` = noise / 7.5."""
    from sklearn.datasets import make_swiss_roll

    pts = make_swiss_roll(n, noise=noise, random_state=seed)[0][:, [0, 2]] / 7.5
    t = np.linspace(1.5 * np.pi, 4.5 * np.pi, 4000)
    curve = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 7.5
    return PointData(pts, name="swissroll", curve=curve, std=noise / 7.5)


def onehot_modes(num_modes: int = 10, dim: int = 10, scale: float = 1.0, std: float = 0.02, n: int = 50_000,
                 seed: int = 0) -> PointData:
    """``M`` equidistant modes ``scale·e_i`` in R^d (001 / 000 Fig. 3.8, Table 3.2: m ≤ d one-hot means)."""
    if num_modes > dim:
        raise InputError("onehot M", f"at most d={dim} modes (one axis each)", str(num_modes))
    modes = np.zeros((num_modes, dim))
    modes[np.arange(num_modes), np.arange(num_modes)] = scale
    rng = np.random.default_rng(seed)
    k = rng.integers(0, num_modes, size=n)
    pts = modes[k] + std * rng.standard_normal((n, dim))
    return PointData(pts, name=f"onehot:M={num_modes},d={dim}", modes=modes, std=std, labels=k)


class DigitsData(DigitsDataset):
    """scikit-learn's 1797 handwritten digits (the core's :class:`tryon.data.DigitsDataset`) at 8×8, 1 channel."""

    def __init__(self, split: str = "all", seed: int = 0):
        super().__init__(size=None, channels=1, split=split, seed=seed)
        self.name = "digits" if split == "all" else f"digits:{split}"

    def has_oracle(self) -> bool:
        return False


class ImageFolderData(ImageFolderDataset):
    """An image folder (MNIST/CIFAR/FFHQ exported as files) through the core's
    :class:`tryon.data.ImageFolderDataset`, at ``size``×``size``; ``channels=1`` averages RGB to grey."""

    kind = "images"

    def __init__(self, root: str | Path, size: int = 32, channels: int = 3):
        super().__init__(root, size=(int(size), int(size)), channels=channels)
        self.name = str(root)

    def has_oracle(self) -> bool:
        return False

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(int(seed))
        return torch.stack([self[int(i)] for i in torch.randint(len(self), (n,), generator=g)])


def load_points_file(path: str | Path) -> PointData:
    """A ``.npy`` (N×D) or text (``.csv``/``.txt``, comma or space separated) file of points."""
    p = Path(path)
    if not p.is_file():
        raise InputError("data file", "an existing .npy/.csv/.txt file", f"{p} (no such file)")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            text = p.read_text()
            delim = "," if "," in text.splitlines()[0] else None
            arr = np.loadtxt(p, delimiter=delim, ndmin=2)
    except (ValueError, OSError) as exc:
        raise InputError(f"data file {p}", "an N×D array of numbers", f"unreadable ({exc})") from None
    return PointData(arr, name=p.stem, source=str(p))


SYNTHETIC = ("grid", "gaussians9", "gaussians25", "swissroll", "onehot", "digits")


def load_data(spec: str | Path, *, n: int = 50_000, seed: int = 0, image_size: int | None = None,
              channels: int | None = None) -> Any:
    """The dataset named by ``spec`` (see the module doc)."""
    text = str(spec)
    name, opts = parse_data_spec(text)
    num = int(opts.get("n", n))
    try:
        if name == "grid":
            return gaussian_grid(int(opts.get("M", 9)), float(opts.get("D", 9.0)), float(opts.get("std", 0.5)), num, seed)
        if name == "gaussians9":
            return gaussian_grid(9, float(opts.get("D", 9.0)), float(opts.get("std", 0.5)), num, seed)
        if name == "gaussians25":
            return gaussians25(num, seed)
        if name == "swissroll":
            return swiss_roll(num, seed)
        if name == "onehot":
            return onehot_modes(int(opts.get("M", 10)), int(opts.get("d", opts.get("M", 10))),
                                float(opts.get("scale", 1.0)), float(opts.get("std", 0.02)), num, seed)
        if name == "digits":
            return DigitsData(opts.get("split", "all"), seed)
    except ValueError as exc:
        raise InputError(f"data spec {text!r}", "numeric options", str(exc)) from None
    p = Path(text)
    if p.is_dir():
        return ImageFolderData(p, size=image_size or 32, channels=channels or 3)
    if p.suffix in (".npy", ".csv", ".txt"):
        return load_points_file(p)
    raise DatasetError("data", f"one of {', '.join(SYNTHETIC)}, a .npy/.csv/.txt points file or an image folder",
                       repr(text))


__all__ = ["PointData", "DigitsData", "ImageFolderData", "grid_modes", "gaussian_grid", "gaussians25", "swiss_roll", "onehot_modes",
           "load_points_file", "load_data", "data_shape", "SYNTHETIC"]
