"""File plumbing of the verbs that run a model on image files — moved to :mod:`tryon.jobs.files`; this face keeps
user code working."""

from __future__ import annotations

from .jobs.files import *  # noqa: F403 - the face re-exports the module's public names
from .jobs.files import __all__  # noqa: F401
