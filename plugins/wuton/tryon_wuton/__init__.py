"""WUTON virtual try-on plugin for ``tryon`` (000 §4.3, App. E).

Layout (the same in every first-party plugin): ``plugin`` (hooks) → ``specs`` (tasks, dataset readers) and ``cli``
(verbs); ``models``, ``pipelines``, ``training/``, ``experiments/``; domain modules ``data/``, ``agnostic``,
``parsing``, ``split``. Importing this package is cheap; the pipelines below resolve lazily
(``from tryon_wuton import WutonStudentPipeline``).
"""

from tryon.imports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {name: "pipelines" for name in ("WutonParserPipeline", "WutonTeacherPipeline", "WutonStudentPipeline")}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
