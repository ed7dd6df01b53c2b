"""The worker of ``tryon batch`` (:class:`PairRenderer`, :func:`write_image`) — no torch.

Moved to tryon.deploy.render; this face keeps user code working.
"""

from __future__ import annotations

from .deploy.render import SESSION_KINDS, PairRenderer, complete_png, encode_png, write_image

__all__ = ["PairRenderer", "SESSION_KINDS", "write_image", "encode_png", "complete_png"]
