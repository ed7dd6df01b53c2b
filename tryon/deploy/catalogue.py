"""Catalogue inference over a split export — **no torch**.

A split export (``tryon export TASK --split``, format in ``exports/README.md``) holds, next to ``model.onnx``,
graphs whose chain equals it: *branch* graphs that see one input only (for S-WUTON: ``garment`` = E1 + the
matcher's F1, ``person`` = E2 + F2; 000 §4.3.3.1, App. E.1) and a *head* (``pair``: correlation, θ, TPS warps,
decoder). A P × G grid then costs P + G branch runs and P × G head runs instead of P × G full runs::

    from tryon.runtime import CatalogueSession
    cat = CatalogueSession("exports/wuton-student", store="features/")   # CPU; optional on-disk store
    garments = cat.encode_garments(["g1.jpg", "g2.jpg"])                    # computed once, then cached
    images = cat.grid(["p1.jpg", "p2.jpg"], garments)                      # images[p][g], the person's size
    one = cat.pair(person="p1.jpg", garment=garments[0])

Branch features (:class:`tryon.deploy.features.Features`) are cached in memory (the wing's byte-bounded LRU,
:class:`tryon.deploy.cache.ByteLRUCache`) and, optionally, in a :class:`tryon.deploy.features.FeatureStore` on
disk keyed by (hash of the branch graphs and pre-processing, sha256 of the input's content), in float32 or
float16 (``store_dtype``; the export's manifest records the float16 parity figure under
``split.fp16_features``). A store entry that is unreadable, corrupted (checksum), of another model or input,
of the wrong shapes or dtype is counted in ``stats()["store_rejected"]``, logged, recomputed and rewritten —
never used. Pre- and post-processing are those of :class:`tryon.deploy.sessions.ImageModelSession` (letterbox
to the manifest resolution; outputs cropped and resized back to the first input's size), so results equal the
monolithic session's within the recorded split parity (0 on the S-WUTON test exports).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import InputError, ProviderError, TryonError
from .arrays import bind_inputs, prepare_input, restore_output
from .cache import ByteLRUCache
from .features import STORE_FORMAT, Features, FeatureStore, content_key, file_sha256
from .manifest import check_conditions, read_manifest
from .providers import OPT_LEVELS, default_threads, fallback_message, request_providers
from .sessions import open_ort_session

log = logging.getLogger(__name__)


class CatalogueSession:
    """Cached inference over a split export (see the module doc).

    ``providers``, ``intra_op_threads`` and ``graph_optimization`` as :class:`tryon.runtime.ImageModelSession`
    (one setting for every graph); ``backend="openvino"`` with ``precision`` ``fp32``/``bf16`` runs the graphs
    with OpenVINO instead (:mod:`tryon.deploy.openvino`). ``cache_mb``: bound of the in-memory LRU of branch features (MiB).
    ``store``: a folder (or :class:`FeatureStore`) for the on-disk store, ``store_dtype`` its precision.
    ``batch_size``: items per branch/head run; 1 by default — on the CPU provider larger batches gave no more
    pairs/s (8.4 vs 8.5 ms per S-WUTON head at 256×192) and cost a copy of every item's features into the
    batch, while one item is fed as a view. ``pruned_heads``: run the export's head pruned to the main output when
    only that output is wanted (the default of ``pair``/``grid``; ``False`` always runs the full head). Not
    thread-safe: one session per thread or worker process
    (they can share one store folder: entries are written atomically and checked when read).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        providers: Any = None,
        intra_op_threads: int | None = None,
        graph_optimization: str = "all",
        *,
        cache_mb: float = 1024,
        store: str | os.PathLike | FeatureStore | None = None,
        store_dtype: str = "float32",
        batch_size: int = 1,
        allow_fallback: bool = False,
        verify_files: bool = True,
        backend: str = "ort",
        precision: str = "fp32",
        spinning: bool | None = None,
        pruned_heads: bool = True,
    ):
        self.spinning = spinning
        if backend not in ("ort", "openvino") or precision not in (("fp32",) if backend == "ort" else ("fp32", "bf16")):
            raise TryonError(f"CatalogueSession: backend 'ort' runs fp32, 'openvino' fp32 or bf16; got {backend!r}/{precision!r}")
        self.backend, self.precision = backend, precision
        if backend == "openvino":
            from .openvino import check_precision

            check_precision(precision)
        self.export_dir, self.manifest = read_manifest(path)
        graphs = self.manifest.get("graphs")
        if not graphs:
            raise TryonError(f"export {self.export_dir}: no split graphs in the manifest (export with "
                             "`tryon export TASK --split`, or use tryon.runtime.ImageModelSession)")
        self.input_specs = {i["name"]: i for i in self.manifest["inputs"]}
        self.input_names = [i["name"] for i in self.manifest["inputs"]]
        self.output_names = [o["name"] for o in self.manifest["outputs"]]
        self.resolution = tuple(int(v) for v in self.manifest["resolution"])
        self.batch_size = max(1, int(batch_size))
        self.intra_op_threads = default_threads(intra_op_threads)
        if graph_optimization not in OPT_LEVELS:
            raise TryonError(f"graph_optimization: expected one of {sorted(OPT_LEVELS)}, got {graph_optimization!r}")
        self.graph_optimization = graph_optimization
        self._providers = request_providers(providers if backend == "ort" else None, allow_fallback)
        self.providers_requested = self._providers.requested
        self._allow_fallback = bool(allow_fallback)

        self.branches: dict[str, list[dict[str, Any]]] = {n: [] for n in self.input_names}
        self.heads: list[dict[str, Any]] = []
        self.sessions: dict[str, Any] = {}
        for g in graphs:
            file = self.export_dir / g["file"]
            if not file.is_file():
                raise TryonError(f"export {self.export_dir}: graph file {g['file']} is listed in the manifest but missing")
            if verify_files and file_sha256(file) != g["sha256"]:
                raise TryonError(f"export {self.export_dir}: {g['file']} does not match the sha256 in the manifest "
                                 "(modified or partly copied export)")
            self.sessions[g["name"]] = self._session(file)
            (self.branches[g["branch_of"]] if g.get("branch_of") else self.heads).append(g)
        self._verify_files = bool(verify_files)
        #: the last head pruned to some outputs (opened on first use): {graph name: manifest record}
        self.pruned_heads = {p["file"]: p for p in self.heads[-1].get("pruned", [])} if self.heads and pruned_heads else {}
        if not self.heads:
            raise TryonError(f"export {self.export_dir}: the split graphs have no head (every graph is a branch)")
        head_inputs = {i["name"] for h in self.heads for i in h["inputs"]}
        #: per input: the names of the cached values (branch outputs, plus the input itself if a head reads it)
        self.feature_shapes: dict[str, dict[str, tuple[int, ...]]] = {}
        for name in self.input_names:
            shapes = {o["name"]: tuple(int(d) for d in o["shape"][1:]) for g in self.branches[name] for o in g["outputs"]}
            if name in head_inputs:
                shapes[name] = tuple(int(d) for d in self.input_specs[name]["shape"][1:])
            self.feature_shapes[name] = {k: v for k, v in shapes.items() if k in head_inputs}
        #: store key per input: the branch graphs' hashes and the pre-processing that produced the features
        self.model_keys = {
            name: hashlib.sha256(json.dumps({
                "format": STORE_FORMAT, "graphs": [g["sha256"] for g in self.branches[name]], "input": self.input_specs[name],
                "resolution": self.manifest["resolution"], "normalisation": self.manifest["normalisation"],
            }, sort_keys=True).encode()).hexdigest()
            for name in self.input_names
        }
        self._memory = ByteLRUCache(int(cache_mb * (1 << 20)))
        if store is None or isinstance(store, FeatureStore):
            self.store = store
        else:
            self.store = FeatureStore(store, dtype=store_dtype)
        self._stats: Counter[tuple[str, str]] = Counter()
        self._stats_lock = threading.Lock()

    # -- sessions ---------------------------------------------------------------------------------
    def _session(self, file: Path) -> Any:
        if self.backend == "openvino":
            from .openvino import OpenVINOSession

            return OpenVINOSession(file, self.precision, self.intra_op_threads)
        sess = open_ort_session(file, self._providers.session_providers, self.graph_optimization, self.intra_op_threads,
                                log_severity=3, spinning=self.spinning)
        msg = fallback_message(self._providers, list(sess.get_providers()), f"the session for {file.name}")
        if msg and not self._allow_fallback:
            raise ProviderError(msg)
        return sess

    # -- stats ------------------------------------------------------------------------------------
    def _count(self, event: str, name: str, n: int) -> None:
        with self._stats_lock:  # one session may serve several threads (tryon batch's worker threads)
            self._stats[event, name] += n

    def stats(self) -> dict[str, Any]:
        """Counters: ``computed``/``memory_hits``/``store_hits``/``store_rejected``/``store_writes`` per input,
        ``head_items`` (pairs run through the head), the memory cache's size (``memory_items``, ``memory_bytes``)
        and ``memory_evictions`` (entries it dropped to stay within ``cache_mb``)."""
        out: dict[str, Any] = {}
        with self._stats_lock:
            counts = list(self._stats.items())
        for (event, name), n in counts:
            if event == "head_items":
                out[event] = n
            else:
                out.setdefault(event, {})[name] = n
        out.setdefault("head_items", 0)
        for event in ("computed", "memory_hits", "store_hits", "store_rejected", "store_writes"):
            out.setdefault(event, {})
        out["memory_items"], out["memory_bytes"] = len(self._memory), self._memory.bytes
        out["memory_evictions"] = self._memory.evictions
        return out

    def clear_memory(self) -> None:
        """Drop the in-memory cache (the on-disk store is kept)."""
        self._memory.clear()

    # -- branches ---------------------------------------------------------------------------------
    def encode(self, name: str, items: Any, *, errors: str = "raise") -> list[Any]:
        """Features of ``items`` (one or a list of images) for input ``name``: from memory, the store, or computed.

        ``errors="return"`` puts the :class:`tryon.errors.InputError` of a bad item in its place instead of
        raising, so one unreadable image does not stop the others.
        """
        if name not in self.input_names:
            raise InputError("input", f"one of {self.input_names}", repr(name))
        if errors not in ("raise", "return"):
            raise InputError("errors", "'raise' or 'return'", repr(errors))
        seq = list(items) if isinstance(items, (list, tuple)) else [items]
        results: list[Any] = [None] * len(seq)
        todo: dict[str, list[int]] = {}
        for i, item in enumerate(seq):
            if isinstance(item, Features):
                if item.input != name:
                    raise InputError(f"{name}[{i}]", f"features of input {name!r}", f"features of {item.input!r}")
                results[i] = item
                continue
            kind = "numpy" if isinstance(item, np.ndarray) else "pil"
            try:
                key = content_key(item, name)
            except InputError as exc:
                if errors == "raise":
                    raise
                results[i] = exc
                continue
            hit = self._lookup(name, key)
            if hit is not None:
                results[i] = replace(hit, kind=kind)
            else:
                todo.setdefault(key, []).append(i)
        keys = list(todo)
        for start in range(0, len(keys), self.batch_size):
            chunk = keys[start : start + self.batch_size]
            computed = self._compute(name, [(k, seq[todo[k][0]]) for k in chunk], errors)
            for k, f in zip(chunk, computed):
                for i in todo[k]:
                    results[i] = f if isinstance(f, Exception) else replace(f, kind="numpy" if isinstance(seq[i], np.ndarray) else "pil")
        return results

    def encode_persons(self, items: Any, **kw: Any) -> list[Any]:
        """:meth:`encode` for the input ``person``."""
        return self.encode("person", items, **kw)

    def encode_garments(self, items: Any, **kw: Any) -> list[Any]:
        """:meth:`encode` for the input ``garment``."""
        return self.encode("garment", items, **kw)

    def _lookup(self, name: str, key: str) -> Features | None:
        f = self._memory.get((name, key))
        if f is not None:
            self._count("memory_hits", name, 1)
            return replace(f, source="memory")
        if self.store is None:
            return None
        f, why = self.store.get(self.model_keys[name], name, key, self.feature_shapes[name])
        if why:
            self._count("store_rejected", name, 1)
            log.warning("feature store: rejected %s (%s); recomputing", self.store.path(self.model_keys[name], name, key), why)
            return None
        if f is not None:
            self._count("store_hits", name, 1)
            self._memory.put((name, key), f)
        return f

    def _compute(self, name: str, items: list[tuple[str, Any]], errors: str) -> list[Any]:
        spec = self.input_specs[name]
        prepared: list[Any] = []
        for key, item in items:
            try:
                arr, sizes, boxes, _ = prepare_input([item], spec, self.manifest)
                prepared.append((key, arr, tuple(sizes[0]), tuple(boxes[0])))
            except InputError as exc:
                if errors == "raise":
                    raise
                prepared.append(exc)
        good = [p for p in prepared if not isinstance(p, Exception)]
        if not good:
            return prepared
        values = {name: np.concatenate([p[1] for p in good], 0)}
        for g in self.branches[name]:
            outs = self.sessions[g["name"]].run(None, {i["name"]: values[i["name"]] for i in g["inputs"]})
            values.update(zip([o["name"] for o in g["outputs"]], outs))
        self._count("computed", name, len(good))
        feats: dict[str, Features] = {}
        for j, (key, _, size, box) in enumerate(good):
            arrays = {k: np.ascontiguousarray(values[k][j], dtype=np.float32) for k in self.feature_shapes[name]}
            f = Features(name, key, arrays, size, box)  # type: ignore[arg-type]
            self._memory.put((name, key), f)
            if self.store is not None:
                try:
                    self.store.put(self.model_keys[name], f)
                    self._count("store_writes", name, 1)
                except OSError as exc:  # a full or read-only store must not fail the inference
                    log.warning("feature store: could not write %s (%s)", key, exc)
            feats[key] = f
        return [p if isinstance(p, Exception) else feats[p[0]] for p in prepared]

    # -- head -------------------------------------------------------------------------------------
    def _check_features(self, features: dict[str, Sequence[Features]], outputs: Sequence[str] | None) -> tuple[int, list[str]]:
        n = {len(v) for v in features.values()}
        if len(n) != 1 or set(features) != set(self.input_names):
            raise InputError("features", f"equal-length lists for {self.input_names}",
                             ", ".join(f"{k}: {len(v)}" for k, v in features.items()))
        wanted = list(outputs) if outputs else list(self.output_names)
        unknown = [o for o in wanted if o not in self.output_names]
        if unknown:
            raise InputError("outputs", f"names among {self.output_names}", f"{unknown}")
        return n.pop(), wanted

    def _head(self, features: dict[str, Sequence[Features]], count: int, wanted: list[str]) -> Iterator[dict[str, np.ndarray]]:
        """The head graph(s) over ``batch_size`` items at a time: one ``{output: array}`` per chunk."""
        for start in range(0, count, self.batch_size):
            values: dict[str, np.ndarray] = {}
            for name, fs in features.items():
                chunk = fs[start : start + self.batch_size]
                for k in self.feature_shapes[name]:
                    # one item: a view with a batch axis (no copy; onnxruntime reads contiguous arrays in place)
                    values[k] = chunk[0].arrays[k][None] if len(chunk) == 1 else np.stack([f.arrays[k] for f in chunk], 0)
            for gi, g in enumerate(self.heads):
                names = [o["name"] for o in g["outputs"]]
                sess, inputs = self.sessions[g["name"]], [i["name"] for i in g["inputs"]]
                if gi == len(self.heads) - 1:
                    names = [o for o in names if o in wanted]
                    pruned = self.pruned_head(names)
                    if pruned is not None:
                        sess, inputs = pruned
                outs = sess.run(names, {i: values[i] for i in inputs})
                values.update(zip(names, outs))
            self._count("head_items", "", min(self.batch_size, count - start))
            yield {o: values[o] for o in wanted}

    def pruned_head(self, names: Sequence[str]) -> tuple[Any, list[str]] | None:
        """(session, input names) of the last head pruned to exactly ``names`` when the export has one (opened and
        verified on first use), else None. onnxruntime runs every node of a graph whatever outputs are fetched, so
        only a pruned graph skips the work of the outputs not wanted (S-WUTON: the full-resolution garment warp)."""
        rec = next((p for p in self.pruned_heads.values() if list(p["outputs"]) == list(names)), None)
        if rec is None:
            return None
        if rec["file"] not in self.sessions:
            file = self.export_dir / rec["file"]
            if not file.is_file():
                raise TryonError(f"export {self.export_dir}: graph file {rec['file']} is listed in the manifest but missing")
            if self._verify_files and file_sha256(file) != rec["sha256"]:
                raise TryonError(f"export {self.export_dir}: {rec['file']} does not match the sha256 in the manifest "
                                 "(modified or partly copied export)")
            self.sessions[rec["file"]] = self._session(file)
        return self.sessions[rec["file"]], list(rec["inputs"])

    def run_features(self, features: dict[str, Sequence[Features]], outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run the head graph(s) on aligned lists of :class:`Features` (one list per input, equal lengths) →
        ``{output name: N×… float32}`` at the model resolution (no restore). ``outputs``: only these; when the export
        holds the head pruned to them (the main output), that graph runs and the other outputs' nodes do not."""
        count, wanted = self._check_features(features, outputs)
        parts = list(self._head(features, count, wanted))
        return {o: np.concatenate([p[o] for p in parts], 0) if len(parts) > 1 else parts[0][o] for o in wanted}

    def _run_restored(self, features: dict[str, Sequence[Features]], return_all: bool) -> list[Any]:
        """Head + restore chunk by chunk (no concatenation of the whole result): per item, the main output or a
        dict of every output, in the first input's size and kind."""
        count, wanted = self._check_features(features, self._wanted(return_all))
        leads = features[self.input_names[0]]
        results: list[Any] = []
        for start, outs in zip(range(0, count, self.batch_size), self._head(features, count, wanted)):
            for i in range(len(next(iter(outs.values())))):
                f = leads[start + i]
                item = {o: restore_output(arr[i : i + 1], [f.size], [f.box], f.kind, self.manifest, o)[0] for o, arr in outs.items()}
                results.append(item if return_all else item[self.output_names[0]])
        return results

    def _wanted(self, return_all: bool) -> list[str]:
        return list(self.output_names) if return_all else [self.output_names[0]]

    def pair(self, *images: Any, return_all: bool = False, category: str | None = None, **named: Any) -> Any:
        """One result per aligned item: ``pair(person=[p1, p2], garment=[g1, g2])`` (or positionally in manifest
        order). Items are images or :class:`Features`; a single item next to lists is used for every item. Returns
        the main output (or a dict of every output with ``return_all``), restored to the first input's size and
        kind; a list when any input was a list. ``category``: checked against the export's conditions
        (:func:`tryon.deploy.manifest.check_conditions`) before anything runs."""
        check_conditions(self.manifest, self.export_dir, category=category)
        values, count, is_list = bind_inputs(self.input_names, images, named)
        feats = {}
        for name in self.input_names:
            v = values[name]
            fs = self.encode(name, list(v) if isinstance(v, (list, tuple)) else [v])
            feats[name] = fs if len(fs) == count else fs * count
        out = self._run_restored(feats, return_all)
        return out if is_list else out[0]

    def grid(self, rows: Any, cols: Any, *, return_all: bool = False, category: str | None = None) -> list[list[Any]]:
        """Every combination of the first input's items (``rows``, e.g. persons) with the second's (``cols``,
        e.g. garments): ``result[r][c]``. Each item is encoded once. ``category``: as in :meth:`pair`."""
        check_conditions(self.manifest, self.export_dir, category=category)
        if len(self.input_names) != 2:
            raise TryonError(f"grid needs a two-input model, this one takes {self.input_names}")
        a, b = self.input_names
        ra = self.encode(a, list(rows) if isinstance(rows, (list, tuple)) else [rows])
        cb = self.encode(b, list(cols) if isinstance(cols, (list, tuple)) else [cols])
        res = self._run_restored({a: [r for r in ra for _ in cb], b: [c for _ in ra for c in cb]}, return_all)
        return [res[i * len(cb) : (i + 1) * len(cb)] for i in range(len(ra))]

    def describe(self) -> dict[str, Any]:
        return {
            "export": str(self.export_dir),
            "graphs": {k: [g["name"] for g in v] for k, v in self.branches.items()} | {"head": [g["name"] for g in self.heads]},
            "providers": self.providers_requested,
            "intra_op_threads": self.intra_op_threads,
            "store": str(self.store.root) if self.store else None,
            "store_dtype": self.store.dtype if self.store else None,
            "fp16_feature_parity": (self.manifest.get("split") or {}).get("fp16_features", {}).get("max_abs_error"),
            "pruned_heads": {f: list(p["outputs"]) for f, p in self.pruned_heads.items()},
        }


def feature_bytes(session: CatalogueSession, name: str, dtype: str = "float32") -> int:
    """Bytes of one item's cached values for input ``name`` (tensor data, no file overhead)."""
    itemsize = np.dtype(dtype).itemsize
    return int(sum(int(np.prod(s)) for s in session.feature_shapes[name].values()) * itemsize)


__all__ = ["CatalogueSession", "feature_bytes"]
