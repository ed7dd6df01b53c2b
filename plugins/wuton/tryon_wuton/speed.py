"""Where the teacher pipeline's time goes (issue 6 §3: "report our parser's share of the teacher pipeline").

The seeds' 181 ms → 13 ms (13.9×) on a V100 is mostly a heavy parser + pose network (168 ms, 000 Table 4.4);
our teacher pipeline has a light smp U-Net parser and no pose network, so its speed-up is smaller and the
honest number to put beside the ratio is the parser's share, measured here stage by stage on the same
backend (torch eager) and batch.
"""

from __future__ import annotations

from typing import Any

import torch


def teacher_breakdown(pipe: Any, batch: int = 1, iters: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Time parser, agnostic construction and generator of a ``wuton-teacher`` pipeline separately.

    Inputs are random images at the pipeline resolution on the pipeline's device. Returns p50 latencies
    (ms) per stage, their sum and the parser's share of it.
    """
    from tryon.bench import summarise, time_fn

    from .teacher import make_agnostic

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
