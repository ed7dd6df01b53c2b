"""Try-on data for the WUTON plugin: label sets, synthetic generator, dataset adapters, ``TryOnDataset``.

* :mod:`.labels` — canonical VITON-HD v3 label set, palettes, mappings from LIP / ATR / ACGPN;
* :mod:`.keypoints` — OpenPose BODY_25 / COCO-18 / DressCode keypoint formats;
* :mod:`.synth` — procedural people × garments (``tryon data synth``), with unpaired ground truth;
* :mod:`.layouts` — VITON-HD, VITON/CP-VTON, DressCode and PF-AFN adapters with validation;
* :mod:`.dataset` — :class:`TryOnDataset` (torch).

Importing this package is cheap (no torch, no OpenCV): heavy modules load on first attribute use.
Hook helpers for ``tryon_wuton/plugin.py``: :func:`register_cli` and :func:`register_datasets`.
"""

from __future__ import annotations

from typing import Any

from tryon import DatasetSpec

from . import labels

_LAZY = {
    "TryOnDataset": ("dataset", "TryOnDataset"),
    "generate": ("synth", "generate"),
    "render_person": ("synth", "render_person"),
    "render_garment": ("synth", "render_garment"),
    "sample_person": ("synth", "sample_person"),
    "sample_garment": ("synth", "sample_garment"),
    "PersonSpec": ("synth", "PersonSpec"),
    "GarmentSpec": ("synth", "GarmentSpec"),
    "ArmPose": ("synth", "ArmPose"),
    "open_layout": ("layouts", "open_layout"),
    "detect_layout": ("layouts", "detect_layout"),
    "check_dataset": ("layouts", "check_dataset"),
    "load_raw": ("layouts", "load_raw"),
    "LAYOUTS": ("layouts", "LAYOUTS"),
}

__all__ = ["labels", "register_cli", "register_datasets", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_cli(app: Any) -> None:
    """Add ``tryon data synth`` and ``tryon data check`` (call from the ``tryon_register_cli`` hook)."""
    from .cli import register

    register(app)


def _factory(layout: str):
    def make(root: Any, split: str = "train", pairs: str = "paired", size: Any = None, **kw: Any):
        from .dataset import TryOnDataset

        return TryOnDataset(root, split=split, pairs=pairs, size=size, layout=layout, **kw)

    make.__name__ = f"open_{layout.replace('-', '_')}"
    make.__doc__ = f"TryOnDataset(root, split, pairs, size, layout={layout!r})"
    return make


def _synthetic(root: Any, split: str = "train", pairs: str = "paired", size: Any = None, **kw: Any):
    """A folder written by ``tryon data synth`` (VITON-HD layout + ``unpaired_gt``/``accessory-mask``)."""
    from pathlib import Path

    from tryon.errors import DatasetError

    from .dataset import TryOnDataset

    if not (Path(root) / "synth_meta.json").is_file():
        raise DatasetError(f"synthetic dataset {root}", "a folder written by `tryon data synth` (with synth_meta.json)",
                           "no synth_meta.json")
    return TryOnDataset(root, split=split, pairs=pairs, size=size, layout="viton-hd", **kw)


def register_datasets(registry: Any) -> None:
    """Register the dataset readers (call from the ``tryon_register_datasets`` hook).

    Each entry is a factory ``(root, split="train", pairs="paired", size=None, **kw) -> TryOnDataset``.
    """
    registry.register(DatasetSpec("synthetic", summary="synthetic try-on data from `tryon data synth` (unpaired GT, accessory masks)",
                                  factory=_synthetic, meta={"layout": "viton-hd"}))
    registry.register(DatasetSpec("viton-hd", summary="VITON-HD zalando-hd-resized layout (image-parse-v3, openpose_json)",
                                  factory=_factory("viton-hd"), meta={"layout": "viton-hd"}))
    registry.register(DatasetSpec("viton", summary="VITON / CP-VTON layout (image-parse LIP, pose COCO-18)",
                                  factory=_factory("viton"), meta={"layout": "viton"}))
    registry.register(DatasetSpec("dresscode", summary="DressCode layout (images _0/_1, label_maps ATR, keypoints)",
                                  factory=_factory("dresscode"), meta={"layout": "dresscode"}))
    registry.register(DatasetSpec("pfafn", summary="PF-AFN / DM-VTON layout (*_img, *_color, *_edge, *_label, *_pose)",
                                  factory=_factory("pfafn"), meta={"layout": "pfafn"}))
