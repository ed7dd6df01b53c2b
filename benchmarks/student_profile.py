"""Where the S-WUTON student's ORT fp32 time goes: the per-op table behind ``tryon bench``'s efficiency figure.

    .venv/bin/python benchmarks/student_profile.py --out docs/results/student-profile [--budget tiny] [--threads 2]

The student (random weights: the time does not depend on them) is exported as ``tryon export wuton-student``
does (its 4×4 stride-2 transposed convolutions split into phase convolutions for onnxruntime) and once more with
``phase_split=False`` (the layers as traced), at batch 1, and opened as the deploy wing opens every session
(``open_ort_session``: ``ORT_ENABLE_ALL``, sequential, ``threads`` intra-op threads). Its p50 latency and the
reference convolution chain's (``tryon.macs.REFERENCE_CONV``) are timed in interleaved rounds; efficiency = the
student's GMAC/s ÷ the reference's (App. E architecture unchanged). Then one profiled session gives the kernel time
per op type and per node of the optimised graph, and the GMAC/s of the convolutions alone. Every variant in
``VARIANTS`` is timed in the same interleaved rounds as the default and the reference (the table before/after of
a change); each transposed-conv shape is also timed alone, as traced and split. Writes ``results.json`` and
``table.md``; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "student-profile"
BUDGETS = {
    "tiny": {"size": "64x48", "rounds": 2, "iters": 3, "profile_runs": 3, "threads": 1},
    "default": {"size": "256x192", "rounds": 12, "iters": 10, "profile_runs": 40, "threads": 0},
}
GOAL = 0.85
#: op types of the optimised graph that carry the convolutions' arithmetic (NCHWc and fused forms included)
CONV_OPS = ("Conv", "FusedConv", "ConvTranspose", "NchwcConv")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (budget: 0 = physical cores)")
    ap.add_argument("--size", default=None, help="student resolution HxW (budget: 256x192)")


def _feeds(session: Any, seed: int = 0) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {i.name: rng.uniform(-1, 1, [1 if not isinstance(d, int) else d for d in i.shape]).astype(np.float32)
            for i in session.get_inputs()}


def _interleaved(sessions: dict[str, Any], rounds: int, iters: int, feeds: dict[str, Any] | None = None) -> dict[str, float]:
    """p50 ms per run of each session, timed in alternating rounds (``tryon.bench.timing.interleaved``); ``feeds``
    per session name, else random inputs of the session's shapes."""
    from tryon.bench.timing import interleaved

    feeds = feeds or {k: _feeds(s) for k, s in sessions.items()}
    cases = {k: (lambda s=s, f=feeds[k]: s.run(None, f)) for k, s in sessions.items()}
    return {k: statistics.median(v) * 1e3 for k, v in interleaved(cases, rounds, calls=iters, warmup=3).items()}


def _profile(model: Path, threads: int, runs: int, options: dict[str, Any]) -> dict[str, Any]:
    from tryon.deploy.profiling import op_times_from_trace
    from tryon.deploy.sessions import open_ort_session

    with tempfile.TemporaryDirectory(prefix="tryon-student-profile-") as tmp:
        sess = open_ort_session(model, ["CPUExecutionProvider"], intra_op_threads=threads,
                                profile_prefix=str(Path(tmp) / "p"), **options)
        feeds = _feeds(sess)
        for _ in range(3):
            sess.run(None, feeds)
        for _ in range(runs):
            sess.run(None, feeds)
        events = json.loads(Path(sess.end_profiling()).read_text())
    return op_times_from_trace(events, skip_runs=3)


def _conv_shapes(model: Path) -> list[dict[str, Any]]:
    """The graph's Conv/ConvTranspose layers (batch 1) grouped by shape, with their count."""
    from tryon.macs import conv_layers

    groups: dict[tuple, dict[str, Any]] = {}
    for layer in conv_layers(model, batch=1):
        key = (layer["op"], tuple(layer["input"]), tuple(layer["weight"]), tuple(layer["strides"]), tuple(layer["pads"]),
               layer["group"], layer["bias"])
        g = groups.setdefault(key, {k: v for k, v in layer.items() if k != "name"} | {"count": 0})
        g["count"] += 1
    return list(groups.values())


