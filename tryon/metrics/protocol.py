"""The evaluation protocol: every choice that changes a metric's value, fixed and recorded.

Published try-on numbers differ across papers because each repository resizes, scales and extracts
features differently (see ``PROTOCOL.md`` next to this file, and the survey of CatVTON, LaDI-VTON,
HR-VITON, DM-VTON, DAFlow in the project reference ``anchors-tryon.md`` §3). A :class:`Protocol` holds
those choices; :func:`preset` returns the three named ones. This module imports no torch (the CLI's
``configure`` step reads the preset names from here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .._version import __version__

RESIZE_FILTERS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
#: how images reach the Inception input size (299×299)
FID_RESIZE_MODES = ("torch-bilinear", "pil-bicubic-float")
FID_METHODS = ("eigh", "sqrtm")
SSIM_CHANNELS = ("rgb", "grey")
SSIM_PADDING = ("valid", "same-reflect", "same-zero")
LPIPS_NETS = ("alex", "vgg", "squeeze")

#: metric names understood by ``tryon eval`` / :func:`tryon.metrics.evaluate.evaluate_folders`
PAIRED_METRICS = ("ssim", "psnr", "lpips", "proxy-lpips", "masked_l1")
DISTRIBUTION_METRICS = ("fid", "kid", "prdc", "is")
ALL_METRICS = DISTRIBUTION_METRICS + PAIRED_METRICS


@dataclass
class Protocol:
    """All settings of one evaluation run. ``as_dict()`` is what ``tryon eval`` writes to its JSON.

    * ``size`` — (H, W) every image is brought to before any metric (``None``: the size of the first
      generated image; real images are resized to it, as CatVTON's ``eval.py`` does).
    * ``resize_filter`` — PIL filter used for that resize (only images whose size differs are resized).
    * ``fid_resize`` — how images reach 299×299 for Inception: ``torch-bilinear`` (pytorch-fid:
      ``F.interpolate(bilinear, align_corners=False)`` on floats) or ``pil-bicubic-float`` (clean-fid
      ``mode='clean'``: PIL bicubic on each float32 channel, clipped to 0..255).
    * ``fid_method`` — ``eigh`` (default) or ``sqrtm`` (pytorch-fid's scipy algorithm); they agree to
      < 1e-6 relative (see :mod:`tryon.metrics.fid`).
    * ``kid_*`` — KID subset size (clamped to the smaller set, never silently larger), number of
      subsets, seed of the subset draw and the reported scale (1 = raw, 1000 = CatVTON tables).
    * ``prdc_k`` — k of the k-NN balls (Kynkäänniemi et al. 2019; Naeem et al. 2020), 5 as in 002.
    * ``ssim_*`` — Gaussian window 11, σ 1.5, RGB in [0, 1] (data range 1); border ``valid``
      (= scikit-image), ``same-reflect`` (= torchmetrics 1.9, kornia ``same``) or ``same-zero``
      (= pytorch-ssim, zero padding, full map).
    * ``lpips_*`` — backbone (alex / vgg / squeeze) and linear-head version of the ``lpips`` package;
      inputs in [-1, 1].
    """

    name: str = "tryon"
    size: tuple[int, int] | None = None
    resize_filter: str = "bicubic"
    file_format: str = "decoded with PIL (tryon.io.load_image); PNG advised for generated images"
    value_range: str = "uint8 RGB → float32 x/127.5 − 1 in [−1, 1]; SSIM/PSNR on (x+1)/2 in [0, 1]"
    fid_resize: str = "torch-bilinear"
    fid_method: str = "eigh"
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    kid_seed: int = 0
    kid_scale: float = 1.0
    prdc_k: int = 5
    is_splits: int = 10
    ssim_channels: str = "rgb"
    ssim_padding: str = "valid"
    ssim_window: int = 11
    ssim_sigma: float = 1.5
    lpips_net: str = "alex"
    lpips_version: str = "0.1"
    batch_size: int = 50
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..errors import InputError

        checks = (
            ("resize_filter", self.resize_filter, RESIZE_FILTERS),
            ("fid_resize", self.fid_resize, FID_RESIZE_MODES),
            ("fid_method", self.fid_method, FID_METHODS),
            ("ssim_channels", self.ssim_channels, SSIM_CHANNELS),
            ("ssim_padding", self.ssim_padding, SSIM_PADDING),
            ("lpips_net", self.lpips_net, LPIPS_NETS),
        )
        for what, value, allowed in checks:
            if value not in allowed:
                raise InputError(f"protocol {what}", f"one of {', '.join(allowed)}", repr(value))
        if self.size is not None:
            h, w = (int(v) for v in self.size)
            if h <= 0 or w <= 0:
                raise InputError("protocol size", "positive (H, W)", repr(self.size))
            self.size = (h, w)
        for what in ("kid_subset_size", "kid_subsets", "prdc_k", "is_splits", "batch_size"):
            if int(getattr(self, what)) < 1:
                raise InputError(f"protocol {what}", "an integer ≥ 1", repr(getattr(self, what)))
        if self.ssim_window % 2 != 1:
            raise InputError("protocol ssim_window", "an odd integer", repr(self.ssim_window))

    def updated(self, **changes: Any) -> "Protocol":
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size) if self.size else None
        d["tryon_version"] = __version__
        return d


_PRESETS: dict[str, dict[str, Any]] = {
    "tryon": dict(
        description="tryon default: generated-image resolution, PIL bicubic, pytorch-fid Inception path "
        "(torch bilinear to 299), raw KID (1000×100 subsets), SSIM RGB valid, LPIPS alex v0.1",
    ),
    "catvton": dict(
        size=(512, 384),
        resize_filter="lanczos",
        fid_resize="pil-bicubic-float",
        kid_scale=1000.0,
        lpips_net="squeeze",
        ssim_padding="same-reflect",
        description="CatVTON / LaDI-VTON style: 512×384 (ground truth resized with LANCZOS), clean-fid "
        "mode='clean' (PIL bicubic float resize to 299; use the clean-fid TorchScript Inception for exact "
        "agreement), KID ×1000, torchmetrics SSIM (RGB, Gaussian 11/1.5, data range 1, reflect padding, "
        "full map), "
        "LPIPS squeeze v0.1 in [-1,1] (LaDI-VTON: alex)",
    ),
    "pfafn": dict(
        size=(256, 192),
        resize_filter="bicubic",
        fid_resize="torch-bilinear",
        lpips_net="vgg",
        ssim_padding="same-zero",
        description="PF-AFN / FS-VTON / DM-VTON style: 256×192, pytorch-fid (pt_inception-2015-12-05 "
        "weights, torch bilinear to 299, 2048-d pool, batch 50), pytorch-ssim (Gaussian 11/1.5, zero "
        "padding, RGB in [0,1]), LPIPS vgg v0.1",
    ),
}


def preset_names() -> tuple[str, ...]:
    return tuple(_PRESETS)


def preset(name: str = "tryon", **overrides: Any) -> Protocol:
    """The named protocol (``tryon``, ``catvton``, ``pfafn``), with optional field overrides."""
    from ..errors import InputError

    if name not in _PRESETS:
        raise InputError("protocol", f"one of {', '.join(_PRESETS)}", repr(name))
    return Protocol(name=name, **_PRESETS[name]).updated(**overrides)


