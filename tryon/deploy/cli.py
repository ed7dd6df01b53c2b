"""The ``tryon batch`` verb: ``register_cli(app)``, its options and its run function (the job itself is
:mod:`tryon.deploy.batch`; library code never imports this module). No torch.

::

    tryon batch --model exports/wuton-student --persons persons/ --garments garments/ --grid --out results/
    tryon batch ... --pairs pairs.txt --workers 2 --store features/ --contact-sheet
    tryon batch ... --engine ray --workers 4            # Ray Data (pip install 'tryon[ray]'); see exports/README.md

and the ``tryon video`` verb (the job is :func:`tryon.deploy.video.run_video`)::

    tryon video --model exports/wuton-student --garment shirt.jpg --input clip.mp4 --out out.mp4
    tryon video ... --input webcam:0 --max-frames 300 --smooth ema:0.5
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import InputError
from .batch import JobOptions, run_job
from .plan import plan_job
from .local_engine import WORKER_KINDS
from .render import PNG_LEVEL, SESSION_KINDS


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="export folder of a try-on model (`tryon export`, --split for caching)")
    p.add_argument("--persons", required=True, help="folder of person images, or a file listing one path per line")
    p.add_argument("--garments", required=True, help="folder of garment images, or a file listing one path per line")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--pairs", default=None, help="file of 'person garment' lines (file names or stems)")
    which.add_argument("--grid", action="store_true", help="every person with every garment (the default)")
    p.add_argument("--out", required=True, help="output folder: images/, results.jsonl, summary.json")
    p.add_argument("--category", default=None, metavar="NAME",
                   help="the garments' category (upper, lower, dress): refused before the job starts when the export "
                        "was not trained on it (manifest conditions)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes (default) or Ray Data")
    p.add_argument("--workers", type=int, default=1, help="workers: threads or processes (--worker-kind) / Ray actors (default 1)")
    p.add_argument("--worker-kind", choices=WORKER_KINDS, default="thread",
                   help="local engine: worker threads (default; no start-up cost) or spawned processes (isolated memory)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime intra-op threads per worker (default: physical cores / workers; ray: CPUs per actor)")
    p.add_argument("--session", choices=SESSION_KINDS, default="auto",
                   help="catalogue (cached branches; needs a --split export), monolithic, or auto (default)")
    p.add_argument("--store", default=None, help="on-disk feature store folder shared by runs and workers")
    p.add_argument("--store-fp16", action="store_true", help="store features in float16 (half the size; see split.fp16_features)")
    p.add_argument("--cache-mb", type=float, default=512, help="in-memory feature cache per worker, MiB (default 512)")
    p.add_argument("--chunk", type=int, default=16, help="pairs per task sent to a worker (default 16)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse input images above this many pixels (TRYON_MAX_PIXELS)")
    p.add_argument("--contact-sheet", type=int, nargs="?", const=24, default=0, metavar="N",
                   help="write contact_sheet.html with N sample results (default N 24)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--ray-cpus-per-worker", type=float, default=1.0, help="CPUs reserved per Ray actor (default 1)")
    p.add_argument("--fsync", action="store_true", help="fsync every output (survives power loss; slower)")
    p.add_argument("--png-level", type=int, choices=range(10), default=PNG_LEVEL, metavar="0-9",
                   help=f"zlib level of the PNG outputs (default {PNG_LEVEL}: fast; 6 = PIL's default, ~6 %% smaller, ~3x slower)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1 or args.chunk < 1 or (args.threads is not None and args.threads < 1):
        raise InputError("tryon batch", "--workers, --chunk and --threads >= 1", f"{args.workers}, {args.chunk}, {args.threads}")
    job = plan_job(args.model, args.persons, args.garments, args.out, args.pairs, category=args.category)
    opts = JobOptions(engine=args.engine, workers=args.workers, worker_kind=args.worker_kind, threads=args.threads,
                      session=args.session, store=args.store,
                      store_dtype="float16" if args.store_fp16 else "float32", cache_mb=args.cache_mb, chunk=args.chunk,
                      max_pixels=args.max_pixels, fsync=args.fsync, png_level=args.png_level, progress=args.progress,
                      contact_sheet=args.contact_sheet, ray_address=args.ray_address,
                      ray_cpus_per_worker=args.ray_cpus_per_worker)
    s = run_job(job, opts)
    print(f"tryon batch: {s['pairs']} pairs ({s['persons']} persons x {s['garments']} garments): {s['done']} done, "
          f"{s['skipped']} skipped, {s['failed']} failed; {s['pairs_per_second']:.2f} pairs/s over {s['seconds']:.1f} s "
          f"({s['engine']}, {s['workers']} worker(s) x {s['threads']} thread(s)); table {s['results']}")
    if s.get("contact_sheet"):
        print(f"contact sheet: {s['contact_sheet']}")
    if s["failed"] or s["not_run"]:
        print(f"tryon batch: {s['failed']} of {s['pairs']} pairs failed"
              + (f", {s['not_run']} not run" if s["not_run"] else "") + f" (errors in {s['results']})", file=sys.stderr)
        return 1
    return 0


def _configure_video(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="split export folder of a try-on model (`tryon export TASK --split`)")
    p.add_argument("--garment", required=True, help="the garment image (its branch runs once per video)")
    p.add_argument("--input", required=True, metavar="VIDEO|FOLDER|webcam[:N]",
                   help="a video file (mp4, avi, mkv, ...), a folder of frame images, or a camera: webcam, webcam:N")
    p.add_argument("--out", required=True, help="output video: .mp4/.m4v (mp4v) or .avi/.mkv (MJPG), written atomically")
    p.add_argument("--smooth", default=None, metavar="none|ema[:A]|flow[:B]",
                   help="flicker remedy: none (default), ema of the person features (A: new frame's weight, 0.5), "
                        "flow: blend with the flow-warped previous output (B: its weight, 0.5)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames (a webcam runs until then or Ctrl-C)")
    p.add_argument("--fps", type=float, default=None, help="output frame rate (default: the input's; 25 for a folder)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: physical cores)")
    p.add_argument("--spin", action="store_true",
                   help="let onnxruntime's threads spin between runs (off by default: they slow decoding and encoding)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _run_video(args: argparse.Namespace) -> int:
    import json

    from .video import STAGES, run_video

    if args.threads is not None and args.threads < 1:
        raise InputError("tryon video", "--threads >= 1", str(args.threads))
    s = run_video(args.model, args.garment, args.input, args.out, smooth=args.smooth, max_frames=args.max_frames,
                  fps=args.fps, threads=args.threads, spinning=args.spin)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    per = ", ".join(f"{k} {s['stages_ms'][k]['mean']:.1f}" for k in STAGES)
    print(f"tryon video: {s['frames']} frames {s['size'][1]}x{s['size'][0]} in {s['seconds']:.1f} s = {s['fps']:.2f} FPS "
          f"end to end (smooth {s['smooth']}; garment branch {s['garment_branch_runs']}x, {s['garment_ms']:.0f} ms); "
          f"ms per frame: {per}; wrote {s['out']}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("batch", help="render every (person, garment) pair of a catalogue: resumable, atomic, per-pair errors",
                    configure=_configure, run=_run)
    app.add_command("video", help="try a garment on a video or webcam: garment branch once, person branch + head per frame",
                    configure=_configure_video, run=_run_video)



__all__ = ["register_cli"]
