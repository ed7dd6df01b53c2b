"""The local engine of ``tryon batch``: pair rows rendered in this process or in spawned worker processes.

Each worker holds one :class:`tryon.deploy.render.PairRenderer`; rows go to workers in chunks that never mix
persons (:func:`chunk_rows`: locality for the feature caches). No torch.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from .render import PairRenderer


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



__all__ = ["chunk_rows", "run_local"]
