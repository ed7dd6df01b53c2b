"""Export-manifest I/O, execution providers, numpy/PIL pre/post-processing and input binding — **no torch**.

Moved to tryon.deploy.manifest, tryon.deploy.providers and tryon.deploy.arrays; this face keeps user code working.
Import these names from :mod:`tryon.runtime` (the public face) or from the :mod:`tryon.deploy` modules.
"""

from __future__ import annotations

from .deploy.arrays import (
    bind_inputs,
    denormalise_unit,
    input_kind,
    input_norm,
    letterbox_array,
    normalise_unit,
    prepare_input,
    restore_output,
    to_uint8_image,
)
from .deploy.manifest import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, MANIFEST_NAME, MODEL_VARIANTS, read_manifest, write_manifest
from .deploy.providers import (
    PROVIDER_ALIASES,
    available_providers,
    normalise_providers,
    onnxruntime_distribution,
    physical_cores,
)
from .deploy.sessions import BACKENDS, PRECISIONS

__all__ = [
    "MANIFEST_NAME", "EXPORT_FORMAT", "EXPORT_FORMAT_VERSION", "PROVIDER_ALIASES", "MODEL_VARIANTS", "BACKENDS",
    "PRECISIONS", "onnxruntime_distribution", "available_providers", "normalise_providers", "physical_cores",
    "read_manifest", "write_manifest", "letterbox_array", "normalise_unit", "denormalise_unit", "to_uint8_image",
    "input_kind", "input_norm", "prepare_input", "restore_output", "bind_inputs",
]
