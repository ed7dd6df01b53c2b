"""Try-on data for the WUTON plugin: label sets, synthetic generator, dataset adapters, ``TryOnDataset``.

* :mod:`.labels` — canonical VITON-HD v3 label set, palettes, mappings from LIP / ATR / ACGPN;
* :mod:`.keypoints` — OpenPose BODY_25 / COCO-18 / DressCode keypoint formats;
* :mod:`.synth` — procedural people × garments (``tryon data synth``), with unpaired ground truth;
* :mod:`.layouts` — VITON-HD, VITON/CP-VTON, DressCode and PF-AFN adapters with validation;
* :mod:`.dataset` — :class:`TryOnDataset` (torch).

Importing this package is cheap (no torch, no OpenCV): heavy modules load on first attribute use. The dataset
readers are declared in :mod:`tryon_wuton.specs`, the ``tryon data synth`` / ``tryon data check`` verbs in
:mod:`tryon_wuton.cli`.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["labels", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{mod}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
