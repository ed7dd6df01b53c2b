"""ONNX Runtime sessions over ``tryon export`` folders — **no torch import** (deployable without torch).

Moved to tryon.deploy.sessions (with tryon.deploy.manifest, .providers, .arrays and .catalogue); this face keeps
user code working and stays the documented public face of the torch-free deploy wing: import the names from here.

An export folder (written by :func:`tryon.export.export_onnx`, format in ``exports/README.md``) holds
``model.onnx`` + ``manifest.json`` (input names, resolution, normalisation, parity figures) and maybe
``model_fp16.onnx`` / ``model_int8.onnx``. :class:`ImageModelSession` loads it and runs it on images::

    from tryon.runtime import TryOnSession
    sess = TryOnSession("exports/wuton-student")                 # CPU by default
    out = sess(person="p.jpg", garment="g.jpg")                  # PIL image, the size of the person
    arr = sess(person=np.asarray(img), garment=garment_array)   # numpy in -> numpy HxWx3 uint8 out

Inputs are what :func:`tryon.io.load_image` accepts (path, bytes, PIL image, numpy ``H×W×3`` uint8, or a
list of these for a batch) — not torch tensors. Each image is letterboxed to the manifest resolution
(aspect kept, white padding, bilinear resize with antialiasing when shrinking: the same rule as
``tryon.io.as_batch``), normalised as the manifest says, run, then the outputs are cropped back and
resized to the size of the *first* input (e.g. the person) and returned in its kind (numpy in → numpy
out; PIL/path/bytes in → PIL out).

Providers (``providers=``): CPU by default. onnxruntime silently runs on CPU when a requested GPU provider
cannot start (missing CUDA/cuDNN libraries; deps.md §5) — this wrapper refuses that: a requested
non-CPU provider that is not active raises :class:`tryon.errors.ProviderError` naming requested vs active
providers (``allow_fallback=True`` turns that into a warning). IO binding on CUDA is *not* implemented:
inputs come from host memory, so host→device copies are inside the timed ``run`` (stated in bench.json).

``CatalogueSession`` (cached inference over a split export) is re-exported lazily, so ``import tryon.runtime``
stays light.
"""

from __future__ import annotations

from typing import Any

from .deploy.arrays import (
    bind_inputs,
    denormalise_unit,
    input_kind,
    input_norm,
    is_torch_tensor,
    letterbox_array,
    normalise_unit,
    prepare_input,
    restore_output,
    to_uint8_image,
    value_range,
)
from .deploy.manifest import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    MANIFEST_NAME,
    MODEL_VARIANTS,
    iter_export_dirs,
    list_models,
    read_manifest,
    write_manifest,
)
from .deploy.providers import (
    OPT_LEVELS,
    PROVIDER_ALIASES,
    available_providers,
    normalise_providers,
    onnxruntime_distribution,
    physical_cores,
    provider_name,
    require_onnxruntime,
)
from .deploy.sessions import BACKENDS, PRECISIONS, ImageModelSession, TryOnSession, open_ort_session, session_options

__all__ = [
    "ImageModelSession",
    "TryOnSession",
    "read_manifest",
    "write_manifest",
    "available_providers",
    "normalise_providers",
    "physical_cores",
    "onnxruntime_distribution",
    "letterbox_array",
    "prepare_input",
    "restore_output",
    "list_models",
    "iter_export_dirs",
    "MANIFEST_NAME",
    "EXPORT_FORMAT",
    # also public (used by tryon.export, tryon.serve, tryon.bench)
    "EXPORT_FORMAT_VERSION", "MODEL_VARIANTS", "BACKENDS", "PRECISIONS", "PROVIDER_ALIASES", "OPT_LEVELS",
    "bind_inputs", "denormalise_unit", "input_kind", "input_norm", "is_torch_tensor", "normalise_unit",
    "to_uint8_image", "value_range", "provider_name", "require_onnxruntime", "open_ort_session", "session_options",
]


def __getattr__(name: str) -> Any:
    """Lazy re-export of :class:`tryon.deploy.catalogue.CatalogueSession` (lazy so that ``import tryon.runtime``
    stays light)."""
    if name == "CatalogueSession":
        from .deploy.catalogue import CatalogueSession

        return CatalogueSession
    raise AttributeError(f"module 'tryon.runtime' has no attribute {name!r}")
