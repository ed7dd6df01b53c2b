"""Catalogue inference over a split export — **no torch**.

Moved to tryon.deploy.catalogue (features and the on-disk store: tryon.deploy.features); this face keeps user
code working. The documented import path is :mod:`tryon.runtime` (``from tryon.runtime import CatalogueSession``).
"""

from __future__ import annotations

from .deploy.catalogue import CatalogueSession, feature_bytes
from .deploy.features import STORE_DTYPES, STORE_FORMAT, Features, FeatureStore, content_key

__all__ = ["CatalogueSession", "FeatureStore", "Features", "content_key", "feature_bytes", "STORE_FORMAT", "STORE_DTYPES"]
