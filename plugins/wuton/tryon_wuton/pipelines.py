"""Inference pipelines of the WUTON plugin (their task specs are in :mod:`tryon_wuton.specs`).

* ``wuton-parser`` (:class:`WutonParserPipeline`): person → canonical parse map (the human parser ``h``).
* ``wuton-teacher`` (:class:`WutonTeacherPipeline`): T-WUTON with its pre-processing, 000 eq. 4.3.1:
  person → parser → agnostic person ``p*`` → geometric matcher → siamese U-Net → try-on image.
* ``wuton-student`` (:class:`WutonStudentPipeline`): S-WUTON, 000 eq. 4.3.2: (person, garment) → try-on
  image with no parser and no pose estimator.

All take any image kind (path, bytes, PIL, numpy HWC uint8, torch B×3×H×W in [-1, 1], or a list of them =
a batch) and any size: inputs are letterboxed to the model resolution ``size=(H, W)`` (default 256×192,
white padding, the garment background) and results are restored to the person's kind and size
(:func:`tryon.io.as_batch` / :func:`tryon.io.restore`). One garment may be applied to a batch of persons.
``return_details=True`` returns a :class:`TryOnResult` with the warped garment, θ and (teacher) the
agnostic person and parse map. ``weights=None`` (``tryon.load(task)``) builds randomly initialised
pipelines, useful for export and speed work. Constructor arguments are the pipeline's hyper-parameters,
recorded in ``config.json`` by :class:`tryon.Pipeline`; training runs put what they trained on in
``pipe.provenance`` (saved as ``training``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tryon import Pipeline
from tryon.errors import InputError
from tryon.io import Batch, as_batch, restore

from .agnostic import make_agnostic, normalise_category
from .data.labels import NUM_CANONICAL
from .models import DEFAULT_DEPTHS, DEFAULT_SIZE, WUTON, WUTONExport
from .parsing import DEFAULT_ENCODER, HumanParser

log = logging.getLogger("tryon_wuton.pipelines")


def _size(size: Sequence[int] | None) -> tuple[int, int]:
    if size is None:
        return DEFAULT_SIZE
    if len(size) != 2 or int(size[0]) < 32 or int(size[1]) < 32:
        raise InputError("size", "(H, W) with H, W >= 32", f"{tuple(size)!r}")
    return int(size[0]), int(size[1])


@dataclass
class TryOnResult:
    """Detailed output of a try-on pipeline (``return_details=True``).

    ``image`` and ``warped_garment`` come back in the kind and size of the person input; ``theta`` is the
    ``B×50`` TPS offsets tensor (CPU); ``agnostic`` (restored like the image) and ``parse`` (``B×H×W``
    int64 at the model resolution, CPU) are set by the teacher pipeline only.
    """

    image: Any
    warped_garment: Any
    theta: torch.Tensor
    agnostic: Any = None
    parse: torch.Tensor | None = None


# ------------------------------------------------------------------------------------------------
# shared input handling
# ------------------------------------------------------------------------------------------------
class _TryOnBase(Pipeline):
    size: tuple[int, int]

    def _pair(self, person: Any, garment: Any) -> tuple[Batch, torch.Tensor, torch.Tensor]:
        if person is None:
            raise InputError("person", "an image (path, bytes, PIL, numpy or torch) or a list of them", "None")
        if garment is None:
            raise InputError("garment", "an image (path, bytes, PIL, numpy or torch) or a list of them", "None")
        pb = as_batch(person, name="person", size=self.size)
        gb = as_batch(garment, name="garment", size=self.size)
        p, g = pb.tensor, gb.tensor
        if len(gb) != len(pb):
            if len(gb) != 1:
                raise InputError("garment", f"1 garment or one per person ({len(pb)})", f"{len(gb)} garments")
            g = g.expand(len(pb), -1, -1, -1)
        dev = torch.device(self.device)
        return pb, p.to(dev), g.contiguous().to(dev)

    @staticmethod
    def _restore(t: torch.Tensor, pb: Batch) -> Any:
        return restore(t.detach().float().cpu(), pb)

    @property
    def categories(self) -> tuple[str, ...] | None:
        """The garment categories the weights were trained on (``training.trained_categories`` of the run), or
        ``None`` when unknown (random weights, runs saved before categories were recorded): then nothing is refused."""
        recorded = (getattr(self, "provenance", None) or {}).get("trained_categories")
        return tuple(recorded) if recorded else None

    def _category(self, category: str | None) -> str | None:
        """``category`` normalised (DressCode's folder names accepted) and refused, in one line, when the weights were
        not trained on it; ``None`` stays ``None``."""
        if category is None:
            return None
        c = normalise_category(category)
        if self.categories is not None and c not in self.categories:
            raise InputError("category", f"one of {', '.join(self.categories)} (what this model was trained on)",
                             repr(category))
        return c


# ------------------------------------------------------------------------------------------------
# parser
# ------------------------------------------------------------------------------------------------
class WutonParserPipeline(Pipeline):
    """``wuton-parser``: person image(s) → canonical parse map(s) (VITON-HD v3 / CIHP labels).

    Output kind follows the input: torch → ``B×H×W`` int64 tensor (a list when sizes differ); numpy →
    ``H×W`` uint8 array; path/bytes/PIL → PIL image in mode ``P`` with the CIHP palette. A list in gives a
    list out. Logits are un-letterboxed and resized bilinearly to each input's size before the argmax.
    """

    def __init__(
        self,
        size: Sequence[int] = DEFAULT_SIZE,
        num_classes: int = NUM_CANONICAL,
        encoder: str = DEFAULT_ENCODER,
    ):
        super().__init__()
        self.size = _size(size)
        num_classes = int(num_classes) if num_classes is not None else NUM_CANONICAL
        self.parser = HumanParser(num_classes, encoder=encoder).eval()

    def __call__(self, person: Any) -> Any:
        pb = as_batch(person, name="person", size=self.size)
        with torch.inference_mode():
            logits = self.parser(pb.tensor.to(torch.device(self.device))).float().cpu()
        maps = []
        for i in range(logits.shape[0]):
            lo = logits[i : i + 1]
            if pb.boxes is not None:
                top, left, h, w = pb.boxes[i]
                lo = lo[:, :, top : top + h, left : left + w]
                if (h, w) != tuple(pb.sizes[i]):
                    lo = F.interpolate(lo, size=tuple(pb.sizes[i]), mode="bilinear", align_corners=False)
            maps.append(lo.argmax(1)[0])
        return _labels_out(maps, pb)


def _labels_out(maps: list[torch.Tensor], pb: Batch) -> Any:
    import numpy as np
    from PIL import Image

    from .data.labels import palette_bytes

    if pb.kind == "torch":
        if len({tuple(m.shape) for m in maps}) == 1:
            return torch.stack(maps, 0)
        return maps
    arrs = [m.numpy().astype(np.uint8) for m in maps]
    if pb.kind == "numpy":
        return arrs if pb.is_list else arrs[0]
    pils = []
    for a in arrs:
        img = Image.fromarray(a, mode="P")
        img.putpalette(palette_bytes())
        pils.append(img)
    return pils if pb.is_list else pils[0]


# ------------------------------------------------------------------------------------------------
# teacher
# ------------------------------------------------------------------------------------------------
class WutonTeacherPipeline(_TryOnBase):
    """``wuton-teacher``: T-WUTON with its human parser (000 eq. 4.3.1).

    ``pipe(person=..., garment=..., return_details=False, agnostic=None)``: the parser labels the person,
    :func:`tryon_wuton.agnostic.agnostic_person` masks arms, upper-body cloth and neck box (000 §4.3.3.2),
    the generator fits the garment on ``p*``. Passing ``agnostic=`` (images like ``person``) skips the
    parser (e.g. agnostic persons computed from ground-truth parse maps).

    Components: ``parser`` (:class:`HumanParser`) and ``generator`` (:class:`WUTON`, matcher inside). No
    discriminator at inference (training checkpoints keep it).
    """

    def __init__(
        self,
        size: Sequence[int] = DEFAULT_SIZE,
        num_classes: int = NUM_CANONICAL,
        parser_encoder: str = DEFAULT_ENCODER,
        depths: Sequence[int] = DEFAULT_DEPTHS,
        grid_size: int = 5,
        parser_trained: bool = False,
        plain_ends: bool = True,
    ):
        super().__init__()
        self.size = _size(size)
        self.parser_trained = bool(parser_trained)
        num_classes = int(num_classes) if num_classes is not None else NUM_CANONICAL
        self.parser = HumanParser(num_classes, encoder=parser_encoder).eval()
        self.generator = WUTON(size=self.size, depths=depths, grid_size=grid_size, plain_ends=plain_ends).eval()
        self._warned = False

    def agnostic_from(self, person: torch.Tensor, category: str = "upper") -> tuple[torch.Tensor, torch.Tensor]:
        """``(p*, parse)`` for a ``B×3×H×W`` person batch at the model size; ``category`` decides what p* masks."""
        if not self.parser_trained and not self._warned:
            log.warning("wuton-teacher: the parser of this pipeline was not trained (random weights); "
                        "results are meaningless unless you pass agnostic=... or train with --parser")
            self._warned = True
        parse = self.parser(person).argmax(1)
        return make_agnostic(person, parse, category), parse

    def __call__(self, person: Any = None, garment: Any = None, *, return_details: bool = False,
                 agnostic: Any = None, category: str | None = None) -> Any:
        """``category`` (``upper`` by default, ``lower``, ``dress``): the garment's category, which decides what the
        agnostic person masks (after DressCode's rule); refused when the weights were not trained on it."""
        category = self._category(category) or "upper"
        pb, p, g = self._pair(person, garment)
        with torch.inference_mode():
            if agnostic is not None:
                ab = as_batch(agnostic, name="agnostic", size=self.size)
                if len(ab) != len(pb):
                    raise InputError("agnostic", f"one per person ({len(pb)})", f"{len(ab)} images")
                p_star, parse = ab.tensor.to(p.device), None
            else:
                p_star, parse = self.agnostic_from(p, category)
            image, theta = self.generator(p_star, g)
            if not return_details:
                return self._restore(image, pb)
            warped = self.generator.warp_garment(g, theta)
        return TryOnResult(
            image=self._restore(image, pb),
            warped_garment=self._restore(warped, pb),
            theta=theta.float().cpu(),
            agnostic=self._restore(p_star, pb),
            parse=parse.cpu() if parse is not None else None,
        )


# ------------------------------------------------------------------------------------------------
# student
# ------------------------------------------------------------------------------------------------
class WutonStudentPipeline(_TryOnBase):
    """``wuton-student``: S-WUTON, parser-free (000 eq. 4.3.2): ``pipe(person=..., garment=...)``.

    One component, ``generator`` (:class:`WUTON`, same architecture as the teacher's, input the plain
    person image).
    """

    def __init__(
        self,
        size: Sequence[int] = DEFAULT_SIZE,
        depths: Sequence[int] = DEFAULT_DEPTHS,
        grid_size: int = 5,
        plain_ends: bool = True,
    ):
        super().__init__()
        self.size = _size(size)
        self.generator = WUTON(size=self.size, depths=depths, grid_size=grid_size, plain_ends=plain_ends).eval()

    def __call__(self, person: Any = None, garment: Any = None, *, return_details: bool = False,
                 category: str | None = None) -> Any:
        """``category``: the garment's category; the parser-free student reads it from the garment image, so it is only
        checked — a category the weights were not trained on is refused with one line."""
        self._category(category)
        pb, p, g = self._pair(person, garment)
        with torch.inference_mode():
            image, theta = self.generator(p, g)
            if not return_details:
                return self._restore(image, pb)
            warped = self.generator.warp_garment(g, theta)
        return TryOnResult(image=self._restore(image, pb), warped_garment=self._restore(warped, pb),
                           theta=theta.float().cpu())


# ------------------------------------------------------------------------------------------------
# export / bench hooks (referenced lazily from the task specs)
# ------------------------------------------------------------------------------------------------
def category_conditions(pipe: Any) -> dict[str, list[str]]:
    """The manifest's ``conditions``: the garment categories the weights were trained on (none when unknown)."""
    cats = getattr(pipe, "categories", None)
    return {"category": list(cats)} if cats else {}


def _example_pair(pipe: Any, batch: int) -> dict[str, torch.Tensor]:
    h, w = pipe.size
    gen = torch.Generator().manual_seed(0)
    dev = torch.device(pipe.device)
    person = (torch.rand(batch, 3, h, w, generator=gen) * 2 - 1).to(dev)
    garment = (torch.rand(batch, 3, h, w, generator=gen) * 2 - 1).to(dev)
    return {"person": person, "garment": garment}


def build_generator_export(pipe: Any) -> torch.nn.Module:
    """``(person, garment) -> (image, warped_garment)`` over the pipeline's generator (image first)."""
    return WUTONExport(pipe.generator).eval()


def example_inputs(pipe: Any, batch: int) -> dict[str, torch.Tensor]:
    """Inputs for the export (``person``, ``garment``: ``B×3×H×W`` in [-1, 1] at the model size)."""
    return _example_pair(pipe, batch)


def bench_inputs(pipe: Any, batch: int) -> dict[str, torch.Tensor]:
    """``pipe(**inputs)`` inputs for ``tryon bench`` (whole pipeline, pre-processing included)."""
    return _example_pair(pipe, batch)


def build_parser_export(pipe: Any) -> torch.nn.Module:
    return pipe.parser.eval()


def parser_example_inputs(pipe: Any, batch: int) -> dict[str, torch.Tensor]:
    return {"person": _example_pair(pipe, batch)["person"]}


def parser_bench_inputs(pipe: Any, batch: int) -> dict[str, torch.Tensor]:
    return {"person": _example_pair(pipe, batch)["person"]}


__all__ = [
    "TryOnResult",
    "WutonParserPipeline",
    "WutonStudentPipeline",
    "WutonTeacherPipeline",
    "bench_inputs",
    "build_generator_export",
    "build_parser_export",
    "example_inputs",
    "parser_bench_inputs",
    "parser_example_inputs",
]
