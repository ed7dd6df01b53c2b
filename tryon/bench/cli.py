"""``tryon bench TASK``: the command line of the harness."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


from ..sizes import parse_sizes
from .harness import BACKENDS, run_bench
from .render import print_table


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,4,16, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def _names(text: str) -> list[str]:
    vals = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [v for v in vals if v not in BACKENDS]
    if bad or not vals:
        raise argparse.ArgumentTypeError(f"unknown backend(s) {bad}; known: {', '.join(BACKENDS)}")
    return vals


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task to benchmark (see `tryon tasks`)")
    p.add_argument("--weights", default=None, help="weights folder (default: random weights — speed only)")
    p.add_argument("--sizes", type=parse_sizes, default=None, help="resolutions HxW, comma-separated (default: the pipeline's)")
    p.add_argument("--batches", type=_ints, default=[1, 4, 16], help="batch sizes (default 1,4,16)")
    p.add_argument("--backends", type=_names, default=list(BACKENDS), help=f"comma-separated among {','.join(BACKENDS)} (default all)")
    p.add_argument("--iters", type=int, default=20, help="timed runs per row (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up runs per row (default 5)")
    p.add_argument("--threads", type=int, default=None, help="torch and ORT intra-op threads (default: torch's / physical cores)")
    p.add_argument("--compare", default=None, metavar="OTHER_TASK", help="also time OTHER_TASK's whole pipeline; record the speed ratio")
    p.add_argument("--compare-weights", default=None, help="weights folder of OTHER_TASK")
    p.add_argument("--component", default=None, help="exportable component (default: the task's first)")
    p.add_argument("--export", default=None, help="existing export folder to time on the ORT backends (needed for ort-int8)")
    p.add_argument("--emulated", action="store_true",
                   help="also time int8 / bf16 rows on a CPU without VNNI / native bf16 (skipped by default: misleading)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--out", default=None, help="folder for bench.json and bench.md (default runs/bench/<task>)")
    p.add_argument("--json", action="store_true", help="print bench.json instead of the table")


def _run(args: argparse.Namespace) -> int:
    out = args.out or f"runs/bench/{args.task}"
    quiet = args.json
    result = run_bench(
        args.task, weights=args.weights, sizes=args.sizes, batches=args.batches, backends=args.backends,
        iters=args.iters, warmup=args.warmup, threads=args.threads, compare=args.compare,
        compare_weights=args.compare_weights, out_dir=out, device=args.device, export_dir=args.export,
        component=args.component, progress=None if quiet else (lambda msg: print(f"  {msg}", file=sys.stderr)),
        emulated=args.emulated,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
        print(f"wrote {Path(out) / 'bench.json'} and {Path(out) / 'bench.md'}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("bench", help="time a task: torch vs onnxruntime backends, batch sweep, latency percentiles",
                    configure=_configure, run=_run)



__all__ = ["register_cli"]
