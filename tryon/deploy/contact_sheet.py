"""The contact sheet of a ``tryon batch`` job: ``OUT/contact_sheet.html``, sample results with their inputs,
thumbnails inline (self-contained). No torch."""

from __future__ import annotations

import base64
import io
import os
import random
from pathlib import Path
from typing import Any

from ..fs import atomic_write_text
from .plan import Job

SHEET_NAME = "contact_sheet.html"


def _thumb_uri(path: str | os.PathLike, height: int = 128) -> str:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w = max(1, round(im.width * height / max(1, im.height)))
            im = im.resize((w, height), Image.BILINEAR)
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=85)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    except Exception:  # noqa: BLE001 - a bad input image shows as an empty cell
        return ""


def write_contact_sheet(job: Job, this_run: dict[int, dict[str, Any]], skipped: set[int], n: int, seed: int = 0) -> Path:
    """``OUT/contact_sheet.html``: ``n`` results sampled (fixed seed) among the finished pairs — person,
    garment and result thumbnails inline, ids escaped."""
    import html

    done = sorted(k for k in range(len(job.pairs)) if (k in skipped or this_run.get(k, {}).get("status") == "ok")
                  and job.output(k).is_file())
    sample = sorted(random.Random(seed).sample(done, min(int(n), len(done))))
    cells = []
    for k in sample:
        p, g = job.pairs[k]
        imgs = "".join(f'<img src="{_thumb_uri(src)}" alt="{html.escape(alt)}">' for src, alt in (
            (job.persons[p].path, "person"), (job.garments[g].path, "garment"), (job.output(k), "result")))
        cells.append(f"<figure>{imgs}<figcaption>{html.escape(job.persons[p].id)} × {html.escape(job.garments[g].id)}"
                     "</figcaption></figure>")
    body = "\n".join(cells) or "<p>No finished pairs.</p>"
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tryon batch contact sheet</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1rem;background:#f6f7f9}figure{display:inline-block;margin:.4rem;"
        "padding:.4rem;background:#fff;border:1px solid #ddd}img{height:128px;margin-right:2px}"
        "figcaption{font-size:.8rem;color:#444}</style></head><body>"
        f"<h1>tryon batch — {len(sample)} of {len(done)} results</h1><p>model {html.escape(job.model_tag)} · "
        f"{html.escape(str(job.model))} · person | garment | result</p>{body}</body></html>\n"
    )
    return atomic_write_text(job.out / SHEET_NAME, doc)


__all__ = ["SHEET_NAME", "write_contact_sheet"]
