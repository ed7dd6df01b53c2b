"""Quality metrics with a fixed, recorded protocol.

Distribution metrics on features — :func:`fid`, :func:`frechet_distance`, :func:`kid`, :func:`prdc`
(precision / recall / density / coverage), :func:`inception_score` — with feature extractors
:class:`InceptionFeatures` (local FID weights) and :class:`ProxyFeatures` / :func:`train_proxy` (labelled
"proxy"). Paired metrics on images — :func:`ssim`, :func:`psnr`, :func:`lpips`, :func:`proxy_lpips`,
:func:`masked_l1`. Video: :func:`flicker` / :func:`warping_errors` (warping error under the input's optical flow;
torch-free). Folder evaluation (``tryon eval``): :func:`evaluate_folders`.

Names are resolved lazily so that importing this package (e.g. by the CLI) does not import torch.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ..imports import lazy_exports

_EXPORTS = {
    "frechet_distance": "fid",
    "fid": "fid",
    "kid": "fid",
    "feature_statistics": "fid",
    "polynomial_mmd2": "fid",
    "prdc": "prdc",
    "knn_radii": "prdc",
    "ssim": "ssim",
    "psnr": "ssim",
    "masked_l1": "masked",
    "flicker": "flicker",
    "warping_errors": "flicker",
    "lpips": "lpips",
    "load_lpips": "lpips",
    "proxy_lpips": "lpips",
    "inception_score": "iscore",
    "inception_score_from_logits": "iscore",
    "InceptionFeatures": "inception",
    "fid_inception_v3": "inception",
    "ProxyFeatures": "proxy",
    "ProxyNet": "proxy",
    "train_proxy": "proxy",
    "FeatureExtractor": "features",
    "Features": "features",
    "extract_features": "features",
    "load_extractor": "extractors",
    "metric_name": "features",
    "Protocol": "protocol",
    "preset": "protocol",
    "evaluate_folders": "evaluate",
}

__all__ = sorted(_EXPORTS)


# Submodule names that equal a function name (fid, prdc, ssim, lpips, flicker) are replaced by the function.
__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _MetricsModule(types.ModuleType):
    """Keeps ``tryon.metrics.fid`` (and prdc, ssim, lpips) the *function* even after the submodule of the
    same name is imported: the import system's ``setattr(package, "fid", <module>)`` is dropped for those
    names. The submodules stay importable (``from tryon.metrics.fid import kid``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _MetricsModule
