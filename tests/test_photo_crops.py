"""`tryon data photo-crops`: real-image crops from scikit-image's bundled photos, split by source photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tryon.cli import main

pytest.importorskip("skimage")


def test_crops_written_split_by_photo(tmp_path, capsys):
    out = tmp_path / "crops"
    assert main(["data", "photo-crops", "--out", str(out), "--size", "16", "--train", "24", "--test", "6"]) == 0
    assert "24 training and 6 held-out 16x16 crops" in capsys.readouterr().out
    m = json.loads((out / "photo_crops.json").read_text())
    train, test = sorted((out / "train").glob("*.png")), sorted((out / "test").glob("*.png"))
    assert len(train) == 24 and len(test) == 6 and m["size"] == [16, 16]
    # no photo on both sides: file names start with their source photo
    src = {p: {f.name.rsplit("_", 1)[0] for f in files} for p, files in (("train", train), ("test", test))}
    assert src["test"] and not (src["train"] & src["test"]) and src["test"] <= set(m["counts"]["test"])
    img = np.asarray(Image.open(test[0]))
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8 and img.std() > 0  # a real crop, not a flat fill
    # deterministic for a seed
    again = tmp_path / "again"
    assert main(["data", "photo-crops", "--out", str(again), "--size", "16", "--train", "24", "--test", "6"]) == 0
    assert (again / "test" / test[0].name).read_bytes() == test[0].read_bytes()


def test_bad_sizes_give_one_error(tmp_path, capsys):
    assert main(["data", "photo-crops", "--out", str(tmp_path / "x"), "--size", "4"]) == 1
    assert "size >= 8" in capsys.readouterr().err and not (tmp_path / "x").exists()
