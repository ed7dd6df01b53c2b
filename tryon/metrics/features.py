"""One interface for the feature extractors behind FID / KID / PRDC / IS.

* :class:`~tryon.metrics.inception.InceptionFeatures` — Inception-v3 pool features (2048-d) from a local
  pytorch-fid / clean-fid weights file: FID proper, comparable with published numbers.
* :class:`~tryon.metrics.proxy.ProxyFeatures` — a small CNN trained on the data at hand (or supplied by
  the user). Everything computed from it is labelled ``proxy`` (``proxy-fid``, ``proxy-kid``,
  ``proxy-precision`` …) so that it is never mistaken for Inception FID. 000 App. C / 002 do the same
  with dataset-specific classifiers (seeds-gan §1.2, §1.4).

:func:`extract_features` runs an extractor over images in batches. This module is below both extractors (they
subclass :class:`FeatureExtractor`); :func:`tryon.metrics.extractors.load_extractor` (``"inception:PATH"`` or
``"proxy:PATH"``, the ``--features`` option of ``tryon eval``), which knows both, sits above them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from ..errors import InputError


class FeatureExtractor(torch.nn.Module):
    """Base class: ``forward(x: B×3×H×W in [-1, 1]) -> B×D`` float features; ``describe()`` → dict.

    ``label`` is ``""`` for Inception and ``"proxy"`` for proxy extractors; :func:`metric_name` uses it.
    """

    kind: str = "generic"
    label: str = ""
    dims: int = 0

    @property
    def is_proxy(self) -> bool:
        return self.label == "proxy"

    def describe(self) -> dict[str, Any]:  # pragma: no cover - overridden
        return {"kind": self.kind, "label": self.label, "dims": self.dims}


def metric_name(base: str, extractor: "FeatureExtractor | Features | str | None") -> str:
    """``fid`` → ``proxy-fid`` when the features came from a proxy extractor."""
    label = extractor if isinstance(extractor, str) or extractor is None else extractor.label
    return f"{label}-{base}" if label else base


@dataclass
class Features:
    """Features of one image set, with the description of the extractor that produced them."""

    array: np.ndarray
    label: str = ""
    extractor: dict[str, Any] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.array.shape[0])


def _to_batch(item: Any, name: str) -> torch.Tensor:
    if isinstance(item, torch.Tensor):
        t = item if item.ndim == 4 else item[None]
        if t.ndim != 4 or t.shape[1] != 3:
            raise InputError(name, "a B×3×H×W tensor in [-1, 1]", f"shape {tuple(item.shape)}")
        return t.float()
    from ..io import load_image, to_tensor

    return to_tensor(load_image(item, name=name))


@torch.no_grad()
def extract_features(
    images: Any,
    extractor: FeatureExtractor,
    batch_size: int = 50,
    device: str | torch.device | None = None,
) -> Features:
    """Run ``extractor`` over ``images`` → :class:`Features` (``N×D`` float64).

    ``images``: a ``N×3×H×W`` tensor in [-1, 1], or an iterable of tensors / image paths / arrays (same
    size within a batch; use :func:`tryon.metrics.evaluate.load_folder` to bring a folder to one size).
    """
    if device is not None:
        extractor = extractor.to(device)
    dev = next(extractor.parameters(), torch.empty(0)).device
    extractor.eval()
    chunks: list[np.ndarray] = []
    if isinstance(images, torch.Tensor):
        batches: Iterable[torch.Tensor] = (images[i : i + batch_size] for i in range(0, images.shape[0], batch_size))
    else:
        batches = _batched(images, batch_size)
    for batch in batches:
        chunks.append(extractor(batch.to(dev)).double().cpu().numpy())
    if not chunks:
        raise InputError("images", "at least one image", "none")
    return Features(np.concatenate(chunks, axis=0), label=extractor.label, extractor=extractor.describe())


def _batched(items: Iterable[Any], batch_size: int):
    buf: list[torch.Tensor] = []
    for i, item in enumerate(items):
        buf.append(_to_batch(item, f"image {i}"))
        if sum(t.shape[0] for t in buf) >= batch_size:
            yield torch.cat(buf)
            buf = []
    if buf:
        yield torch.cat(buf)


def describe_path(path: str | Path) -> dict[str, Any]:
    from ..fs import sha256_file

    p = Path(path)
    return {"weights": str(p.resolve()), "sha256": sha256_file(p), "bytes": p.stat().st_size}
