"""S-WUTON split into a garment branch, a person branch and a pair head (the catalogue mode).

In the generator of 000 §4.3.3.1 / App. E.1 most of the work sees one input only: the U-Net encoder ``E1``
and the matcher's extractor ``F1`` see the garment ``c``, ``E2`` and ``F2`` the person ``p``. Instance norm
(``E1``/``E2``) is per image and batch norm (``F1``/``F2``) is frozen at inference, so a branch's output for
one image does not depend on what else is in the batch: the split is exact. Only the correlation
(000 eq. 4.3.3), the θ regressor, the TPS warps of every ``E1`` scale and the decoder depend on the pair — and of
the decoder, not all: each level's first convolution sees ``[up-path, warped E1, E2]``, and its ``E2`` share is a
convolution of the person alone (:mod:`tryon.nn.split_decoder`). The person branch computes that share once per
person; the pair head adds it before the level's norm.

* ``garment`` graph: ``c → (E1⁰(c) … E1⁴(c), ‖F1(c)‖)`` (the last extractor map, L2-normalised per position);
* ``person`` graph: ``p → (D⁰(E2) … D⁴(E2), ‖F2(p)‖)``, ``Dᵏ`` the person's term of decoder level ``k`` (coarsest
  first);
* ``pair`` graph: ``(c, garment features, person features) → (image, warped_garment)``; ``c`` itself is an
  input because the warped garment output is ``T_θ(c)`` on pixels.

Exports written before the person terms (person outputs ``person_s0`` … ``person_s4``) keep loading: the session
reads every graph's input and output names from the export.

:func:`split_graphs` is what ``ExportSpec.split`` of ``wuton-student`` points to; the modules share the
generator's parameters (no copy).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tryon.nn.split_decoder import decode_with_tail_terms, tail_terms
from tryon.registry import GraphSpec

from .models import WUTON, l2_normalise


def feature_names(prefix: str, n_scales: int) -> tuple[str, ...]:
    """``(prefix_s0, …, prefix_s{n-1}, prefix_match)``: the U-Net scales fine to coarse, then the matcher map."""
    return tuple(f"{prefix}_s{i}" for i in range(n_scales)) + (f"{prefix}_match",)


def person_term_names(n_levels: int) -> tuple[str, ...]:
    """``(person_dec0, …, person_dec{n-1}, person_match)``: the decoder levels' person terms (coarsest level first),
    then the matcher map."""
    return tuple(f"person_dec{k}" for k in range(n_levels)) + ("person_match",)


class BranchFeatures(nn.Module):
    """One branch: a U-Net encoder (all scales) and a matcher extractor (last map, L2-normalised)."""

    def __init__(self, encoder: nn.Module, extractor: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.extractor = extractor

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        scales = self.encoder(image)
        return (*scales, l2_normalise(self.extractor(image)[-1]))


class PersonBranch(nn.Module):
    """The person branch: ``E2`` at every scale turned into the decoder levels' person terms, and ``F2``'s last map
    (L2-normalised)."""

    def __init__(self, generator: WUTON):
        super().__init__()
        self.encoder = generator.person_encoder
        self.extractor = generator.matcher.person_features
        self.decoder = generator.decoder

    def forward(self, person: torch.Tensor) -> tuple[torch.Tensor, ...]:
        terms = tail_terms(self.decoder, self.encoder(person))
        return (*terms, l2_normalise(self.extractor(person)[-1]))


class PairHead(nn.Module):
    """The pair-dependent rest of :class:`tryon_wuton.models.WUTON` over cached branch features.

    ``forward(garment, *garment_features, *person_features) -> (image, warped_garment)``: correlation → regressor
    → TPS warps → decoder on the warped garment features with the person's precomputed terms
    (:func:`tryon.nn.split_decoder.decode_with_tail_terms`); ``T_θ(c)``. Equal to ``WUTONExport`` up to the order
    of float sums.
    """

    def __init__(self, generator: WUTON):
        super().__init__()
        self.generator = generator
        self.n = len(generator.depths)

    def forward(self, garment: torch.Tensor, *features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.n
        g_scales, g_match = features[:n], features[n]
        p_terms, p_match = features[n + 1 : 2 * n + 1], features[2 * n + 1]  # the decoder levels' person terms
        g = self.generator
        theta = g.matcher.regressor(g.matcher.correlation(g_match, p_match))
        warped = g.warp_features(g_scales, theta)
        image = decode_with_tail_terms(g.decoder, warped, p_terms)
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
    return PersonBranch(_generator(pipe)).eval()


def build_pair_head(pipe: Any) -> nn.Module:
    return PairHead(_generator(pipe)).eval()


def split_graphs(pipe: Any) -> tuple[GraphSpec, ...]:
    """The three graphs of the ``wuton-student`` (and teacher generator) split export."""
    n = len(_generator(pipe).depths)
    garment, person = feature_names("garment", n), person_term_names(n)
    return (
        GraphSpec("garment", build_garment_branch, ("garment",), garment),
        GraphSpec("person", build_person_branch, ("person",), person),
        GraphSpec("pair", build_pair_head, ("garment", *garment, *person), ("image", "warped_garment")),
    )


__all__ = [
    "BranchFeatures",
    "PairHead",
    "PersonBranch",
    "build_garment_branch",
    "build_pair_head",
    "build_person_branch",
    "feature_names",
    "person_term_names",
    "split_graphs",
]