def _one_conv_model(g: dict[str, Any]) -> Any:
    """A one-node ONNX graph of conv shape ``g`` (random weights)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = (rng.standard_normal(g["weight"]) * 0.05).astype(np.float32)
    c_out = g["weight"][1] * g["group"] if g["op"] == "ConvTranspose" else g["weight"][0]
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(np.zeros(c_out, np.float32), "b")] if g["bias"] else [])
    node = helper.make_node(g["op"], ["x", "w"] + (["b"] if g["bias"] else []), ["y"], strides=g["strides"], pads=g["pads"],
                            kernel_shape=list(g["weight"][2:]), group=g["group"])
    graph = helper.make_graph([node], "one_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, g["input"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _isolated_convs(model: Path, threads: int, rounds: int, iters: int, folder: Path) -> list[dict[str, Any]]:
    """Each conv shape of the student alone in a one-node graph: what ORT's kernel reaches for that shape."""
    import onnx

    from tryon.deploy.sessions import open_ort_session

    rows = []
    for i, g in enumerate(_conv_shapes(model)):
        path = folder / f"conv-{i}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(_one_conv_model(g), str(path))
        ms = _interleaved({"c": open_ort_session(path, ["CPUExecutionProvider"], intra_op_threads=threads)}, rounds, iters)["c"]
        rows.append({**g, "ms": ms, "gmac_per_s": g["macs"] / ms / 1e6})
    return sorted(rows, key=lambda r: -r["ms"] * r["count"])


def _phase_split_shapes(model: Path, split_model: Path, threads: int, rounds: int, iters: int,
                        folder: Path) -> list[dict[str, Any]]:
    """Each transposed-conv shape of the traced student (``model``) alone in a one-node graph, timed as it is and as
    the export's phase split (``tryon.deploy.phase_split``, forced at every size): the per-layer view beside the
    whole-graph timings that set ``PHASE_MIN_INPUT_PIXELS``. ``split_in_export``: no transposed conv of that shape
    is left in ``split_model`` (the export keeps the ones it cannot split exactly, e.g. with an output padding at an
    odd width)."""
    import copy

    import numpy as np
    import onnx

    from tryon.deploy.phase_split import split_transposed_convs
    from tryon.deploy.sessions import open_ort_session

    left = {(tuple(c["input"]), tuple(c["weight"])) for c in _conv_shapes(split_model) if c["op"] == "ConvTranspose"}
    rows = []
    for i, g in enumerate(c for c in _conv_shapes(model) if c["op"] == "ConvTranspose"):
        convt = _one_conv_model(g)
        split = copy.deepcopy(convt)
        if not split_transposed_convs(split, min_input_pixels=0):
            continue
        sessions = {}
        for name, m in (("convt", convt), ("split", split)):
            path = folder / f"{name}-{i}.onnx"
            path.parent.mkdir(parents=True, exist_ok=True)
            onnx.save(m, str(path))
            sessions[name] = open_ort_session(path, ["CPUExecutionProvider"], intra_op_threads=threads)
        feeds = _feeds(sessions["convt"])
        diff = float(np.abs(sessions["convt"].run(None, feeds)[0] - sessions["split"].run(None, feeds)[0]).max())
        ms = _interleaved(sessions, rounds, iters)
        rows.append({"input": g["input"], "weight": g["weight"], "count": g["count"], "convt_ms": ms["convt"],
                     "split_ms": ms["split"], "max_abs_diff": diff,
                     "split_in_export": (tuple(g["input"]), tuple(g["weight"])) not in left})
    return rows


