"""Speed work on the try-on models: where the teacher pipeline's time goes, and what int8 costs in quality.

**Teacher breakdown**.

The seeds' 181 ms → 13 ms (13.9×) on a V100 is mostly a heavy parser + pose network (168 ms, 000 Table 4.4);
our teacher pipeline has a light smp U-Net parser and no pose network, so its speed-up is smaller and the
honest number to put beside the ratio is the parser's share, measured here stage by stage on the same
backend (torch eager) and batch.

**int8**: :func:`calibration_inputs` draws the calibration set for
:func:`tryon.export.quantize_int8` from a dataset's *training* split; :func:`int8_quality` then scores the
fp32 and int8 ONNX models of an export folder on the *test* split against the unpaired ground truth and
against each other, so the int8 figure is measured on held-out images, not on what it was calibrated on.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch


def teacher_breakdown(pipe: Any, batch: int = 1, iters: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Time parser, agnostic construction and generator of a ``wuton-teacher`` pipeline separately.

    Inputs are random images at the pipeline resolution on the pipeline's device. Returns p50 latencies
    (ms) per stage, their sum and the parser's share of it.
    """
    from tryon.bench import summarise, time_fn

    from ..agnostic import make_agnostic

    h, w = pipe.size
    dev = torch.device(pipe.device)
    gen = torch.Generator().manual_seed(0)
    person = (torch.rand(batch, 3, h, w, generator=gen) * 2 - 1).to(dev)
    garment = (torch.rand(batch, 3, h, w, generator=gen) * 2 - 1).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    with torch.inference_mode():
        parse = pipe.parser(person).argmax(1)
        p_star = make_agnostic(person, parse)
        stages = {
            "parser": lambda: pipe.parser(person).argmax(1),
            "agnostic": lambda: make_agnostic(person, parse),
            "generator": lambda: pipe.generator(p_star, garment),
        }
        res = {name: summarise(time_fn(fn, warmup, iters, sync), batch)["p50_ms"] for name, fn in stages.items()}
    total = sum(res.values())
    return {
        "backend": "torch",
        "device": str(dev),
        "batch": batch,
        "size": [h, w],
        "p50_ms": res,
        "sum_ms": round(total, 3),
        "parser_share": round(res["parser"] / total, 4) if total else None,
        "parser_plus_agnostic_share": round((res["parser"] + res["agnostic"]) / total, 4) if total else None,
    }


def calibration_inputs(data: str | os.PathLike, size: tuple[int, int], n: int = 16, split: str = "train") -> list[dict[str, np.ndarray]]:
    """``n`` (person, other garment) pairs of ``split`` as ``{"person", "garment"}`` ``1×3×H×W`` arrays in [-1, 1]:
    the calibration set of :func:`tryon.export.quantize_int8` (student inputs: unmasked person, any garment)."""
    from ..data import TryOnDataset

    ds = TryOnDataset(data, split=split, size=tuple(size))
    if len(ds) < 2:
        from tryon.errors import DatasetError

        raise DatasetError(str(data), f"at least 2 {split} samples for int8 calibration", str(len(ds)))
    m = min(int(n), len(ds))
    return [{"person": ds[i]["person"][None].numpy(), "garment": ds[(i + 1) % len(ds)]["garment"][None].numpy()} for i in range(m)]


def int8_quality(export_dir: str | os.PathLike, data: str | os.PathLike, max_pairs: int = 64, threads: int | None = None) -> dict[str, Any]:
    """Score the ``fp32`` and ``int8`` models of a student export on the unpaired test pairs of ``data``.

    Returns mean SSIM of each against the synthetic unpaired ground truth, SSIM and mean/max absolute
    difference of int8 against fp32 (images in [-1, 1]), and the number of pairs.
    """
    from tryon.metrics import ssim
    from tryon.runtime import ImageModelSession

    from ..data import TryOnDataset

    sessions = {m: ImageModelSession(export_dir, model=m, intra_op_threads=threads) for m in ("fp32", "int8")}
    size = sessions["fp32"].resolution
    test = TryOnDataset(data, split="test", pairs="unpaired", size=tuple(size))
    n = min(len(test), int(max_pairs))
    outs: dict[str, list[torch.Tensor]] = {"fp32": [], "int8": []}
    gts = []
    for i in range(n):
        item = test[i]
        feed = {"person": item["person"][None].numpy(), "garment": item["garment"][None].numpy()}
        for m, sess in sessions.items():
            outs[m].append(torch.from_numpy(sess.session.run(["image"], feed)[0]))
        gts.append(item["unpaired_gt"][None])
    f32, i8, gt = torch.cat(outs["fp32"]), torch.cat(outs["int8"]), torch.cat(gts)
    diff = (i8 - f32).abs()
    return {
        "pairs": n,
        "ssim_fp32_vs_gt": round(float(ssim(f32, gt)), 4),
        "ssim_int8_vs_gt": round(float(ssim(i8, gt)), 4),
        "ssim_int8_vs_fp32": round(float(ssim(i8, f32)), 4),
        "mean_abs_int8_vs_fp32": round(float(diff.mean()), 5),
        "max_abs_int8_vs_fp32": round(float(diff.max()), 4),
    }
