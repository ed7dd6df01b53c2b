"""What the PNG writer of ``tryon batch`` costs per zlib level: the figure behind ``tryon.deploy.render.PNG_LEVEL``.

    .venv/bin/python benchmarks/png_levels.py --out docs/results/png-levels [--budget tiny]

Each photograph scikit-image ships (no download) is resized to the student's 256×192 (a try-on output is a photograph
of a person: smooth regions, edges, texture) and, beside them, one image of uniform noise (what a random-weight model
writes: the worst case for compression). :func:`tryon.deploy.render.encode_png` encodes each at every level, timed as
the median of ``repeats`` calls; the table gives ms per image and the file size per level, and each level's speed-up
and size against PIL's default (6). The pixels are the same at every level (checked: the decoded arrays are equal).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "png-levels"
BUDGETS = {
    "tiny": {"levels": [1, 6], "repeats": 2, "photos": 2, "size": [64, 48]},
    "default": {"levels": [0, 1, 3, 6, 9], "repeats": 15, "photos": 0, "size": [256, 192]},
}


def _images(count: int, size: list[int]) -> dict[str, Any]:
    """``count`` photographs of scikit-image (0: all of them) at ``size`` (H, W), plus uniform noise."""
    import numpy as np
    from PIL import Image

    from tryon.data.photos import TEST_SOURCES, TRAIN_SOURCES, load_photo

    h, w = size
    names = list(TRAIN_SOURCES) + list(TEST_SOURCES)
    names = names[:count] if count else names
    out = {name: np.asarray(Image.fromarray(load_photo(name)).resize((w, h), Image.BICUBIC)) for name in names}
    out["noise"] = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return out


def compute(study: Study, args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image

    from tryon.deploy.render import encode_png

    s = study.settings(args)
    rows = []
    for name, img in _images(int(s["photos"]), list(s["size"])).items():
        for level in s["levels"]:
            data = encode_png(img, level)
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), img), (name, level)
            times = []
            for _ in range(int(s["repeats"])):
                t0 = time.perf_counter()
                encode_png(img, level)
                times.append(time.perf_counter() - t0)
            rows.append({"image": name, "kind": "noise" if name == "noise" else "photo", "level": level,
                         "ms": statistics.median(times) * 1e3, "bytes": len(data)})
    study.results.update({"settings": s, "rows": rows, "summary": summary(rows, s["levels"])})


def summary(rows: list[dict[str, Any]], levels: list[int]) -> list[dict[str, Any]]:
    """Per kind (photo / noise) and level: mean ms and KiB, and both against level 6 when it was timed."""
    out = []
    for kind in ("photo", "noise"):
        base = {r["image"]: r for r in rows if r["kind"] == kind and r["level"] == 6}
        for level in levels:
            sel = [r for r in rows if r["kind"] == kind and r["level"] == level]
            if not sel:
                continue
            row = {"kind": kind, "level": level, "images": len(sel), "ms": statistics.mean(r["ms"] for r in sel),
                   "kib": statistics.mean(r["bytes"] for r in sel) / 1024}
            if base:
                row["speedup_vs_6"] = statistics.mean(base[r["image"]]["ms"] / r["ms"] for r in sel)
                row["size_vs_6"] = statistics.mean(r["bytes"] / base[r["image"]]["bytes"] for r in sel)
            out.append(row)
    return out


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    s = results["settings"]
    md = [f"# PNG encoding per zlib level ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}; {s['size'][0]}×{s['size'][1]} RGB, median of {s['repeats']} calls, "
          "PIL through `tryon.deploy.render.encode_png`.", "",
          markdown_table(["kind", "level", "images", "ms / image", "KiB", "× faster than level 6", "size vs level 6"],
                         [[r["kind"], r["level"], r["images"], f"{r['ms']:.2f}", f"{r['kib']:.1f}",
                           f"{r['speedup_vs_6']:.2f}" if "speedup_vs_6" in r else "—",
                           f"{r['size_vs_6']:.3f}" if "size_vs_6" in r else "—"] for r in results["summary"]])]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, default_out="runs/png-levels")


if __name__ == "__main__":
    sys.exit(main())
