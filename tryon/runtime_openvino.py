"""OpenVINO as a CPU backend of the deploy wing's sessions — optional (``pip install 'tryon[openvino]'``), no torch.

Moved to :mod:`tryon.deploy.openvino`; this face keeps user code working (patch attributes there, not here).
"""

from __future__ import annotations

from .deploy.openvino import *  # noqa: F403 - the face re-exports the module's public names
from .deploy.openvino import __all__  # noqa: F401
