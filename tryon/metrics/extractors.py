"""Build a feature extractor from a spec string: ``load_extractor("inception:PATH" | "proxy:PATH")`` (the
``--features`` option of ``tryon eval``). Above :mod:`.features`, :mod:`.inception` and :mod:`.proxy`: it knows
both extractors, which both build on :class:`~tryon.metrics.features.FeatureExtractor`.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InputError
from .features import FeatureExtractor
from .inception import InceptionFeatures
from .proxy import ProxyFeatures


def load_extractor(spec: str, device: str | torch.device | None = None, **kwargs: Any) -> FeatureExtractor:
    """``inception:PATH`` (pytorch-fid ``pt_inception-2015-12-05-*.pth``, a ``.safetensors`` of the same
    state dict, or the clean-fid TorchScript ``inception-2015-12-05.pt``) or ``proxy:PATH`` (a proxy
    saved by :func:`tryon.metrics.proxy.train_proxy`: ``.safetensors`` file or its folder)."""
    kind, sep, path = str(spec).partition(":")
    if not sep or not path:
        raise InputError("--features", "inception:PATH or proxy:PATH", repr(spec))
    if kind == "inception":
        ex: FeatureExtractor = InceptionFeatures(path, **kwargs)
    elif kind == "proxy":
        ex = ProxyFeatures.from_file(path)
    else:
        raise InputError("--features", "inception:PATH or proxy:PATH", repr(spec))
    if device is not None:
        ex = ex.to(device)
    return ex.eval()


__all__ = ["load_extractor"]
