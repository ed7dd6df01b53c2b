"""Every way an image or mask can be wrong gives one clear InputError naming input, expected, found."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tryon import io as tio
from tryon.errors import ImageModeError, ImageSizeError, InputError, MaskError, UnreadableImageError


def png_bytes(img: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


RGB = Image.fromarray(np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3))


def test_all_input_kinds_agree(tmp_path):
    path = tmp_path / "a.png"
    RGB.save(path)
    ref = np.asarray(RGB)
    for x in (path, str(path), path.read_bytes(), RGB, ref):
        np.testing.assert_array_equal(tio.load_image(x), ref)
    t = tio.to_tensor(ref)
    assert t.shape == (1, 3, 6, 4) and t.min() >= -1 and t.max() <= 1
    np.testing.assert_array_equal(tio.to_uint8(t), ref)


@pytest.mark.parametrize(
    "data, err, text",
    [
        (b"", UnreadableImageError, "0 bytes"),
        (b"this is not an image at all", UnreadableImageError, "no decoder"),
        (png_bytes(RGB)[:40], UnreadableImageError, "truncated"),
        (png_bytes(Image.new("RGB", (64, 64)), "JPEG")[:300], UnreadableImageError, "truncated"),
    ],
)
def test_unreadable_bytes(data, err, text):
    with pytest.raises(err, match=text) as info:
        tio.load_image(data, name="person")
    assert str(info.value).startswith("person")


def test_missing_empty_and_directory_paths(tmp_path):
    with pytest.raises(UnreadableImageError, match="no file at"):
        tio.load_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UnreadableImageError, match="empty file"):
        tio.load_image(tmp_path / "empty.png")
    with pytest.raises(UnreadableImageError, match="a directory"):
        tio.load_image(tmp_path)


def test_zero_sized_and_pixel_limit(monkeypatch):
    with pytest.raises(ImageSizeError, match="non-empty"):
        tio.load_image(np.zeros((0, 5, 3), np.uint8))
    big = png_bytes(Image.new("L", (300, 200)))
    with pytest.raises(ImageSizeError, match=r"at most 50000 pixels, got 300×200 = 60000 pixels"):
        tio.load_image(big, max_pixels=50_000)
    monkeypatch.setenv("TRYON_MAX_PIXELS", "1000")
    with pytest.raises(ImageSizeError, match="at most 1000 pixels"):
        tio.load_image(np.zeros((40, 40, 3), np.uint8))


def test_decompression_bomb_header_is_refused_before_decoding(monkeypatch):
    # a tiny file claiming a huge size: refused from the header, pixels never decoded
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    data = png_bytes(Image.new("1", (1000, 1000)))
    with pytest.raises(ImageSizeError):
        tio.load_image(data)


def test_conversion_rules():
    grey = Image.fromarray(np.full((3, 2), 77, np.uint8), "L")
    assert tio.load_image(grey).tolist() == [[[77] * 3] * 2] * 3
    g16 = Image.fromarray(np.full((3, 2), 65535, np.uint16))
    assert tio.load_image(png_bytes(g16)).max() == 255
    assert tio.load_image(np.full((2, 2), 257 * 10, np.uint16)).max() == 10
    pal = Image.new("P", (2, 2))
    pal.putpalette([10, 20, 30] * 256)
    assert tio.load_image(pal)[0, 0].tolist() == [10, 20, 30]
    cmyk = Image.new("CMYK", (2, 2), (0, 0, 0, 0))
    assert tio.load_image(cmyk)[0, 0].tolist() == [255, 255, 255]
    rgba = Image.new("RGBA", (2, 2), (0, 0, 0, 0))  # fully transparent → white
    assert tio.load_image(rgba)[0, 0].tolist() == [255, 255, 255]
    half = np.zeros((1, 1, 4), np.uint8)
    half[..., 3] = 128
    assert tio.load_image(half)[0, 0].tolist() == [127, 127, 127]


def test_unsupported_modes_and_arrays():
    with pytest.raises(ImageModeError, match="dtype float32"):
        tio.load_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageModeError, match=r"shape \(3, 8, 8\)"):
        tio.load_image(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ImageModeError, match="values in"):
        tio.load_image(Image.fromarray(np.full((2, 2), 1000, np.int32), "I"))
    with pytest.raises(InputError, match="a path, bytes"):
        tio.load_image(3.5)


def test_tensor_checks():
    with pytest.raises(ImageModeError, match="values in"):
        tio.as_batch(torch.rand(1, 3, 4, 4) * 3)
    with pytest.raises(ImageModeError, match=r"B×3×H×W"):
        tio.as_batch(torch.zeros(1, 4, 4, 4))
    with pytest.raises(ImageModeError, match="float"):
        tio.as_batch(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))


def test_masks():
    m = np.zeros((6, 4), np.uint8)
    m[2:4] = 255
    out = tio.load_mask(m, size=(6, 4))
    assert out.dtype == np.float32 and set(np.unique(out)) == {0.0, 1.0} and out.sum() == 8
    assert tio.load_mask(png_bytes(Image.fromarray(m))).sum() == 8
    assert tio.load_mask(torch.from_numpy(m[None, None] / 255.0)).sum() == 8
    # RGB with equal channels is single-channel in disguise
    assert tio.load_mask(np.repeat(m[..., None], 3, 2)).sum() == 8
    with pytest.raises(MaskError, match="differing R, G, B"):
        tio.load_mask(np.random.default_rng(0).integers(0, 255, (6, 4, 3), dtype=np.uint8))
    with pytest.raises(MaskError, match=r"expected the image size 4×6 \(W×H\), got 5×6"):
        tio.load_mask(np.zeros((6, 5), np.uint8), size=(6, 4), name="mask")
    soft = np.full((6, 4), 128, np.uint8)
    with pytest.raises(MaskError, match="intermediate values"):
        tio.load_mask(soft)
    with pytest.raises(MaskError, match="values in"):
        tio.load_mask(np.full((2, 2), 2.0, np.float32))
    with pytest.raises(MaskError, match="single-channel"):
        tio.load_mask(torch.zeros(2, 3, 4, 4))


def test_batches_restore_kind_and_size():
    imgs = [np.zeros((60, 40, 3), np.uint8), np.full((30, 50, 3), 200, np.uint8)]
    b = tio.as_batch(imgs, size=(64, 48))
    assert b.tensor.shape == (2, 3, 64, 48) and b.kind == "numpy" and b.is_list
    back = tio.restore(b.tensor, b)
    assert [a.shape for a in back] == [(60, 40, 3), (30, 50, 3)]
    assert np.abs(back[1].astype(int) - 200).max() <= 1
    pil = tio.restore(*(lambda bb: (bb.tensor, bb))(tio.as_batch(Image.fromarray(imgs[0]), size=(64, 48))))
    assert isinstance(pil, Image.Image) and pil.size == (40, 60)
    t = torch.rand(2, 3, 64, 48) * 2 - 1
    bt = tio.as_batch(t, size=(64, 48))
    assert torch.equal(tio.restore(bt.tensor, bt), t)
    with pytest.raises(ImageSizeError, match="one size"):
        tio.as_batch(imgs)
    with pytest.raises(InputError, match="one kind"):
        tio.as_batch([imgs[0], Image.fromarray(imgs[0])])


def test_save_image_is_atomic(tmp_path):
    tio.save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "o" / "x.png")
    assert (tmp_path / "o" / "x.png").is_file()
    assert not list((tmp_path / "o").glob(".*tmp"))
