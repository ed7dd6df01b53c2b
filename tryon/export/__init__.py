"""ONNX export of task components: :func:`export_onnx`, :func:`quantize_int8`.

Import-light: ``import tryon.export`` does not import torch or onnx (the CLI imports this package to
register its verbs); the functions load :mod:`tryon.export.onnx` on first use.
"""

from __future__ import annotations

from ..imports import lazy_exports

__all__ = ["export_onnx", "quantize_int8", "convert_fp16", "default_export_dir"]


__getattr__ = lazy_exports(__name__, {"export_onnx": "onnx", "quantize_int8": "int8", "convert_fp16": "fp16"})


def default_export_dir(task: str, component: str | None = None, n_components: int = 1, root: str = "exports") -> str:
    """``exports/<task>`` (or ``exports/<task>-<component>`` when the task exports several components)."""
    return f"{root}/{task}" if n_components <= 1 or not component else f"{root}/{task}-{component}"