def _other_engines(model: Path, traced: Path, ref_model: Path, ort_model: Any, ort_ref: Any, macs: int, ref_macs: int,
                   threads: int, s: dict[str, Any]) -> list[dict[str, Any]]:
    """The same fp32 export on the deploy wing's other CPU engine (OpenVINO, ``backend="openvino"``, when installed),
    timed in interleaved rounds beside ORT's sessions of the model and the reference (``ort_model``, ``ort_ref``): its
    efficiency against its own reference and against ORT's, and its largest difference from ORT's output. OpenVINO
    also runs the export written with ``phase_split=False`` (``traced``) in the same rounds: the session joins the
    split layers back on read, so the two should take the same time."""
    import numpy as np

    from tryon.deploy.openvino import OpenVINOSession

    try:
        ov = {"ov": OpenVINOSession(model, "fp32", threads), "ov_traced": OpenVINOSession(traced, "fp32", threads),
              "ov_ref": OpenVINOSession(ref_model, "fp32", threads)}
        ov["ov"].compiled(1)
    except Exception as exc:  # noqa: BLE001 - the extra is optional; the row says why it is missing
        return [{"engine": "openvino", "skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}]
    feeds, ref_feeds = _feeds(ort_model), _feeds(ort_ref)
    want = ort_model.run(None, feeds)
    diff = {k: max(float(np.abs(a - b).max()) for a, b in zip(want, ov[k].run(None, feeds))) for k in ("ov", "ov_traced")}
    p50 = _interleaved({"ort": ort_model, "ort_ref": ort_ref, **ov}, s["rounds"], s["iters"],
                       feeds={"ort": feeds, "ov": feeds, "ov_traced": feeds, "ort_ref": ref_feeds, "ov_ref": ref_feeds})
    rate = {k: (ref_macs if k.endswith("_ref") else macs) / v / 1e6 for k, v in p50.items()}
    own_ref = {"ort": "ort_ref", "ov": "ov_ref", "ov_traced": "ov_ref"}
    return [{"engine": engine, "p50_ms": p50[k], "gmac_per_s": rate[k], "ref_gmac_per_s": rate[own_ref[k]],
             "efficiency": rate[k] / rate[own_ref[k]], "efficiency_vs_ort_reference": rate[k] / rate["ort_ref"],
             "max_abs_vs_ort": diff.get(k, 0.0)}
            for engine, k in (("onnxruntime", "ort"), ("openvino", "ov"),
                              ("openvino, export with phase_split=False", "ov_traced"))]


#: variants timed in the same interleaved rounds as the reference: (name, graph — "split" = the export as written, transposed convs split
#: for onnxruntime; "convt" = ``phase_split=False``, the layers as traced — and ``open_ort_session`` options)
VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (("default", "split", {}), ("ConvTranspose as traced", "convt", {}))


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon import hardware
    from tryon.deploy.sessions import open_ort_session
    from tryon.export import export_onnx
    from tryon.macs import REFERENCE_CONV, count_macs, write_reference_conv
    from tryon_wuton.training.config import parse_size

    s = study.settings(args)
    threads = int(s["threads"]) or hardware.physical_cores()
    size = parse_size(s["size"])
    torch.manual_seed(0)
    student = tryon.load("wuton-student", device="cpu", size=list(size))
    spec = next(e for e in tryon.get_task("wuton-student").exportable if e.name == "student")
    exports = {}
    for name, phase_split in (("export", True), ("export-convt", False)):
        export_dir = study.out / "runs" / name
        with study.section(name):
            manifest = export_onnx(student, spec, export_dir, opset=17, phase_split=phase_split)
        exports[name] = export_dir / manifest["models"]["fp32"]["file"]
    model, traced = exports["export"], exports["export-convt"]
    ref_model = write_reference_conv(study.out / "runs" / "reference-conv" / "model.onnx", depth=REFERENCE_CONV["depth"])
    macs = count_macs(traced, batch=1)  # the architecture's arithmetic (the phase split computes the same products)
    ref_macs = count_macs(ref_model, batch=1)["macs"]
    rows = []
    paths = {name: traced if graph == "convt" else model for name, graph, _ in VARIANTS}
    with study.section("time"):  # every variant and the reference in the same interleaved rounds
        sessions = {name: open_ort_session(paths[name], ["CPUExecutionProvider"], intra_op_threads=threads, **options)
                    for name, _, options in VARIANTS}
        sessions["reference"] = open_ort_session(ref_model, ["CPUExecutionProvider"], intra_op_threads=threads)
        p50 = _interleaved(sessions, s["rounds"], s["iters"])
    # the deploy wing's export and session options: the ORT side of the engines below
    ort_default = {"model": sessions["default"], "reference": sessions["reference"]}
    ref_rate = ref_macs / p50["reference"] / 1e6
    for name, graph, options in VARIANTS:
        with study.section(f"profile {name}"):
            prof = _profile(paths[name], threads, s["profile_runs"], options)
        conv_ms = sum(v["ms"] for op, v in prof["by_op"].items() if op in CONV_OPS)
        model_rate = macs["macs"] / p50[name] / 1e6
        rows.append({"variant": name, "graph": graph, "options": options, "p50_ms": p50[name],
                     "reference_p50_ms": p50["reference"],
                     "gmac_per_s": model_rate, "ref_gmac_per_s": ref_rate, "efficiency": model_rate / ref_rate,
                     "kernel_ms": prof["kernel_ms"], "conv_ms": conv_ms,
                     "conv_gmac_per_s": macs["macs"] / conv_ms / 1e6 if conv_ms else None,
                     "by_op": prof["by_op"], "top_nodes": dict(list(prof["nodes"].items())[:15])})
    with study.section("isolated convolutions"):
        convs = _isolated_convs(model, threads, s["rounds"], s["iters"], study.out / "runs" / "one-conv")
    with study.section("transposed convs split"):
        study.results["phase_split_shapes"] = _phase_split_shapes(traced, model, threads, s["rounds"], s["iters"],
                                                                  study.out / "runs" / "phase-split")
    with study.section("engines"):
        study.results["engines"] = _other_engines(model, traced, ref_model, ort_default["model"], ort_default["reference"],
                                                  macs["macs"], ref_macs, threads, s)
    alone_ms = sum(r["ms"] * r["count"] for r in convs)
    ref_rate = rows[0]["ref_gmac_per_s"]
    study.results["isolated_convs"] = {
        "rows": convs, "ms": alone_ms,
        # the efficiency the student would reach if every conv ran as fast as it does alone and nothing else took time
        "conv_bound_efficiency": sum(r["macs"] * r["count"] for r in convs) / alone_ms / 1e6 / ref_rate}
    study.results.update({"settings": {**s, "threads": threads, "cpu_class": hardware.cpu_class()},
                          "macs": macs, "reference_macs": ref_macs, "rows": rows,
                          "goal": f"efficiency >= {GOAL} (student GMAC/s / reference GMAC/s, same backend and threads)"})


def render(out: Path, results: dict[str, Any]) -> str:
    cls = results["settings"]["cpu_class"]
    m = results["macs"]
    md = [f"# Student ORT fp32 profile ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}", "",
          f"Student {results['settings']['size']}, batch 1, {results['settings']['threads']} intra-op thread(s); "
          f"{m['gmac']:.3f} GMAC per call (" + ", ".join(f"{k} {v / 1e9:.3f}" for k, v in m["by_op"].items()) + "). "
          f"Goal: {results['goal']}.", "",
          "| CPU class | variant | p50 ms | GMAC/s | reference GMAC/s | efficiency | kernel ms | conv ms | conv GMAC/s |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {cls} | {r['variant']} | {r['p50_ms']:.2f} | {r['gmac_per_s']:.1f} | {r['ref_gmac_per_s']:.1f} | "
           f"**{r['efficiency']:.2f}** | {r['kernel_ms']:.2f} | {r['conv_ms']:.2f} | {r['conv_gmac_per_s'] or 0:.1f} |"
           for r in results["rows"]]
    engines = results.get("engines") or []
    if engines:
        md += ["", "The same fp32 export on each CPU engine of the deploy wing, interleaved in one run (efficiency against "
               "each engine's own reference and against ORT's; max |Δ| vs ORT's output, images in [−1, 1]):", "",
               "| CPU class | engine | p50 ms | GMAC/s | reference GMAC/s | efficiency | vs ORT reference | max abs vs ORT |",
               "|---|---|---:|---:|---:|---:|---:|---:|"]
        md += [f"| {cls} | {e['engine']} | skipped: {e['skipped']} | | | | | |" if "skipped" in e else
               f"| {cls} | {e['engine']} | {e['p50_ms']:.2f} | {e['gmac_per_s']:.1f} | {e['ref_gmac_per_s']:.1f} | "
               f"**{e['efficiency']:.2f}** | {e['efficiency_vs_ort_reference']:.2f} | {e['max_abs_vs_ort']:.1e} |"
               for e in engines]
    iso = results["isolated_convs"]
    md += ["", f"Each convolution shape alone (one-node graph, same session options): {iso['ms']:.2f} ms for all "
           f"{sum(r['count'] for r in iso['rows'])} convolutions; if they ran that fast in the graph and nothing else took "
           f"time, efficiency would be **{iso['conv_bound_efficiency']:.2f}** — the bound the shapes set.", "",
           "| op | input | weight | stride | count | MMAC each | ms each | GMAC/s |", "|---|---|---|---:|---:|---:|---:|---:|"]
    md += [f"| {r['op']} | {'×'.join(map(str, r['input'][1:]))} | {'×'.join(map(str, r['weight']))} | {r['strides'][0]} | "
           f"{r['count']} | {r['macs'] / 1e6:.1f} | {r['ms']:.3f} | {r['gmac_per_s']:.0f} |" for r in iso["rows"][:12]]
    pc = results.get("phase_conv_rewrite") or []
    if pc:
        md += ["", "Each 4×4 stride-2 transposed convolution alone, as it is and rewritten exactly as a 3×3 convolution to "
               "4·C phase channels + DepthToSpace:", "",
               "| input | weight | count | ConvTranspose ms | Conv + DepthToSpace ms | saved ms (all of that shape) | max abs diff |",
               "|---|---|---:|---:|---:|---:|---:|"]
        md += [f"| {'×'.join(map(str, r['input'][1:]))} | {'×'.join(map(str, r['weight']))} | {r['count']} | "
               f"{r['convt_ms']:.3f} | {r['phased_ms']:.3f} | {(r['convt_ms'] - r['phased_ms']) * r['count']:+.3f} | "
               f"{r['max_abs_diff']:.1e} |" for r in pc]
    ps = results.get("phase_split_shapes") or []
    if ps:
        md += ["", "Each 4×4 stride-2 transposed convolution of the traced student alone, as it is and split into four 2×2 "
               "phase convolutions + interleave (`tryon.deploy.phase_split`, forced at every size; the export splits "
               "the shapes marked):", "",
               "| input | weight | count | ConvTranspose ms | phase split ms | saved ms (all of that shape) | max abs diff "
               "| split in the export |", "|---|---|---:|---:|---:|---:|---:|---|"]
        md += [f"| {'×'.join(map(str, r['input'][1:]))} | {'×'.join(map(str, r['weight']))} | {r['count']} | "
               f"{r['convt_ms']:.3f} | {r['split_ms']:.3f} | {(r['convt_ms'] - r['split_ms']) * r['count']:+.3f} | "
               f"{r['max_abs_diff']:.1e} | {'yes' if r['split_in_export'] else 'no'} |" for r in ps]
    for r in results["rows"]:
        md += ["", f"Per op type, variant {r['variant']} (kernel time per run, optimised graph):", "",
               "| op | nodes | ms | share |", "|---|---:|---:|---:|"]
        md += [f"| {op} | {v['nodes']} | {v['ms']:.3f} | {100 * v['share']:.1f} % |" for op, v in r["by_op"].items()]
        md += ["", "| slowest nodes | op | ms |", "|---|---|---:|"]
        md += [f"| `{n[:70]}` | {v['op']} | {v['ms']:.3f} |" for n, v in r["top_nodes"].items()]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments,
              default_out="runs/student-profile")


if __name__ == "__main__":
    sys.exit(main())
