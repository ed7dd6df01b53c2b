"""tryon.data.ImageFolderDataset: recursive listing, resizing, and one clear error for a broken file."""

import numpy as np
import pytest
from PIL import Image

from tryon.data import ImageFolderDataset, find_images
from tryon.errors import DatasetError


def _write(path, h, w, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def test_recursive_sorted_and_hidden_skipped(tmp_path):
    _write(tmp_path / "b.png", 8, 8, 0)
    _write(tmp_path / "sub" / "a.jpg", 8, 8, 255)
    _write(tmp_path / ".hidden" / "c.png", 8, 8, 0)
    _write(tmp_path / ".d.png", 8, 8, 0)
    (tmp_path / "notes.txt").write_text("x")
    files = find_images(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b.png", "sub/a.jpg"]


def test_items_resized_cropped_in_range(tmp_path):
    _write(tmp_path / "wide.png", 20, 40, 255)
    ds = ImageFolderDataset(tmp_path, size=(16, 12))
    x = ds[0]
    assert tuple(x.shape) == (3, 16, 12)
    assert float(x.min()) == pytest.approx(1.0) and float(x.max()) == pytest.approx(1.0)
    black = tmp_path / "z.png"
    _write(black, 16, 12, 0)
    assert float(ImageFolderDataset(tmp_path)[1].max()) == pytest.approx(-1.0)


def test_broken_file_named_once(tmp_path):
    _write(tmp_path / "ok.png", 8, 8, 0)
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    ds = ImageFolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="bad.png"):
        ds[0]
    with pytest.raises(DatasetError, match="bad.png"):
        ImageFolderDataset(tmp_path, validate=True)


def test_empty_and_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="at least one image"):
        ImageFolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        ImageFolderDataset(tmp_path / "nope")


def test_grey_items_are_the_mean_of_rgb_and_other_channel_counts_are_refused(tmp_path):
    from tryon.errors import InputError

    tmp_path.mkdir(exist_ok=True)
    Image.fromarray(np.dstack([np.full((8, 8), v, np.uint8) for v in (0, 255, 255)])).save(tmp_path / "c.png")
    grey = ImageFolderDataset(tmp_path, size=(4, 4), channels=1)[0]
    rgb = ImageFolderDataset(tmp_path, size=(4, 4))[0]
    assert tuple(grey.shape) == (1, 4, 4) and float(grey.mean()) == pytest.approx(1 / 3, abs=1e-6)  # (−1 + 1 + 1) / 3
    assert float((grey[0] - rgb.mean(0)).abs().max()) == 0.0
    with pytest.raises(InputError, match="channels"):
        ImageFolderDataset(tmp_path, channels=4)


def test_data_shape_names_points_images_and_refuses_other_items():
    import torch

    from tryon.data import data_shape

    assert data_shape([torch.zeros(5)]) == ("points", (5,))
    assert data_shape([(torch.zeros(1, 8, 6), 3)]) == ("images", (1, 8, 6))  # (item, label) pairs: the item
    with pytest.raises(DatasetError, match="D or C×H×W"):
        data_shape([torch.zeros(2, 3)])
