"""Real-image crops from the photos scikit-image ships: a local benchmark set no one here drew.

Every editing task is measured on procedural data too easily; users bring photographs. ``skimage.data`` ships
about twenty photographs and scans inside its wheel (no download: the few that need one are not used). This
module cuts them into small square crops of random position, scale and flip, resized with area averaging, and
splits them **by source photo**: the test crops come from photos no training crop comes from, so no
near-duplicate crosses the split (crops of one photo overlap heavily).

``write_photo_crops(out, size=32, train=4000, test=200)`` writes ``out/train/*.png`` and ``out/test/*.png`` and
``out/photo_crops.json`` (sources per split, sizes, seed, versions); ``tryon data photo-crops`` is the verb.
Needs scikit-image (``pip install scikit-image``; in the ``dev`` extra). Plugins read the folders through
:class:`tryon.data.image_folder.ImageFolderDataset` (they exchange files, never imports).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, TryonError
from ..fs import atomic_directory, atomic_write_json
from .terms import DataTerms, write_terms_file

#: Photographs and scans in scikit-image's wheel (name → colour?), checked to load offline. Drawings,
#: text pages and synthetic patterns (checkerboard, colorwheel, logo, page, text) are left out.
TRAIN_SOURCES = ("astronaut", "chelsea", "hubble_deep_field", "immunohistochemistry", "retina", "brick", "grass", "gravel",
                 "moon", "coins", "horse", "clock")
#: Held-out photographs: a portrait-free kitchen scene, a launch pad and a studio portrait in grey (other
#: subjects than the training photos).
TEST_SOURCES = ("coffee", "rocket", "camera")

MANIFEST = "photo_crops.json"
#: The crops' terms, from each source photo's ``skimage.data`` docstring: public domain or CC0 for every one but
#: ``moon``, whose docstring states none — hence "unknown" for commercial use of the set as a whole.
TERMS = DataTerms("crops of scikit-image's bundled photographs", "public domain / CC0 per photo (skimage.data "
                  "docstrings); 'moon' states no licence", None, "skimage.data")


def _require_skimage() -> Any:
    try:
        import skimage.data
    except ImportError:
        raise TryonError("photo crops need scikit-image: pip install scikit-image (or tryon[dev])") from None
    return skimage.data


def load_photo(name: str) -> np.ndarray:
    """``H×W×3`` uint8 RGB of ``skimage.data.<name>`` (grey scans repeated on three channels, alpha dropped)."""
    data = _require_skimage()
    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float64) / max(float(img.max()), 1e-12), 0, 1) * 255).round().astype(np.uint8)
    return img


def random_crops(photo: np.ndarray, n: int, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.08, 0.3)) -> list:
    """``n`` crops of ``photo`` resized to ``size×size`` (PIL box filter: area averaging, no aliasing): side a
    random fraction ``scale`` of the photo's shorter side (so a 32-px crop shows an object part, not texture
    noise), random position, horizontal flip with probability 1/2."""
    from PIL import Image

    h, w = photo.shape[:2]
    short = min(h, w)
    out = []
    for _ in range(n):
        side = max(size, int(round(short * rng.uniform(*scale))))
        side = min(side, short)
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = photo[top : top + side, left : left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.Resampling.BOX))
    return out


def write_photo_crops(out: str | os.PathLike, size: int = 32, train: int = 4000, test: int = 200, seed: int = 0) -> dict[str, Any]:
    """Write the crop set (see the module doc) atomically to ``out``; returns its manifest."""
    import skimage

    if size < 8 or train < 1 or test < 1:
        raise InputError("photo crops", "size >= 8, train >= 1, test >= 1", f"size {size}, train {train}, test {test}")
    rng = np.random.default_rng(seed)
    out = Path(out)
    with atomic_directory(out) as tmp:
        counts = {}
        for split, sources, total in (("train", TRAIN_SOURCES, train), ("test", TEST_SOURCES, test)):
            (tmp / split).mkdir()
            per = np.full(len(sources), total // len(sources))
            per[: total % len(sources)] += 1
            k = 0
            for name, n in zip(sources, per):
                for img in random_crops(load_photo(name), int(n), size, rng):
                    img.save(tmp / split / f"{name}_{k:05d}.png")
                    k += 1
            counts[split] = {name: int(n) for name, n in zip(sources, per)}
        manifest = {"format": "tryon-photo-crops", "version": 1, "size": [size, size], "seed": seed, "counts": counts,
                    "source": f"scikit-image {skimage.__version__} skimage.data (bundled photographs, no download)",
                    "split": "by source photo: no test crop shares a photo with a training crop"}
        atomic_write_json(tmp / MANIFEST, manifest)
        write_terms_file(tmp, TERMS)
    return manifest


def ensure_photo_crops(out: str | os.PathLike, size: int = 32, train: int = 4000, test: int = 200, seed: int = 0) -> Path:
    """``out`` holding a crop set: written by :func:`write_photo_crops` unless a finished one (its manifest) is already
    there, which is reused as it is (a benchmark resumed or rerun does not redraw its data); returns ``out``."""
    out = Path(out)
    if not (out / MANIFEST).is_file():
        write_photo_crops(out, size=size, train=train, test=test, seed=seed)
    return out


__all__ = ["MANIFEST", "TERMS", "TEST_SOURCES", "TRAIN_SOURCES", "ensure_photo_crops", "load_photo", "random_crops",
           "write_photo_crops"]
