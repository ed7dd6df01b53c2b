"""``tryon batch``: render every (person, garment) pair of a catalogue — resumable, atomic, per-pair errors. No torch.

::

    tryon batch --model exports/wuton-student --persons persons/ --garments garments/ --grid --out results/
    tryon batch ... --pairs pairs.txt --workers 2 --store features/ --contact-sheet
    tryon batch ... --engine ray --workers 4            # Ray Data (pip install 'tryon[ray]'); see exports/README.md

* Outputs: ``OUT/images/<person>__<garment>__<model>.png`` (ids = file stems, model = the first 12 hex digits of
  the export's sha256), written atomically (temp file + rename): a killed job never leaves a half-written
  image under a final name. A restarted job with the same command skips the pairs whose image exists and
  removes the temp files the killed one left.
* ``OUT/results.jsonl``: one row per pair (``status`` ok / skipped / failed, ``seconds``, ``error``); during the
  run it is also the progress log (rows are appended as pairs finish), rewritten compactly at the end.
  ``OUT/summary.json``: counts and throughput. ``--contact-sheet [N]``: ``OUT/contact_sheet.html`` with N
  sample results (self-contained, thumbnails inline).
* A bad image (missing, truncated, not an image, over ``TRYON_MAX_PIXELS``) fails the pairs that use it with
  its one-line :class:`tryon.errors.InputError` in the table; the job goes on and exits 1 naming the count.
* With a split export (``tryon export TASK --split``) each worker uses a :class:`tryon.catalogue.CatalogueSession`:
  every person and garment is encoded once per worker (and once overall with ``--store``); pairs are
  grouped by person. Otherwise (or with ``--session monolithic``) the whole graph runs per pair.
* Engines: ``local`` (this process, or ``--workers N`` spawned processes) and ``ray`` (:mod:`tryon.batch_ray`).
  Both use :class:`PairRenderer` and :func:`write_image`, so their outputs are byte-identical for the same
  ``--threads``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .fs import atomic_write_json, atomic_write_text
from .errors import InputError, TryonError
from .batch_render import SESSION_KINDS, PairRenderer, complete_png, encode_png, write_image  # noqa: F401 - re-exported

RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
SHEET_NAME = "contact_sheet.html"
IMAGES_DIR = "images"
LOCK_NAME = ".tryon-batch.lock"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


# ------------------------------------------------------------------------------------------------
# planning
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    id: str
    path: str


@dataclass
class Job:
    """The pairs of one ``tryon batch`` command and where their outputs go."""

    model: str
    model_tag: str
    persons: list[Item]
    garments: list[Item]
    pairs: list[tuple[int, int]]
    out: Path
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = [output_name(self.persons[p].id, self.garments[g].id, self.model_tag) for p, g in self.pairs]

    @property
    def images_dir(self) -> Path:
        return self.out / IMAGES_DIR

    def output(self, k: int) -> Path:
        return self.images_dir / self.names[k]

    def row(self, k: int) -> dict[str, Any]:
        """What a worker needs for pair ``k`` (plain strings and ints: picklable, Ray-friendly)."""
        p, g = self.pairs[k]
        return {"pair": k, "person_id": self.persons[p].id, "person": self.persons[p].path,
                "garment_id": self.garments[g].id, "garment": self.garments[g].path, "output": str(self.output(k))}


def output_name(person_id: str, garment_id: str, model_tag: str) -> str:
    """``<person>__<garment>__<model>.png``; ids are shortened (plus a hash) when the name would be too long."""
    name = f"{person_id}__{garment_id}__{model_tag}.png"
    if len(name.encode()) <= 200:
        return name
    digest = hashlib.sha256(f"{person_id}\0{garment_id}".encode()).hexdigest()[:10]
    return f"{person_id[:60]}__{garment_id[:60]}__{digest}__{model_tag}.png"


def read_items(source: str | os.PathLike, what: str) -> list[Item]:
    """A folder of images (sorted) or a text file listing one image path per line (relative paths are relative
    to the list's folder; ``#`` comments). Ids are file stems and must be unique. Listed files are not
    opened here: a missing or bad one fails its pairs, not the job."""
    src = Path(source)
    if src.is_dir():
        paths = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not paths:
            raise InputError(f"--{what} {src}", "a folder with images (.png/.jpg/.jpeg/.webp/.bmp)", "no image files")
    elif src.is_file():
        paths = []
        for line in src.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                p = Path(line)
                paths.append(p if p.is_absolute() else src.parent / p)
        if not paths:
            raise InputError(f"--{what} {src}", "a list file with one image path per line", "no paths")
    else:
        raise InputError(f"--{what} {src}", "a folder of images or a list file", "no such file or folder")
    items, seen = [], {}
    for p in paths:
        if p.stem in seen:
            raise InputError(f"--{what} {src}", "images with distinct file stems (they name the outputs)",
                             f"{seen[p.stem].name} and {p.name}")
        seen[p.stem] = p
        items.append(Item(p.stem, str(p.resolve())))
    return items


def read_pairs(path: str | os.PathLike, persons: list[Item], garments: list[Item]) -> list[tuple[int, int]]:
    """Lines ``person garment`` naming items by file name or stem (``#`` comments)."""
    pf = Path(path)
    if not pf.is_file():
        raise InputError(f"--pairs {pf}", "a text file of 'person garment' lines", "no such file")

    def index(items: list[Item]) -> dict[str, int]:
        out = {}
        for i, it in enumerate(items):
            out[it.id] = i
            out[Path(it.path).name] = i
        return out

    pi, gi = index(persons), index(garments)
    pairs, seen = [], set()
    for lineno, line in enumerate(pf.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        toks = line.split()
        if len(toks) != 2:
            raise InputError(f"--pairs {pf}:{lineno}", "two names: person garment", repr(line))
        if toks[0] not in pi:
            raise InputError(f"--pairs {pf}:{lineno}", "a person of --persons", f"unknown {toks[0]!r}")
        if toks[1] not in gi:
            raise InputError(f"--pairs {pf}:{lineno}", "a garment of --garments", f"unknown {toks[1]!r}")
        pair = (pi[toks[0]], gi[toks[1]])
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    if not pairs:
        raise InputError(f"--pairs {pf}", "at least one pair", "none")
    return pairs


def model_tag(model: str | os.PathLike) -> str:
    """First 12 hex digits of the export's sha256 (the monolithic graph, which the split graphs reproduce)."""
    from .runtime import read_manifest

    _, manifest = read_manifest(model)
    return str(manifest.get("sha256") or manifest["models"]["fp32"]["sha256"])[:12]


def plan_job(model: str | os.PathLike, persons: str | os.PathLike, garments: str | os.PathLike, out: str | os.PathLike,
             pairs: str | os.PathLike | None = None) -> Job:
    """The job: items, pairs (every combination without ``pairs``) sorted by person, output names."""
    from .runtime import read_manifest

    export_dir, manifest = read_manifest(model)
    names = [i["name"] for i in manifest["inputs"]]
    if not {"person", "garment"} <= set(names) or len(names) != 2:
        raise TryonError(f"export {export_dir}: tryon batch runs try-on models (inputs person and garment), this one takes {names}")
    ps, gs = read_items(persons, "persons"), read_items(garments, "garments")
    plist = read_pairs(pairs, ps, gs) if pairs else [(p, g) for p in range(len(ps)) for g in range(len(gs))]
    plist.sort()  # grouped by person: a worker reuses the person's features across its garments
    return Job(str(export_dir.resolve()), model_tag(export_dir), ps, gs, plist, Path(out))


# ------------------------------------------------------------------------------------------------
# rendering (shared by every engine)
# ------------------------------------------------------------------------------------------------
def chunk_rows(rows: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive rows in chunks of at most ``size`` that never mix persons (locality for the caches)."""
    chunk: list[dict[str, Any]] = []
    for r in rows:
        if chunk and (len(chunk) >= size or chunk[-1]["person_id"] != r["person_id"]):
            yield chunk
            chunk = []
        chunk.append(r)
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------------------------
# local engine
# ------------------------------------------------------------------------------------------------
_WORKER: PairRenderer | None = None


def _init_worker(kwargs: dict[str, Any]) -> None:
    global _WORKER
    _WORKER = PairRenderer(**kwargs)


def _work(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER.run(rows)


def run_local(rows: Sequence[dict[str, Any]], renderer: dict[str, Any], workers: int, chunk: int,
              on_result: Callable[[dict[str, Any]], None]) -> None:
    """Run ``rows`` in this process (``workers == 1``) or in ``workers`` spawned processes."""
    if workers <= 1:
        r = PairRenderer(**renderer)
        for row in rows:  # row by row: the results log and the progress bar follow every pair
            for res in r.run([row]):
                on_result(res)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: onnxruntime's thread pools do not survive a fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(renderer,)) as ex:
        futures = [ex.submit(_work, part) for part in chunk_rows(rows, chunk)]
        try:
            for fut in as_completed(futures):
                for res in fut.result():
                    on_result(res)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


# ------------------------------------------------------------------------------------------------
# the job
# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _job_lock(out: Path) -> Iterator[None]:
    """One job per output folder (an advisory ``flock``, released by the kernel if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock
        yield
        return
    fh = open(out / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TryonError(f"--out {out}: another tryon batch is running on this folder") from None
        yield
    finally:
        fh.close()


def _clean_temp_files(folder: Path) -> int:
    """Remove the ``.<name>.<pid>.tmp`` files a killed job left (never a final output)."""
    n = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()
                    n += 1
    return n


@dataclass
class JobOptions:
    engine: str = "local"
    workers: int = 1
    threads: int | None = None
    session: str = "auto"
    store: str | None = None
    store_dtype: str = "float32"
    cache_mb: float = 512
    chunk: int = 16
    max_pixels: int | None = None
    fsync: bool = False
    progress: bool = True
    contact_sheet: int = 0
    ray_address: str | None = None
    ray_cpus_per_worker: float = 1.0


def run_job(job: Job, opts: JobOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the pending pairs of ``job``; returns the summary (also written to ``OUT/summary.json``)."""
    from .hardware import physical_cores

    if opts.engine not in ("local", "ray"):
        raise InputError("--engine", "local or ray", repr(opts.engine))
    workers = max(1, int(opts.workers))
    job.images_dir.mkdir(parents=True, exist_ok=True)
    with _job_lock(job.out):
        stale = _clean_temp_files(job.images_dir)
        skipped, redo = set(), 0
        for k in range(len(job.pairs)):
            out = job.output(k)
            if complete_png(out):
                skipped.add(k)
            elif out.exists():  # cut short by a power loss without --fsync: never trusted
                with contextlib.suppress(OSError):
                    out.unlink()
                    redo += 1
        pending = [job.row(k) for k in range(len(job.pairs)) if k not in skipped]
        if opts.engine == "local":
            threads = opts.threads or max(1, physical_cores() // workers)
        else:
            threads = opts.threads or max(1, int(opts.ray_cpus_per_worker))
        renderer = {"model": job.model, "threads": threads, "session": opts.session, "store": opts.store,
                    "store_dtype": opts.store_dtype, "cache_mb": opts.cache_mb, "max_pixels": opts.max_pixels,
                    "fsync": opts.fsync}
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
        results_path = job.out / RESULTS_NAME
        this_run: dict[int, dict[str, Any]] = {}
        t_start = time.perf_counter()
        with open(results_path, "a", encoding="utf-8") as log_fh, _progress(opts.progress, len(job.pairs), len(skipped)) as bar:
            def on_result(res: dict[str, Any]) -> None:
                res = {**res, "output": os.path.relpath(res["output"], job.out), "run": run_id}
                log_fh.write(json.dumps(res) + "\n")
                log_fh.flush()
                this_run[int(res["pair"])] = res
                bar(res)

            if pending:
                if opts.engine == "local":
                    run_local(pending, renderer, workers, opts.chunk, on_result)
                else:
                    from .batch_ray import run_ray

                    run_ray(pending, renderer, workers=workers, chunk=opts.chunk, on_result=on_result,
                            address=opts.ray_address, cpus_per_worker=opts.ray_cpus_per_worker)
        elapsed = time.perf_counter() - t_start
        _write_table(job, results_path, this_run, skipped)
        ok = sum(1 for r in this_run.values() if r["status"] == "ok")
        failed = sum(1 for r in this_run.values() if r["status"] != "ok")
        lost = len(pending) - len(this_run)
        compute_s = sum(r["seconds"] for r in this_run.values())
        summary = {
            "model": job.model, "model_tag": job.model_tag, "engine": opts.engine, "workers": workers, "threads": threads,
            "session": opts.session, "pairs": len(job.pairs), "persons": len(job.persons), "garments": len(job.garments),
            "done": ok, "skipped": len(skipped), "failed": failed, "not_run": max(0, lost),
            "seconds": round(elapsed, 3), "pairs_per_second": round(len(this_run) / elapsed, 3) if this_run and elapsed > 0 else 0.0,
            "worker_seconds": round(compute_s, 3), "stale_temp_files_removed": stale, "incomplete_outputs_redone": redo,
            "run": run_id,
            "results": str(results_path), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if opts.contact_sheet:
            summary["contact_sheet"] = str(write_contact_sheet(job, this_run, skipped, opts.contact_sheet))
        atomic_write_json(job.out / SUMMARY_NAME, summary)
    return summary


def _write_table(job: Job, path: Path, this_run: dict[int, dict[str, Any]], skipped: set[int]) -> None:
    """Rewrite ``results.jsonl`` with one row per pair of the job, in job order (atomically)."""
    lines = []
    for k, (p, g) in enumerate(job.pairs):
        row = this_run.get(k)
        if row is None:
            row = {"pair": k, "person": job.persons[p].id, "garment": job.garments[g].id,
                   "output": os.path.relpath(job.output(k), job.out), "status": "skipped" if k in skipped else "not_run",
                   "seconds": None, "error": "", "error_type": ""}
        lines.append(json.dumps(row))
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a results table; an incomplete last line (a job killed mid-write) is ignored."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


@contextlib.contextmanager
def _progress(show: bool, total: int, skipped: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A rich progress bar (pairs/s over the pairs computed by this run, ETA) on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("tryon batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                        TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=Console(stderr=True), disable=not show, transient=False)
    task = progress.add_task("pairs", total=total, completed=skipped, rate="", failed=0)
    t0, state = time.perf_counter(), {"n": 0, "failed": 0}

    def update(res: dict[str, Any]) -> None:
        state["n"] += 1
        state["failed"] += res["status"] != "ok"
        rate = state["n"] / max(time.perf_counter() - t0, 1e-9)
        progress.update(task, advance=1, rate=f"{rate:.1f} pairs/s", failed=state["failed"])

    with progress:
        yield update


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


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="export folder of a try-on model (`tryon export`, --split for caching)")
    p.add_argument("--persons", required=True, help="folder of person images, or a file listing one path per line")
    p.add_argument("--garments", required=True, help="folder of garment images, or a file listing one path per line")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--pairs", default=None, help="file of 'person garment' lines (file names or stems)")
    which.add_argument("--grid", action="store_true", help="every person with every garment (the default)")
    p.add_argument("--out", required=True, help="output folder: images/, results.jsonl, summary.json")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes (default) or Ray Data")
    p.add_argument("--workers", type=int, default=1, help="worker processes / Ray actors (default 1)")
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
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1 or args.chunk < 1 or (args.threads is not None and args.threads < 1):
        raise InputError("tryon batch", "--workers, --chunk and --threads >= 1", f"{args.workers}, {args.chunk}, {args.threads}")
    job = plan_job(args.model, args.persons, args.garments, args.out, args.pairs)
    opts = JobOptions(engine=args.engine, workers=args.workers, threads=args.threads, session=args.session, store=args.store,
                      store_dtype="float16" if args.store_fp16 else "float32", cache_mb=args.cache_mb, chunk=args.chunk,
                      max_pixels=args.max_pixels, fsync=args.fsync, progress=args.progress, contact_sheet=args.contact_sheet,
                      ray_address=args.ray_address, ray_cpus_per_worker=args.ray_cpus_per_worker)
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


def register_cli(app: Any) -> None:
    app.add_command("batch", help="render every (person, garment) pair of a catalogue: resumable, atomic, per-pair errors",
                    configure=_configure, run=_run)


__all__ = ["Job", "Item", "JobOptions", "PairRenderer", "plan_job", "run_job", "read_items", "read_pairs", "read_results",
           "write_image", "encode_png", "complete_png", "output_name", "register_cli"]
