"""S-WUTON split into a garment branch, a person branch and a pair head (the catalogue mode).

In the generator of 000 §4.3.3.1 / App. E.1 most of the work sees one input only: the U-Net encoder ``E1``
and the matcher's extractor ``F1`` see the garment ``c``, ``E2`` and ``F2`` the person ``p``. Instance norm
(``E1``/``E2``) is per image and batch norm (``F1``/``F2``) is frozen at inference, so a branch's output for
one image does not depend on what else is in the batch: the split is exact. Only the correlation
(000 eq. 4.3.3), the θ regressor, the TPS warps of every ``E1`` scale and the decoder depend on the pair.

* ``garment`` graph: ``c → (E1⁰(c) … E1⁴(c), ‖F1(c)‖)`` (the last extractor map, L2-normalised per position);
* ``person`` graph: ``p → (E2⁰(p) … E2⁴(p), ‖F2(p)‖)``;
* ``pair`` graph: ``(c, garment features, person features) → (image, warped_garment)``; ``c`` itself is an
  input because the warped garment output is ``T_θ(c)`` on pixels.

:func:`split_graphs` is what ``ExportSpec.split`` of ``wuton-student`` points to; the modules share the
generator's parameters (no copy).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tryon.registry import GraphSpec

from .models import WUTON, l2_normalise


def feature_names(prefix: str, n_scales: int) -> tuple[str, ...]:
    """``(prefix_s0, …, prefix_s{n-1}, prefix_match)``: the U-Net scales fine to coarse, then the matcher map."""
    return tuple(f"{prefix}_s{i}" for i in range(n_scales)) + (f"{prefix}_match",)


class BranchFeatures(nn.Module):
    """One branch: a U-Net encoder (all scales) and a matcher extractor (last map, L2-normalised)."""

    def __init__(self, encoder: nn.Module, extractor: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.extractor = extractor

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        scales = self.encoder(image)
        return (*scales, l2_normalise(self.extractor(image)[-1]))


class PairHead(nn.Module):
    """The pair-dependent rest of :class:`tryon_wuton.models.WUTON` over cached branch features.

    ``forward(garment, *garment_features, *person_features) -> (image, warped_garment)``, the same operations
    in the same order as ``WUTONExport`` (correlation → regressor → TPS warps → decoder; ``T_θ(c)``).
    """

    def __init__(self, generator: WUTON):
        super().__init__()
        self.generator = generator
        self.n = len(generator.depths)

    def forward(self, garment: torch.Tensor, *features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.n
        g_scales, g_match = features[:n], features[n]
        p_scales, p_match = features[n + 1 : 2 * n + 1], features[2 * n + 1]
        g = self.generator
        theta = g.matcher.regressor(g.matcher.correlation(g_match, p_match))
        warped = g.warp_features(g_scales, theta)
        image = g.decoder([torch.cat([w, p], dim=1) for w, p in zip(warped, p_scales)])
        return image, g.warp_garment(garment, theta)


def _generator(pipe: Any) -> WUTON:
    gen = getattr(pipe, "generator", None)
    if not isinstance(gen, WUTON):
        raise TypeError(f"expected a pipeline with a WUTON generator, got {type(pipe).__name__}")
    return gen


def build_garment_branch(pipe: Any) -> nn.Module:
    g = _generator(pipe)
    return BranchFeatures(g.garment_encoder, g.matcher.garment_features).eval()


def build_person_branch(pipe: Any) -> nn.Module:
    g = _generator(pipe)
    return BranchFeatures(g.person_encoder, g.matcher.person_features).eval()


def build_pair_head(pipe: Any) -> nn.Module:
    return PairHead(_generator(pipe)).eval()


def split_graphs(pipe: Any) -> tuple[GraphSpec, ...]:
    """The three graphs of the ``wuton-student`` (and teacher generator) split export."""
    n = len(_generator(pipe).depths)
    garment, person = feature_names("garment", n), feature_names("person", n)
    return (
        GraphSpec("garment", build_garment_branch, ("garment",), garment),
        GraphSpec("person", build_person_branch, ("person",), person),
        GraphSpec("pair", build_pair_head, ("garment", *garment, *person), ("image", "warped_garment")),
    )


__all__ = [
    "BranchFeatures",
    "PairHead",
    "build_garment_branch",
    "build_pair_head",
    "build_person_branch",
    "feature_names",
    "split_graphs",
]
