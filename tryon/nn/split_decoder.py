"""A :class:`~tryon.nn.blocks.UNetDecoder` whose skips are concatenations ``[head, tail]`` of two inputs, split at the
tail: the part of the decoder that sees the tail alone is computed ahead, once per tail.

Each decoder level starts with a 3x3 convolution of ``[up-path, head, tail]`` (000 App. E: the siamese U-Net's
skips are ``[warped garment, person]``). A convolution is linear in its input channels and zero padding keeps it
so, hence ``conv([a, t]) = conv_a(a) + conv_t(t) + bias``: :func:`tail_terms` computes every level's ``conv_t(t)``
(no bias) from the tails, and :func:`decode_with_tail_terms` runs the decoder on the heads with those terms added
before each level's normalisation. The result equals ``decoder([cat(h, t) ...])`` up to the order of the float
sums. The catalogue export of S-WUTON uses it to move the person's share of the decoder (a fifth of the pair
head's convolution MACs at 256×192) out of the per-pair graph into the person branch.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .blocks import UNetDecoder


def _first_conv(decoder: UNetDecoder, k: int):
    return decoder.levels[k].conv[0]


def tail_terms(decoder: UNetDecoder, tails: Sequence[Tensor]) -> list[Tensor]:
    """The tails' share of each level's first convolution, coarsest level first (the decoder's level order).

    Args:
        tails: the tail of every skip, fine to coarse as the decoder's ``features`` (``tails[i]`` is the last
            ``C_i`` channels of ``features[i]``).

    Returns:
        ``n`` maps, ``terms[k]`` (B, depth, H_i, W_i) for level ``k`` (``i = n − 1 − k``), without the bias.
    """
    n = len(decoder.skip_channels)
    if len(tails) != n:
        raise ValueError(f"tails: expected {n} maps (fine to coarse), got {len(tails)}")
    terms = []
    for k in range(n):
        t = tails[n - 1 - k]
        conv = _first_conv(decoder, k)
        terms.append(F.conv2d(t, conv.weight[:, conv.in_channels - t.shape[1]:], None, conv.stride, conv.padding))
    return terms


def decode_with_tail_terms(decoder: UNetDecoder, heads: Sequence[Tensor], terms: Sequence[Tensor],
                           out_size: Sequence[int] | None = None) -> Tensor:
    """``decoder([cat(heads[i], tails[i]) ...], out_size)`` from the heads and ``terms = tail_terms(decoder, tails)``.

    Args:
        heads: the head of every skip, fine to coarse.
        terms: :func:`tail_terms` of the matching tails (coarsest level first).
        out_size: as :meth:`UNetDecoder.forward`.
    """
    n = len(decoder.skip_channels)
    if len(heads) != n or len(terms) != n:
        raise ValueError(f"heads / terms: expected {n} maps each, got {len(heads)} / {len(terms)}")
    x = None
    for k, level in enumerate(decoder.levels):
        i = n - 1 - k
        inp = heads[i] if x is None else torch.cat([x, heads[i]], dim=1)
        conv = _first_conv(decoder, k)
        y = F.conv2d(inp, conv.weight[:, : inp.shape[1]], conv.bias, conv.stride, conv.padding) + terms[k]
        y = level.conv[1:](y)  # the level's norm and ReLU
        size = heads[i - 1].shape[-2:] if i > 0 else (out_size if out_size is not None else (2 * y.shape[-2], 2 * y.shape[-1]))
        x = level.post(level.up(y, output_size=[int(size[0]), int(size[1])]))
    return decoder.output(x)


__all__ = ["decode_with_tail_terms", "tail_terms"]
