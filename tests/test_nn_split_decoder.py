"""tryon.nn.split_decoder: a U-Net decoder over ``[head, tail]`` skips equals the decoder run on the heads plus the
tails' precomputed terms (the split that moves the person's share of S-WUTON's decoder out of the pair head)."""

from __future__ import annotations

import pytest
import torch

from tryon.nn import ConvEncoder, UNetDecoder
from tryon.nn.split_decoder import decode_with_tail_terms, tail_terms


@pytest.mark.parametrize("norm_last", [True, False])
@pytest.mark.parametrize("size", [(64, 48), (36, 28)])  # even and odd halvings (output_padding 0 and 1)
def test_split_decoder_equals_the_decoder_on_concatenated_skips(norm_last, size) -> None:
    torch.manual_seed(0)
    depths = (4, 8, 16)
    head_enc, tail_enc = ConvEncoder(3, depths, norm="instance"), ConvEncoder(3, depths, norm="instance")
    dec = UNetDecoder(skip_channels=tuple(2 * d for d in depths), depths=(depths[0], *depths[:-1]), norm_last=norm_last).eval()
    a, b = torch.randn(2, 3, *size), torch.randn(2, 3, *size)
    with torch.no_grad():
        heads, tails = head_enc(a), tail_enc(b)
        ref = dec([torch.cat([h, t], 1) for h, t in zip(heads, tails)], out_size=size)
        terms = tail_terms(dec, tails)
        got = decode_with_tail_terms(dec, heads, terms, out_size=size)
    assert [tuple(t.shape[1:]) for t in terms] == [(8, *tails[2].shape[-2:]), (4, *tails[1].shape[-2:]),
                                                   (4, *tails[0].shape[-2:])]
    assert got.shape == ref.shape == (2, 3, *size)
    # the same float32 operations summed in another order: measured max |diff| 1.8e-7 to 4.0e-7 on outputs in [-1, 1]
    assert torch.allclose(got, ref, atol=1e-5, rtol=0)


def test_tail_terms_do_not_depend_on_the_heads_and_are_linear_in_the_tails() -> None:
    torch.manual_seed(1)
    dec = UNetDecoder(skip_channels=(8, 16), depths=(4, 4)).eval()
    tails = [torch.randn(1, 4, 16, 12), torch.randn(1, 8, 8, 6)]
    with torch.no_grad():
        t1, t2 = tail_terms(dec, tails), tail_terms(dec, [2 * t for t in tails])
    for x, y in zip(t1, t2):
        assert torch.allclose(2 * x, y, atol=1e-6)  # no bias inside: the bias is added once, with the heads
    with pytest.raises(ValueError, match="expected 2 maps"):
        tail_terms(dec, tails[:1])
