"""Saved images back into a report: a renderer reads only ``results.json`` and the images the computation saved
(:meth:`tryon.study.Study.save_image`), and shows those as figures (torch-free; the report is any object with
``add_text``, such as :class:`tryon.report.Report`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def add_figure(report: Any, out: str | os.PathLike, name: str, title: str, caption: str = "") -> bool:
    """Show the study artifact ``name`` (an image the computation saved, relative to ``out``) in ``report`` under
    ``title`` with an optional ``caption`` (Markdown). A missing file becomes one line saying so (a re-render never
    fails on a deleted image); returns whether the image was there."""
    alt = title.replace("[", "(").replace("]", ")")
    if not (Path(out) / name).is_file():
        report.add_text(f"**{title}**: image `{name}` is missing from the run folder.")
        return False
    report.add_text(f"**{title}**\n\n![{alt}]({name})" + (f"\n\n{caption}" if caption else ""))
    return True


__all__ = ["add_figure"]
