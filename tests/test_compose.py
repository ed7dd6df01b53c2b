"""The editing tasks' paste (``tryon.compose``): the source bit for bit beyond the seam, the decode bit for bit
inside the mask, a blend in a band of ``seam_width`` pixels; through a letterbox, the user's own pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.compose import SEAM_SIGMA, paste_source, paste_weight, restore_pasted, seam_width
from tryon.geometry.masks import dilate
from tryon.io import as_batch


def _mask(h=24, w=20, box=(6, 14, 5, 12)):
    m = torch.zeros(1, 1, h, w)
    m[..., box[0] : box[1], box[2] : box[3]] = 1
    return m


def _beyond_seam(mask: torch.Tensor, feather: float = SEAM_SIGMA) -> torch.Tensor:
    """Pixels farther than the seam from the mask (chessboard distance, the blur kernel's square support)."""
    return dilate(mask, 2 * seam_width(feather) + 1) == 0


def test_seam_width_is_the_blur_radius():
    assert seam_width(SEAM_SIGMA) == 3 and seam_width(0.0) == 0 and seam_width(2.0) == 6
    w = paste_weight(_mask())
    assert torch.equal(w[_mask() > 0], torch.ones(int(_mask().sum())))  # inside: all decode
    band = (w > 0) & (w < 1)
    assert band.any() and torch.equal(band, band & ~_beyond_seam(_mask()) & (_mask() == 0))


def test_paste_source_exact_outside_exact_inside_blend_in_the_band():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(2, 3, 24, 20, generator=g) * 2 - 1
    gen = torch.rand(2, 3, 24, 20, generator=g) * 2 - 1
    m = _mask().expand(2, -1, -1, -1)
    out = paste_source(src, gen, m)
    far = _beyond_seam(m).expand_as(src)
    inside = (m > 0).expand_as(src)
    assert torch.equal(out[far], src[far]) and torch.equal(out[inside], gen[inside])
    band = ~far & ~inside
    lo, hi = torch.minimum(src, gen)[band], torch.maximum(src, gen)[band]
    assert bool(((out[band] >= lo) & (out[band] <= hi)).all())
    # a constant source and decode make the blend visible: strictly between the two in the band
    flat = paste_source(torch.ones(1, 3, 24, 20), -torch.ones(1, 3, 24, 20), _mask())
    w = paste_weight(_mask()).expand(1, 3, -1, -1)
    ramp = (w > 0) & (w < 1)
    assert ramp.any() and bool(((flat[ramp] > -1) & (flat[ramp] < 1)).all())
    hard = paste_source(src, gen, m, feather=0.0)
    assert torch.equal(hard[~inside], src[~inside])


@pytest.mark.parametrize("kind", ["numpy", "pil", "torch"])
def test_restore_pasted_keeps_the_users_pixels_through_a_letterbox(kind):
    rng = np.random.default_rng(0)
    arr = (rng.random((30, 22, 3)) * 255).astype(np.uint8)
    mask = np.zeros((30, 22), np.uint8)
    mask[10:20, 6:15] = 255
    image = {"numpy": arr, "pil": Image.fromarray(arr),
             "torch": torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 127.5 - 1}[kind]
    batch = as_batch(image, size=(16, 16))  # letterboxed: the kept pixels would not survive the resize round trip
    decode = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    out = restore_pasted(decode, batch, image, mask)
    got = np.asarray(out) if kind != "torch" else ((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    assert got.shape == arr.shape
    m = torch.from_numpy(mask > 0).float()
    far = _beyond_seam(m).numpy()
    assert np.array_equal(got[far], arr[far])  # uint8 in, identical uint8 out beyond the seam
    assert not np.array_equal(got[mask > 0], arr[mask > 0])


def test_restore_pasted_batches_and_mask_counts():
    arrs = [(np.random.default_rng(i).random((20, 20, 3)) * 255).astype(np.uint8) for i in range(2)]
    masks = [np.zeros((20, 20), np.uint8), np.zeros((20, 20), np.uint8)]
    masks[0][2:8, 2:8] = 255
    masks[1][10:18, 10:18] = 255
    batch = as_batch(arrs, size=(16, 16))
    out = restore_pasted(torch.zeros(2, 3, 16, 16), batch, arrs, masks)
    assert isinstance(out, list) and len(out) == 2
    for o, a, mk in zip(out, arrs, masks):
        far = _beyond_seam(torch.from_numpy(mk > 0).float()).numpy()
        assert np.array_equal(o[far], a[far]) and np.all(o[mk > 0] == 128)  # inside: the decode (0 → 128)
    from tryon.errors import MaskError

    with pytest.raises(MaskError):
        restore_pasted(torch.zeros(2, 3, 16, 16), batch, arrs, masks * 3)
