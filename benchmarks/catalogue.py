"""Catalogue try-on benchmark: cached branches (split export) vs the monolithic S-WUTON graph, and Ray vs local.

    .venv/bin/python benchmarks/catalogue.py --out runs/bench-catalogue [--size 256x192] [--persons 8 --garments 8]
        [--threads 2] [--rounds 5] [--ray --ray-grids 4x4,12x12] [--export DIR]

One process, the same P × G grid, onnxruntime CPU with ``--threads`` intra-op threads for every session,
random weights (speed does not depend on them). Cases, each timed over the whole grid in interleaved rounds
(median of ``--rounds``), reported as per-pair milliseconds and pairs/s:

* model level (pre-normalised arrays in, raw outputs out): the monolithic graph at batch 1 and 8; the split
  graphs *cold* (P person + G garment branch runs + P·G head runs), *warm* (features cached: heads only) and
  *1 × G, person cached* (G garment branches + G heads);
* API level (uint8 images in, uint8 images of the person's size out; pre/post-processing included):
  ``ImageModelSession`` vs ``CatalogueSession.grid`` cold / warm / one person cached, both outputs computed
  and restored on both sides, plus the catalogue's default of the main output only;
* equality: API outputs of the grid vs the monolithic session (the split head sums the person's decoder terms
  in another order, so a few 8-bit values may differ by one level: counted), model-level max abs difference;
  the feature store's bytes per garment in fp32 / fp16 and the fp16 store's output error;
* ``--ray``: ``tryon.batch.run_job`` with ``--engine local`` vs ``--engine ray`` (1 worker, same threads) on
  small grids of PNG files, Ray already started (its start-up time reported apart).

Writes ``results.json`` (machine, versions and date included; the load average at the end beside the one at the start)
and ``table.md`` (printed). ``--budget tiny`` (64×48, 2 × 2 grid, 1 round) checks the whole path in seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tryon.study import Study, machine_summary, script


def export_student(out: Path, size: tuple[int, int], phase_split: bool = True) -> dict[str, Any]:
    import torch

    import tryon
    from tryon.export import export_onnx

    torch.manual_seed(0)
    pipe = tryon.load("wuton-student", device="cpu", size=list(size)).eval()
    with torch.no_grad():
        pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
    t0 = time.perf_counter()
    manifest = export_onnx(pipe, "student", out, opset=17, parity_batches=(1, 3), split=True, phase_split=phase_split)
    manifest["_export_seconds"] = round(time.perf_counter() - t0, 1)
    return manifest


def bench_grid(export: Path, P: int, G: int, threads: int, rounds: int, batch: int) -> dict[str, Any]:
    from tryon.catalogue import CatalogueSession, FeatureStore
    from tryon.runtime import ImageModelSession, prepare_input

    mono = ImageModelSession(export, intra_op_threads=threads)
    cat = CatalogueSession(export, intra_op_threads=threads, batch_size=batch)
    cat_full = CatalogueSession(export, intra_op_threads=threads, batch_size=batch, pruned_heads=False)
    H, W = mono.resolution
    rng = np.random.default_rng(0)
    persons = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(P)]
    garments = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(G)]
    xp = prepare_input(persons, mono.input_specs[0], mono.manifest)[0]
    xg = prepare_input(garments, mono.input_specs[1], mono.manifest)[0]
    pairs = [(i, j) for i in range(P) for j in range(G)]
    s_g, s_p = cat.sessions["garment"], cat.sessions["person"]
    head = cat.sessions["pair"]
    g_in = [i.name for i in s_g.get_inputs()][0]
    p_in = [i.name for i in s_p.get_inputs()][0]
    g_out = [o.name for o in s_g.get_outputs()]
    p_out = [o.name for o in s_p.get_outputs()]
    h_in = [i.name for i in head.get_inputs()]
    # the head pruned to the main output, when the export has one (else the full head stands in)
    pruned_rec = next(iter(cat.pruned_heads.values()), None)
    pruned = cat.pruned_head(list(pruned_rec["outputs"]))[0] if pruned_rec else head
    # like for like: the monolithic graph pruned to the image as well (what a user of ImageModelSession could export)
    from tryon.deploy.sessions import open_ort_session
    from tryon.export.split import prune_to_outputs

    mono_pruned_path = Path(tempfile.mkdtemp(prefix="cat-mono-")) / "model-image.onnx"
    mono_pruned = (open_ort_session(mono_pruned_path, ["CPUExecutionProvider"], intra_op_threads=threads)
                   if prune_to_outputs(export / "model.onnx", mono_pruned_path, ["image"]) else mono.session)
    shutil.rmtree(mono_pruned_path.parent, ignore_errors=True)  # the session holds the graph in memory

    def branches(sess: Any, name: str, outs: list[str], x: np.ndarray) -> dict[str, np.ndarray]:
        parts = [dict(zip(outs, sess.run(None, {name: x[k : k + batch]}))) for k in range(0, len(x), batch)]
        return {o: np.concatenate([p[o] for p in parts], 0) for o in outs}

    def heads(gf: dict[str, np.ndarray], pf: dict[str, np.ndarray], xg_: np.ndarray, idx: list[tuple[int, int]],
              head: Any = head) -> list[np.ndarray]:
        outs = []
        for k in range(0, len(idx), batch):
            if batch == 1:  # views, no copy (what CatalogueSession feeds at batch 1)
                i, j = idx[k]
                ii, jj = slice(i, i + 1), slice(j, j + 1)
            else:
                ii = [i for i, _ in idx[k : k + batch]]
                jj = [j for _, j in idx[k : k + batch]]
            feed = {n: (xg_[jj] if n == g_in else gf[n][jj] if n in gf else pf[n][ii]) for n in (i.name for i in head.get_inputs())}
            outs.append(head.run(None, feed)[0])
        return outs

    cache: dict[str, Any] = {}

    def model_mono_b1() -> None:
        for i, j in pairs:
            mono.session.run(None, {"person": xp[i : i + 1], "garment": xg[j : j + 1]})

    def model_mono_pruned() -> None:
        names = [i.name for i in mono_pruned.get_inputs()]
        for i, j in pairs:
            mono_pruned.run(None, {n: {"person": xp[i : i + 1], "garment": xg[j : j + 1]}[n] for n in names})

    def model_mono_b8() -> None:
        for k in range(0, len(pairs), 8):
            ii = [i for i, _ in pairs[k : k + 8]]
            jj = [j for _, j in pairs[k : k + 8]]
            mono.session.run(None, {"person": xp[ii], "garment": xg[jj]})

    def model_cold() -> None:
        cache["gf"] = branches(s_g, g_in, g_out, xg)
        cache["pf"] = branches(s_p, p_in, p_out, xp)
        heads(cache["gf"], cache["pf"], xg, pairs)

    def model_warm() -> None:
        heads(cache["gf"], cache["pf"], xg, pairs)

    one = [(0, j) for j in range(G)]

    def model_one_person() -> None:
        gf = branches(s_g, g_in, g_out, xg)
        heads(gf, cache["pf"], xg, one)

    def mono_one_person() -> None:
        for _, j in one:
            mono.session.run(None, {"person": xp[0:1], "garment": xg[j : j + 1]})

    # two sessions of 1 thread each, run concurrently (onnxruntime releases the GIL): the `--workers 2
    # --threads 1` layout of a batch job, for both models; each worker takes half of the persons
    from concurrent.futures import ThreadPoolExecutor

    def ort_session(path: Path, n_threads: int) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = n_threads
        so.log_severity_level = 3
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    workers = [{"mono": ort_session(export / "model.onnx", 1), "g": ort_session(export / "garment.onnx", 1),
                "p": ort_session(export / "person.onnx", 1), "h": ort_session(export / "pair.onnx", 1)} for _ in range(2)]
    halves = [[(i, j) for i, j in pairs if i < P // 2], [(i, j) for i, j in pairs if i >= P // 2]]
    pool = ThreadPoolExecutor(2)

    def both(fn: Callable[[int], Any]) -> None:
        list(pool.map(fn, range(2)))

    def mono_2x1() -> None:
        both(lambda w: [workers[w]["mono"].run(None, {"person": xp[i : i + 1], "garment": xg[j : j + 1]}) for i, j in halves[w]])

    def cold_2x1() -> None:
        def work(w: int) -> None:
            gf = branches(workers[w]["g"], g_in, g_out, xg)
            rows = sorted({i for i, _ in halves[w]})
            pf_part = branches(workers[w]["p"], p_in, p_out, xp[rows[0] : rows[-1] + 1])
            pf = {k: np.concatenate([np.zeros_like(v[:1]).repeat(rows[0], 0), v], 0) for k, v in pf_part.items()}
            heads(gf, pf, xg, halves[w], head=workers[w]["h"])
        both(work)

    def model_warm_pruned() -> None:
        heads(cache["gf"], cache["pf"], xg, pairs, head=pruned)

    def warm_2x1() -> None:
        both(lambda w: heads(cache["gf"], cache["pf"], xg, halves[w], head=workers[w]["h"]))

    def api_mono() -> None:
        for k in range(0, len(pairs), batch):
            chunk = pairs[k : k + batch]
            mono(person=[persons[i] for i, _ in chunk], garment=[garments[j] for _, j in chunk])

    # API level: both sessions compute and restore both outputs (ImageModelSession always does) ...
    def api_cold() -> None:
        cat.clear_memory()
        cat.grid(persons, garments, return_all=True)

    def api_warm() -> None:
        cat.grid(persons, garments, return_all=True)

    # ... and the catalogue's default: only the main output, through the head pruned to it (onnxruntime itself runs
    # every node of a graph whatever is fetched), beside the same call on the full head
    def api_warm_image() -> None:
        cache["grid"] = cat.grid(persons, garments)

    def api_warm_image_full_head() -> None:
        cat_full.grid(persons, garments)

    def api_one_person() -> None:
        cat.clear_memory()
        cat.encode_persons([persons[0]])
        t0 = time.perf_counter()
        cat.grid([persons[0]], garments, return_all=True)
        cache["one_s"] = time.perf_counter() - t0

    def api_mono_one_person() -> None:
        for k in range(0, G, batch):
            mono(person=[persons[0]] * len(garments[k : k + batch]), garment=garments[k : k + batch])

    # one call of each graph at B=1 (where the time of a pair goes), 8 calls per timing
    g1 = dict(zip(g_out, s_g.run(None, {g_in: xg[:1]})))
    p1 = dict(zip(p_out, s_p.run(None, {p_in: xp[:1]})))
    feed_h = {n: (xg[:1] if n == g_in else g1[n] if n in g1 else p1[n]) for n in h_in}
    graph_cases = {
        "graph_monolithic": lambda: [mono.session.run(None, {"person": xp[:1], "garment": xg[:1]}) for _ in range(8)],
        "graph_monolithic_image_only": lambda: [mono.session.run(["image"], {"person": xp[:1], "garment": xg[:1]}) for _ in range(8)],
        "graph_garment": lambda: [s_g.run(None, {g_in: xg[:1]}) for _ in range(8)],
        "graph_person": lambda: [s_p.run(None, {p_in: xp[:1]}) for _ in range(8)],
        "graph_pair": lambda: [head.run(None, feed_h) for _ in range(8)],
        "graph_pair_image_only": lambda: [head.run(["image"], feed_h) for _ in range(8)],
        "graph_monolithic_pruned": lambda: [mono_pruned.run(None, {i.name: {"person": xp[:1], "garment": xg[:1]}[i.name]
                                                                    for i in mono_pruned.get_inputs()}) for _ in range(8)],
        "graph_pair_pruned": lambda: [pruned.run(None, {i.name: feed_h[i.name] for i in pruned.get_inputs()}) for _ in range(8)],
    }

    cases = {**graph_cases, "mono_b1": model_mono_b1, "mono_pruned": model_mono_pruned, "mono_b8": model_mono_b8, "split_cold": model_cold,
             "split_warm": model_warm, "split_warm_pruned": model_warm_pruned,
             "mono_1xG": mono_one_person, "split_1xG_person_cached": model_one_person,
             "mono_2x1": mono_2x1, "split_cold_2x1": cold_2x1, "split_warm_2x1": warm_2x1,
             "api_mono": api_mono, "api_split_cold": api_cold, "api_split_warm": api_warm,
             "api_split_warm_image_only": api_warm_image, "api_split_warm_image_only_full_head": api_warm_image_full_head,
             "api_mono_1xG": api_mono_one_person,
             "api_split_1xG_person_cached": api_one_person}
    from tryon.bench.timing import interleaved

    t_all = interleaved(cases, rounds)  # one interleaved loop: every case sees the same machine conditions
    one_person = []
    for _ in range(rounds):
        api_one_person()
        one_person.append(cache["one_s"])
    t_all["api_split_1xG_person_cached"] = one_person  # the person's encoding is not timed

    n = len(pairs)
    graph_ms = {k: {"median": round(statistics.median(t_all[k]) * 1000 / 8, 3), "min": round(min(t_all.pop(k)) * 1000 / 8, 3)}
                for k in graph_cases}
    per = {k: statistics.median(v) * 1000 / (G if "1xG" in k else n) for k, v in t_all.items()}
    best = {k: min(v) * 1000 / (G if "1xG" in k else n) for k, v in t_all.items()}  # least disturbed round

    # equality: API grid vs the monolithic session, raw head outputs vs the monolithic graph
    grid = cache["grid"]
    diffs = [np.abs(grid[i][j].astype(int) - mono(persons[i], garments[j]).astype(int)) for i, j in pairs]
    same = sum(int(d.max()) == 0 for d in diffs)
    raw = heads(cache["gf"], cache["pf"], xg, pairs)
    raw_mono = [mono.session.run(None, {"person": xp[[i for i, _ in pairs[k:k + batch]]],
                                        "garment": xg[[j for _, j in pairs[k:k + batch]]]})[0] for k in range(0, n, batch)]
    raw_err = max(float(np.abs(a - b).max()) for a, b in zip(raw, raw_mono))

    # feature store: bytes per garment, fp16 error
    tmp = Path(tempfile.mkdtemp(prefix="cat-store-"))
    try:
        store = {}
        for dt in ("float32", "float16"):
            c = CatalogueSession(export, intra_op_threads=threads, batch_size=batch, store=tmp / dt, store_dtype=dt)
            c.encode_garments(garments)
            c.encode_persons(persons)
            per_input = {}
            for name in ("garment", "person"):
                files = list((tmp / dt).rglob(f"*/{name}/*/*.safetensors"))
                per_input[name] = sum(f.stat().st_size for f in files) / max(1, len(files))
            store[dt] = {"bytes_per_garment": per_input["garment"], "bytes_per_person": per_input["person"],
                         "total_bytes": FeatureStore(tmp / dt).size_on_disk()}
        c16 = CatalogueSession(export, intra_op_threads=threads, batch_size=batch, store=tmp / "float16", store_dtype="float16")
        f16 = c16.run_features({"person": c16.encode_persons([persons[0]] * G), "garment": c16.encode_garments(garments)})
        f32 = cat.run_features({"person": cat.encode_persons([persons[0]] * G), "garment": cat.encode_garments(garments)})
        store["float16"]["max_abs_error_vs_fp32"] = max(float(np.abs(f16[k] - f32[k]).max()) for k in f16)
        u16 = c16.grid([persons[0]], garments)[0]
        store["float16"]["uint8_max_diff"] = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(u16, grid[0]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("model", "monolithic graph, B=1", "mono_b1", "P×G full runs"),
        ("model", "monolithic graph pruned to the image, B=1", "mono_pruned", "like for like with the pruned head"),
        ("model", "monolithic graph, B=8", "mono_b8", ""),
        ("model", "split, cold grid", "split_cold", f"{P}+{G} branch runs + {n} heads (B={batch})"),
        ("model", "split, warm grid (all features cached)", "split_warm", f"{n} heads"),
        ("model", "split, warm grid, head pruned to the image", "split_warm_pruned",
         f"{n} heads, image output only; × the pruned monolithic graph"),
        ("model", "monolithic, 1 person × G", "mono_1xG", ""),
        ("model", "split, 1 person × G, person cached", "split_1xG_person_cached", f"{G} garment branches + {G} heads"),
        ("model", "monolithic, 2 sessions × 1 thread", "mono_2x1", "concurrent, half of the persons each"),
        ("model", "split, cold grid, 2 × 1 thread", "split_cold_2x1", "each encodes all garments + its persons"),
        ("model", "split, warm grid, 2 × 1 thread", "split_warm_2x1", ""),
        ("api", "ImageModelSession (images in/out)", "api_mono", f"B={batch}, both outputs"),
        ("api", "CatalogueSession.grid, cold", "api_split_cold", "both outputs"),
        ("api", "CatalogueSession.grid, warm", "api_split_warm", "both outputs"),
        ("api", "CatalogueSession.grid, warm, image only, full head", "api_split_warm_image_only_full_head",
         "pruned_heads=False"),
        ("api", "CatalogueSession.grid, warm, image only", "api_split_warm_image_only", "the default: pruned head"),
        ("api", "ImageModelSession, 1 person × G", "api_mono_1xG", ""),
        ("api", "CatalogueSession, 1 person × G, person cached", "api_split_1xG_person_cached", "both outputs"),
    ]

    def ref(level: str, name: str) -> str:  # the monolithic row the case compares with
        if "head pruned" in name:
            return "mono_pruned"
        if "× 1 thread" in name:
            return "mono_2x1"
        if "1 person" in name:
            return "mono_1xG" if level == "model" else "api_mono_1xG"
        return "mono_b1" if level == "model" else "api_mono"

    table = [{"level": lv, "case": name, "ms_per_pair": round(per[k], 3), "pairs_per_s": round(1000 / per[k], 2),
              "x_monolithic": round(per[ref(lv, name)] / per[k], 2), "ms_per_pair_min": round(best[k], 3),
              "x_monolithic_min": round(best[ref(lv, name)] / best[k], 2), "note": note} for lv, name, k, note in rows]
    return {
        "grid": [P, G], "resolution": [H, W], "threads": threads, "batch": batch, "rounds": rounds, "table": table,
        "graph_ms_b1": graph_ms,
        "speedup_min": {"cold_grid": round(best["mono_b1"] / best["split_cold"], 2),
                        "warm_grid": round(best["mono_b1"] / best["split_warm"], 2),
                        "cold_grid_2x1": round(best["mono_2x1"] / best["split_cold_2x1"], 2),
                        "warm_grid_2x1": round(best["mono_2x1"] / best["split_warm_2x1"], 2)},
        "speedup": {"cold_grid": round(per["mono_b1"] / per["split_cold"], 2), "warm_grid": round(per["mono_b1"] / per["split_warm"], 2),
                    "cold_grid_2x1": round(per["mono_2x1"] / per["split_cold_2x1"], 2),
                    "warm_grid_2x1": round(per["mono_2x1"] / per["split_warm_2x1"], 2),
                    "one_person_cached": round(per["mono_1xG"] / per["split_1xG_person_cached"], 2),
                    "api_cold_grid": round(per["api_mono"] / per["api_split_cold"], 2),
                    "api_warm_grid": round(per["api_mono"] / per["api_split_warm"], 2),
                    "api_one_person_cached": round(per["api_mono_1xG"] / per["api_split_1xG_person_cached"], 2)},
        "equality": {"api_identical_pairs": int(same), "pairs": n, "model_max_abs_error": raw_err,
                     "api_max_pixel_diff": max(int(d.max()) for d in diffs),
                     "api_differing_values": float(np.mean([float((d > 0).mean()) for d in diffs]))},
        "store": store,
        "raw_seconds": t_all,
    }


def bench_ray(export: Path, grids: list[tuple[int, int]], threads: int, rounds: int) -> dict[str, Any]:
    import ray
    from PIL import Image

    from tryon.batch import JobOptions, plan_job, run_job
    from tryon.runtime import read_manifest

    H, W = read_manifest(export)[1]["resolution"]
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - t0
    results = []
    root = Path(tempfile.mkdtemp(prefix="cat-ray-"))
    try:
        rng = np.random.default_rng(0)
        for P, G in [grids[0], *grids]:  # the first grid twice: its first pass warms Ray Data up (not reported)
            warmup = not results and not (root / "warm").exists()
            d = root / ("warm" if warmup else f"{P}x{G}")
            for who, n in (("persons", P), ("garments", G)):
                (d / who).mkdir(parents=True)
                for k in range(n):
                    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(d / who / f"{who[0]}{k}.png")
            times: dict[str, list[float]] = {"local": [], "ray": []}
            for r in range(1 if warmup else rounds):
                for engine in ("local", "ray"):
                    out = d / f"out-{engine}-{r}"
                    job = plan_job(export, d / "persons", d / "garments", out)
                    opts = JobOptions(engine=engine, workers=1, threads=threads, progress=False)
                    s = run_job(job, opts)
                    assert s["done"] == P * G, s
                    times[engine].append(s["seconds"])
            if warmup:
                continue
            same = all((d / "out-local-0" / "images" / f.name).read_bytes() == f.read_bytes()
                       for f in (d / "out-ray-0" / "images").iterdir())
            loc, ry = statistics.median(times["local"]), statistics.median(times["ray"])
            results.append({"grid": [P, G], "pairs": P * G, "local_s": round(loc, 3), "ray_s": round(ry, 3),
                            "overhead_pct": round(100 * (ry - loc) / loc, 1), "byte_identical": bool(same), "raw": times})
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    fixed = marginal = None
    if len(results) >= 2:  # overhead = fixed + marginal per pair, from the two grid sizes
        a, b = results[0], results[-1]
        da, db = a["ray_s"] - a["local_s"], b["ray_s"] - b["local_s"]
        marginal = (db - da) / (b["pairs"] - a["pairs"])
        fixed = da - marginal * a["pairs"]
    return {"ray": ray.__version__, "ray_init_s": round(init_s, 2), "threads": threads, "rounds": rounds, "runs": results,
            "overhead_fixed_s": None if fixed is None else round(fixed, 3),
            "overhead_per_pair_ms": None if marginal is None else round(marginal * 1000, 3)}


def bench_batch(export: Path, grid: tuple[int, int], threads: int, rounds: int) -> dict[str, Any]:
    """A whole ``tryon batch`` job (local engine, PNG files in and out) on a P × G grid with the split export
    (``CatalogueSession``) and with ``session="monolithic"`` (the whole graph per pair), interleaved rounds, in three
    layouts: 1 worker × ``threads`` intra-op threads, and one 1-thread worker per physical core as threads (the
    default) and as spawned processes."""
    from PIL import Image

    from tryon.batch import JobOptions, plan_job, run_job
    from tryon.runtime import read_manifest

    H, W = read_manifest(export)[1]["resolution"]
    P, G = grid
    root = Path(tempfile.mkdtemp(prefix="cat-batch-"))
    from tryon.hardware import physical_cores

    threads = threads or physical_cores()
    layouts = [(1, threads, "thread"), (physical_cores(), 1, "thread"), (physical_cores(), 1, "process")]

    def tag(w: int, t: int, kind: str) -> str:
        return f"{w}x{t}" + ("-process" if kind == "process" and w > 1 else "")

    times: dict[str, list[float]] = {f"{mode} {tag(*lay)}": [] for lay in layouts for mode in ("split", "monolithic")}
    try:
        rng = np.random.default_rng(1)
        for who, n in (("persons", P), ("garments", G)):
            (root / who).mkdir(parents=True)
            for k in range(n):
                Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(root / who / f"{who[0]}{k}.png")
        for r in range(rounds):
            for w, t, kind in layouts:
                for mode in ("split", "monolithic"):
                    out = root / f"out-{mode}-{tag(w, t, kind)}-{r}"
                    s = run_job(plan_job(export, root / "persons", root / "garments", out),
                                JobOptions(engine="local", workers=w, worker_kind=kind, threads=t, progress=False,
                                           session="catalogue" if mode == "split" else "monolithic"),
                                log=lambda _: None)
                    assert s["done"] == P * G, s
                    times[f"{mode} {tag(w, t, kind)}"].append(s["seconds"])
        first = tag(*layouts[0])
        same = all((root / f"out-split-{first}-0" / "images" / f.name).read_bytes() == f.read_bytes()
                   for f in (root / f"out-monolithic-{first}-0" / "images").iterdir())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [{"workers": w, "threads": t, "kind": kind, "split_s": round(med[f"split {tag(w, t, kind)}"], 3),
             "monolithic_s": round(med[f"monolithic {tag(w, t, kind)}"], 3),
             "speedup": round(med[f"monolithic {tag(w, t, kind)}"] / med[f"split {tag(w, t, kind)}"], 2),
             "speedup_min": round(min(times[f"monolithic {tag(w, t, kind)}"]) / min(times[f"split {tag(w, t, kind)}"]), 2)}
            for w, t, kind in layouts]
    return {"grid": [P, G], "pairs": P * G, "rounds": rounds, "seconds": times, "rows": rows, "byte_identical": bool(same)}


NAME = "catalogue"
BUDGETS = {
    "tiny": {"size": "64x48", "persons": 2, "garments": 2, "rounds": 1, "ray_grids": "2x2,3x3", "ray_rounds": 1,
             "batch_grid": "2x3", "batch_rounds": 1},
    "default": {"size": "256x192", "persons": 8, "garments": 8, "rounds": 5, "ray_grids": "4x4,12x12", "ray_rounds": 2,
                "batch_grid": "12x12", "batch_rounds": 3},
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--size", default=None, help="HxW of the exported student (budget: 256x192)")
    ap.add_argument("--persons", type=int, default=None, help="budget: 8")
    ap.add_argument("--garments", type=int, default=None, help="budget: 8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="items per branch/head run and per API call (default 1)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (budget: 5)")
    ap.add_argument("--export", default=None, help="reuse a split export folder (default: export random weights)")
    ap.add_argument("--no-phase-split", dest="phase_split", action="store_false",
                    help="export the transposed convolutions as traced (the before of the export's phase split)")
    ap.add_argument("--ray", action="store_true", help="also measure --engine ray vs local")
    ap.add_argument("--ray-grids", default=None, help="budget: 4x4,12x12")
    ap.add_argument("--ray-rounds", type=int, default=None, help="budget: 2")


def compute(study: Study, args: argparse.Namespace) -> None:
    from tryon.cli import parse_size

    s = study.settings(args)
    size = parse_size(s["size"])
    result = study.results
    result["settings"] = {**s, "threads": args.threads, "batch": args.batch, "ray": bool(args.ray)}
    export = Path(args.export) if args.export else study.out / "runs" / f"wuton-student-split-{size[0]}x{size[1]}"
    with study.section("export"):
        if args.export:
            from tryon.runtime import read_manifest

            m = read_manifest(export)[1]
        else:
            m = export_student(export, size, args.phase_split)
    result["export"] = {"dir": str(export), "phase_split": m["models"]["fp32"].get("phase_split", []),
                        "seconds": m.get("_export_seconds"), "resolution": m["resolution"],
                        "split_parity": m["split"]["vs_model"]["max_abs_error"],  # the chained graphs vs model.onnx
                        "split_parity_vs_torch": m["split"]["parity"]["max_abs_error"],
                        "fp16_features": m["split"]["fp16_features"]["max_abs_error"],
                        "graph_bytes": {g["name"]: g["bytes"] for g in m["graphs"]}, "model_bytes": m["models"]["fp32"]["bytes"]}
    with study.section("grid"):
        result["catalogue"] = bench_grid(export, s["persons"], s["garments"], args.threads, s["rounds"], args.batch)
    with study.section("tryon batch"):
        result["batch_job"] = bench_batch(export, parse_size(s["batch_grid"], minimum=1), args.threads, s["batch_rounds"])
    if args.ray:
        grids = [parse_size(t, minimum=1) for t in s["ray_grids"].split(",")]
        with study.section("ray"):
            result["ray"] = bench_ray(export, grids, args.threads, s["ray_rounds"])
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    c = results["catalogue"]
    lines = [f"S-WUTON catalogue, {c['grid'][0]}x{c['grid'][1]} grid at {c['resolution'][0]}x{c['resolution'][1]}, "
             f"ORT CPU {c['threads']} threads, median of {c['rounds']} rounds; {machine_summary(results)}; "
             f"load at the end {results['load_average_end']}", ""]
    cols = ["level", "case", "ms / pair", "pairs/s", "× monolithic", "min ms", "× (min)", "note"]
    lines += [markdown_table(cols, [[r["level"], r["case"], f"{r['ms_per_pair']:.2f}", f"{r['pairs_per_s']:.1f}",
                                     f"{r['x_monolithic']:.2f}", f"{r['ms_per_pair_min']:.2f}", f"{r['x_monolithic_min']:.2f}",
                                     r["note"]] for r in c["table"]]), ""]
    lines.append("One call at B=1, ms (median / min): " + ", ".join(
        f"{k.removeprefix('graph_')} {v['median']:.2f} / {v['min']:.2f}" for k, v in c["graph_ms_b1"].items()))
    bj = results.get("batch_job")
    if bj:
        lines += ["", f"Whole `tryon batch` job, {bj['grid'][0]}x{bj['grid'][1]} PNG grid, local engine, median of "
                  f"{bj['rounds']} interleaved rounds (split and monolithic images byte-identical: {bj['byte_identical']}):", ""]
        # results written before worker threads existed have no "kind": their workers were spawned processes
        lines += [markdown_table(["workers × threads", "split s", "monolithic s", "× monolithic", "× (min)"],
                                 [[f"{r['workers']} × {r['threads']}"
                                   + (f" ({'threads' if r['kind'] == 'thread' else 'processes'})"
                                      if "kind" in r and r["workers"] > 1 else ""),
                                   f"{r['split_s']:.2f}", f"{r['monolithic_s']:.2f}",
                                   f"{r['speedup']:.2f}", f"{r['speedup_min']:.2f}"] for r in bj["rows"]]), ""]
    e, st = c["equality"], c["store"]
    differ = (f" (the others differ by at most {e['api_max_pixel_diff']} level in {100 * e['api_differing_values']:.4f} % of "
              "the values)" if "api_max_pixel_diff" in e and e["api_identical_pairs"] < e["pairs"] else "")
    lines.append(f"Identical output images: {e['api_identical_pairs']}/{e['pairs']}{differ}; model-level max abs diff "
                 f"{e['model_max_abs_error']:.2e}")
    mib = {k: st[k]["bytes_per_garment"] / 2**20 for k in ("float32", "float16")}
    pmib = {k: st[k]["bytes_per_person"] / 2**20 for k in ("float32", "float16")}
    lines.append(f"Store per person: fp32 {pmib['float32']:.2f} MiB, fp16 {pmib['float16']:.2f} MiB")
    lines.append(f"Store per garment: fp32 {mib['float32']:.2f} MiB, fp16 {mib['float16']:.2f} MiB; fp16 store error: "
                 f"max abs {st['float16']['max_abs_error_vs_fp32']:.2e}, uint8 max diff {st['float16']['uint8_max_diff']}")
    if "ray" in results:
        r = results["ray"]
        lines += ["", f"Ray {r['ray']}: init {r['ray_init_s']} s (not counted below)", ""]
        lines += [f"- {run['grid'][0]}x{run['grid'][1]}: local {run['local_s']:.2f} s, ray {run['ray_s']:.2f} s, "
                  f"overhead {run['overhead_pct']:+.1f} %, byte-identical {run['byte_identical']}" for run in r["runs"]]
        lines.append(f"- overhead ≈ {r['overhead_fixed_s']} s fixed + {r['overhead_per_pair_ms']} ms per pair")
    return "\n".join(lines) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-catalogue")


if __name__ == "__main__":
    sys.exit(main())
