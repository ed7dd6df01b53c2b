"""LPIPS (Zhang et al. 2018) with the ``lpips`` package's linear heads and a backbone from a local file;
``proxy_lpips`` on proxy features when no backbone weights exist.

LPIPS "first unit-normalize[s] each layer in the channel dimension and then learn[s] a rescaling" (000
§4.3.4.3, seeds-gan §1.6). The ``lpips`` wheel ships only the linear heads (v0.0 / v0.1 for alex, vgg,
squeeze); its backbone comes from torchvision's ImageNet weights, which it would download — here they
must be given as a local file (``backbone=`` / ``--lpips-backbone`` / ``TRYON_LPIPS_BACKBONE``):
torchvision ``alexnet-owt-7be5be79.pth``, ``vgg16-397923af.pth`` or ``squeezenet1_1-b8a52dc0.pth`` (full
model or ``features.*`` only; ``.pth`` loaded with ``weights_only=True`` or ``.safetensors``). No
backbone → :class:`~tryon.errors.WeightsError` naming what to pass. Inputs in [-1, 1] (the package's
convention; CatVTON maps its images there too).

The backbone matters: CatVTON uses squeeze, LaDI-VTON alex, DM-VTON vgg (anchors-tryon §3): the backbone
and head version are recorded, and LPIPS values are only compared under the same ones.

``lpips`` is imported only inside these functions (it is a metrics extra).
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Sequence

import torch

from .reduction import reduce_per_image
from ..errors import ImageSizeError, InputError, WeightsError
from .features import describe_path
from .protocol import LPIPS_NETS

ENV_BACKBONE = "TRYON_LPIPS_BACKBONE"
TORCHVISION_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}
_CACHE: dict[tuple[str, str, str, str], Any] = {}


def resolve_backbone(net: str, backbone: str | os.PathLike | None) -> Path:
    if net not in LPIPS_NETS:
        raise InputError("lpips net", f"one of {', '.join(LPIPS_NETS)}", repr(net))
    path = backbone if backbone is not None else os.environ.get(ENV_BACKBONE)
    if not path:
        raise WeightsError(
            f"LPIPS needs ImageNet weights of its {net} backbone from a local file (torchvision "
            f"{TORCHVISION_FILES[net]}); pass backbone=PATH, --lpips-backbone PATH or set {ENV_BACKBONE}. "
            "Nothing is downloaded. Without them use proxy_lpips / the 'proxy-lpips' metric (labelled proxy)."
        )
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"LPIPS backbone weights not found: {p}")
    return p


def load_lpips(net: str = "alex", backbone: str | os.PathLike | None = None, version: str = "0.1",
               device: str | torch.device | None = None):
    """An ``lpips.LPIPS`` model: the package's linear heads (``version``) + backbone weights from ``backbone``."""
    path = resolve_backbone(net, backbone)
    key = (net, str(path.resolve()), version, str(device or "cpu"))
    if key in _CACHE:
        return _CACHE[key]
    import lpips as lp  # metrics extra, imported only here

    from .inception import load_state_dict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation inside lpips
        model = lp.LPIPS(pretrained=True, net=net, version=version, pnet_rand=True, verbose=False)
    sd = load_state_dict(path)
    target = model.net.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    missing = []
    for name in target:
        m = re.match(r"slice\d+\.(.+)$", name)
        src = f"features.{m.group(1)}" if m else name
        if src in sd:
            mapped[name] = sd[src]
        elif m and m.group(1) in sd:  # features-only state dict without the prefix
            mapped[name] = sd[m.group(1)]
        else:
            missing.append(src)
    if missing:
        raise WeightsError(f"{path} does not hold a torchvision {net} backbone: missing {missing[:5]}")
    try:
        model.net.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not fit the LPIPS {net} backbone: {str(exc)[:300]}") from exc
    model = model.eval().to(device or "cpu")
    for p in model.parameters():
        p.requires_grad_(False)
    model.tryon_info = {"net": net, "version": version, "heads": f"lpips package v{version} {net}.pth", **describe_path(path)}
    _CACHE[key] = model
    return model


def _prep(a: torch.Tensor, b: torch.Tensor, value_range: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise InputError("lpips", "torch tensors B×3×H×W", f"{type(a).__name__}, {type(b).__name__}")
    a, b = (a[None] if a.ndim == 3 else a), (b[None] if b.ndim == 3 else b)
    if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
        raise ImageSizeError("b", f"B×3×H×W like a {tuple(a.shape)}", f"{tuple(b.shape)}")
    lo, hi = float(value_range[0]), float(value_range[1])
    return ((a.float() - lo) / (hi - lo)) * 2 - 1, ((b.float() - lo) / (hi - lo)) * 2 - 1


def lpips(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    net: str = "alex",
    backbone: str | os.PathLike | None = None,
    version: str = "0.1",
    value_range: Sequence[float] = (-1.0, 1.0),
    reduction: str = "mean",
    model: Any = None,
) -> torch.Tensor:
    """LPIPS distance (lower = more similar) between ``a`` and ``b`` (``B×3×H×W`` in ``value_range``).

    ``model`` (from :func:`load_lpips`) skips the lookup; otherwise the model is built (and cached)
    from ``net`` + ``backbone``. Returns the mean (``reduction='mean'``) or per-image values (``'none'``).
    """
    a, b = _prep(a, b, value_range)
    if model is None:
        model = load_lpips(net, backbone, version, device=a.device)
    dev = next(model.parameters()).device
    with torch.no_grad():
        d = model(a.to(dev), b.to(dev)).flatten()
    return reduce_per_image(d, reduction)


def proxy_lpips(
    a: torch.Tensor,
    b: torch.Tensor,
    extractor: Any,
    *,
    value_range: Sequence[float] = (-1.0, 1.0),
    reduction: str = "mean",
) -> torch.Tensor:
    """"proxy-lpips": LPIPS without learned heads on a proxy extractor's feature maps.

    For each stage of :class:`~tryon.metrics.proxy.ProxyFeatures`: unit-normalise the channels (as
    LPIPS), squared difference summed over channels, spatial mean; summed over stages (the ``lpips``
    package's ``lpips=False`` variant). Reported as ``proxy-lpips``: not comparable with LPIPS.
    """
    if getattr(extractor, "label", "") != "proxy" or not hasattr(extractor, "feature_maps"):
        raise InputError("extractor", "a ProxyFeatures extractor (tryon.metrics.proxy)", type(extractor).__name__)
    a, b = _prep(a, b, value_range)
    dev = next(extractor.parameters()).device
    with torch.no_grad():
        fa, fb = extractor.feature_maps(a.to(dev)), extractor.feature_maps(b.to(dev))
        total = torch.zeros(a.shape[0], device=dev)
        for x, y in zip(fa, fb):
            x = x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            y = y / (y.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + (x - y).pow(2).sum(dim=1).mean(dim=(1, 2))
    return reduce_per_image(total, reduction)

