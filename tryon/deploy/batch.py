"""``tryon batch``: render every (person, garment) pair of a catalogue — resumable, atomic, per-pair errors. No torch.

The job (:func:`run_job`) over a plan (:func:`tryon.deploy.plan.plan_job`); the verb is :mod:`tryon.deploy.cli`.

* Outputs: ``OUT/images/<person>__<garment>__<model>.png`` (ids = file stems, model = the first 12 hex digits of
  the export's sha256), written atomically (temp file + rename): a killed job never leaves a half-written
  image under a final name. A restarted job with the same command skips the pairs whose image exists and
  removes the temp files the killed one left.
* ``OUT/results.jsonl``: one row per pair (``status`` ok / skipped / failed, ``seconds``, ``error``); during the
  run it is also the progress log (rows are appended as pairs finish), rewritten compactly at the end.
  ``OUT/summary.json``: counts and throughput. ``contact_sheet``: ``OUT/contact_sheet.html`` with N sample
  results (:mod:`tryon.deploy.contact_sheet`). Progress: :func:`tryon.progress.progress` on stderr.
* A bad image (missing, truncated, not an image, over ``TRYON_MAX_PIXELS``) fails the pairs that use it with
  its one-line :class:`tryon.errors.InputError` in the table; the job goes on and the verb exits 1.
* With a split export (``tryon export TASK --split``) each worker uses a
  :class:`tryon.deploy.catalogue.CatalogueSession`: every person and garment is encoded once per worker (and
  once overall with ``store``); pairs are grouped by person. Otherwise (or with ``session="monolithic"``) the
  whole graph runs per pair.
* Engines: ``local`` (:mod:`tryon.deploy.local_engine`: this process, or ``workers`` threads — the default — or
  spawned processes, ``worker_kind``) and
  ``ray`` (:mod:`tryon.deploy.ray_engine`). Both use :class:`tryon.deploy.render.PairRenderer` and
  :func:`tryon.deploy.render.write_image`, so their outputs are byte-identical for the same ``threads``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import InputError, TryonError
from ..fs import atomic_write_json, atomic_write_text
from ..hardware import physical_cores
from ..progress import progress
from .contact_sheet import write_contact_sheet
from .local_engine import run_local
from .plan import Job
from .render import PNG_LEVEL, complete_png

RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
LOCK_NAME = ".tryon-batch.lock"


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
    worker_kind: str = "thread"
    threads: int | None = None
    session: str = "auto"
    store: str | None = None
    store_dtype: str = "float32"
    cache_mb: float = 512
    chunk: int = 16
    max_pixels: int | None = None
    fsync: bool = False
    png_level: int = PNG_LEVEL
    progress: bool = True
    contact_sheet: int = 0
    ray_address: str | None = None
    ray_cpus_per_worker: float = 1.0


def run_job(job: Job, opts: JobOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the pending pairs of ``job``; returns the summary (also written to ``OUT/summary.json``)."""
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
                    "fsync": opts.fsync, "png_level": opts.png_level}
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
        results_path = job.out / RESULTS_NAME
        this_run: dict[int, dict[str, Any]] = {}
        t_start = time.perf_counter()
        failed_so_far = [0]
        with open(results_path, "a", encoding="utf-8") as log_fh, progress(
                len(job.pairs), "tryon batch", completed=len(skipped), unit="pair", enabled=opts.progress) as bar:
            def on_result(res: dict[str, Any]) -> None:
                res = {**res, "output": os.path.relpath(res["output"], job.out), "run": run_id}
                log_fh.write(json.dumps(res) + "\n")
                log_fh.flush()
                this_run[int(res["pair"])] = res
                failed_so_far[0] += res["status"] != "ok"
                bar.advance(failed=failed_so_far[0])

            if pending:
                if opts.engine == "local":
                    run_local(pending, renderer, workers, opts.chunk, on_result, kind=opts.worker_kind)
                else:
                    from .ray_engine import run_ray

                    run_ray(pending, renderer, workers=workers, chunk=opts.chunk, on_result=on_result,
                            address=opts.ray_address, cpus_per_worker=opts.ray_cpus_per_worker)
        elapsed = time.perf_counter() - t_start
        _write_table(job, results_path, this_run, skipped)
        ok = sum(1 for r in this_run.values() if r["status"] == "ok")
        failed = sum(1 for r in this_run.values() if r["status"] != "ok")
        lost = len(pending) - len(this_run)
        compute_s = sum(r["seconds"] for r in this_run.values())
        summary = {
            "model": job.model, "model_tag": job.model_tag, "engine": opts.engine, "workers": workers,
            "worker_kind": opts.worker_kind if opts.engine == "local" else "ray actor", "threads": threads,
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


__all__ = ["RESULTS_NAME", "SUMMARY_NAME", "LOCK_NAME", "JobOptions", "run_job", "read_results"]
