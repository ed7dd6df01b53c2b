"""Video try-on end to end (decode → result → encode per frame) with the S-WUTON split export, and its flicker.

``tryon video``'s runtime (:func:`tryon.deploy.video.run_video`) on a synthetic clip (:mod:`tryon_wuton.data.clips`:
the synthetic person swaying, bobbing, turning and swinging the arms, with the ground truth wearing the target
garment) at the budget's size, onnxruntime with ``--threads`` intra-op threads and spinning off (the runtime's default;
plain inference is also timed with spinning on and with the other thread count):

* **speed** — FPS over the whole frame loop and the mean / p50 / p95 ms of each stage (decode, prepare, person
  branch, remedy, pair head, restore, encode); the garment branch once per video, timed apart. The export has
  **random weights** (``torch.manual_seed(0)``; nothing is trained): speed does not depend on the weights. The load
  average of the machine is recorded before and after each run (other jobs on a shared machine slow every stage);
* **flicker** (:func:`tryon.metrics.flicker`: warping error under the input clip's DIS flow) of plain per-frame
  inference and of each remedy (``ema:A``, ``flow:B``), with the change each remedy makes to the plain output; the
  input clip's and the ground truth's own flicker are the floor a perfect try-on would reach (flow and codec error).
  With random weights the outputs are not try-ons, so these rows measure how much each remedy steadies *this
  network's* frame-to-frame changes — not quality;
* **remedy against ground truth** (no network) — the ground-truth clip with a per-frame, temporally independent
  perturbation (brightness jitter + noise, a stand-in for a flickering try-on), then the ``flow`` remedy: flicker and
  mean |output − ground truth|, i.e. what the blend removes; and the remedy on the clean ground truth: what it smears
  when the person moves (a perfect try-on can only lose).

A study (:mod:`tryon.study`): ``results.json``, then ``table.md``::

    .venv/bin/python benchmarks/video_fps.py --out docs/results/video-fps            # default: 256x192, 2 threads
    .venv/bin/python benchmarks/video_fps.py --out runs/video --export exports/wuton-student --weights-note "run X"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tryon.study import script

NAME = "video-fps"
BUDGETS = {
    "tiny": {"size": "64x48", "frames": 6, "warmup": 2, "threads": 1, "repeats": 1, "smooth": "none,ema:0.5,flow:0.5",
             "sim_weights": "0.5"},
    "default": {"size": "256x192", "frames": 96, "warmup": 8, "threads": 2, "repeats": 3,
                "smooth": "none,ema:0.3,ema:0.5,ema:0.7,flow:0.3,flow:0.5,flow:0.7", "sim_weights": "0.3,0.5,0.7"},
}
#: the stand-in for a flickering try-on: per frame, a brightness offset per channel (uniform ±JITTER levels) and
#: Gaussian noise (σ NOISE levels), independent from frame to frame
JITTER, NOISE = 6.0, 3.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--size", default=None, help="clip and model size HxW (budget: 256x192)")
    ap.add_argument("--frames", type=int, default=None, help="frames timed per run (budget: 96)")
    ap.add_argument("--warmup", type=int, default=None, help="frames run once before timing (budget: 8)")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (budget: 2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per configuration, rotated order (budget: 3)")
    ap.add_argument("--smooth", default=None, help="remedies compared, comma-separated (budget: none,ema:0.5,...)")
    ap.add_argument("--sim-weights", default=None, help="flow remedy weights in the ground-truth simulation")
    ap.add_argument("--export", default=None, help="a split S-WUTON export (default: random weights exported here)")
    ap.add_argument("--weights-note", default=None, help="what the --export's weights are (recorded)")
    ap.add_argument("--providers", default=None,
                    help="onnxruntime execution providers, comma-separated (default cpu; benchmarks/gpu.sh: cuda)")


def _size(text: str) -> tuple[int, int]:
    h, w = (int(v) for v in str(text).lower().split("x"))
    return h, w


def _export_random(out: Path, size: tuple[int, int]) -> Path:
    import torch

    import tryon
    from tryon.export import export_onnx

    torch.manual_seed(0)
    pipe = tryon.load("wuton-student", device="cpu", size=list(size)).eval()
    export_onnx(pipe, "student", out, opset=17, parity_batches=(1,), split=True)
    return out


def _mean_abs(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x.astype(np.float32) - y.astype(np.float32)).mean() / 255.0 for x, y in zip(a, b)]))


def _read_pngs(folder: Path, n: int) -> list[np.ndarray]:
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))[:n]]


def _summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration over its repeats: the run with the median FPS, plus every repeat's FPS and load."""
    order = sorted(range(len(reps)), key=lambda k: reps[k]["fps"])
    out = dict(reps[order[len(order) // 2]])
    out["fps_repeats"] = [r["fps"] for r in reps]
    out["loadavg_repeats"] = [r["loadavg_before"][0] for r in reps]
    return out


def simulate(gt: list[np.ndarray], inputs: list[np.ndarray], weights: list[float], seed: int = 0) -> list[dict[str, Any]]:
    """The ground truth with temporally independent perturbations, plain and through :class:`FlowBlend`."""
    from tryon.deploy.video import FlowBlend
    from tryon.metrics.flicker import flicker

    rng = np.random.default_rng(seed)
    noisy = []
    for f in gt:
        off = rng.uniform(-JITTER, JITTER, 3).astype(np.float32)
        n = rng.normal(0.0, NOISE, f.shape).astype(np.float32)
        noisy.append(np.clip(f.astype(np.float32) + off + n + 0.5, 0, 255).astype(np.uint8))
    rows = [{"remedy": "ground truth", "flicker": flicker(inputs, gt), "abs_vs_gt": 0.0},
            {"remedy": "perturbed (plain)", "flicker": flicker(inputs, noisy), "abs_vs_gt": _mean_abs(noisy, gt)}]
    for w in weights:
        for name, frames in (("perturbed", noisy), ("ground truth", gt)):  # the second: what the blend smears
            blend = FlowBlend(w)
            out = [blend(i, o) for i, o in zip(inputs, frames)]
            rows.append({"remedy": f"{name} + flow:{w:g}", "flicker": flicker(inputs, out), "abs_vs_gt": _mean_abs(out, gt)})
    return rows


def compute(study: Any, args: argparse.Namespace) -> None:
    from tryon.deploy.video import run_video, video_session
    from tryon.metrics.flicker import protocol, warping_errors
    from tryon_wuton.data.clips import ClipConfig, write_clip

    s = study.settings(args)
    size = _size(s["size"])
    frames, warmup, threads, repeats = int(s["frames"]), int(s["warmup"]), int(s["threads"]), int(s["repeats"])
    smooths = [x.strip() for x in str(s["smooth"]).split(",") if x.strip()]
    with tempfile.TemporaryDirectory(prefix="video-fps-") as tmp_s:
        tmp = Path(tmp_s)
        with study.section("clip"):
            cfg = ClipConfig(frames=frames, size=size, period=48.0, sway=size[1] / 16, bob=size[0] / 128, rotation=3.0,
                             arms=12.0)
            clip_rec = write_clip(tmp / "clip", cfg)
        clip = tmp / "clip"
        if args.export:
            export, weights = Path(args.export), args.weights_note or f"given export {args.export}"
        else:
            with study.section("export"):
                export = _export_random(tmp / "export", size)
            weights = "random (torch.manual_seed(0)): speed only; outputs are not try-ons"
        # every remedy on the runtime's default session (``threads``, spinning off); plain inference also with
        # onnxruntime's spinning on, and with the other thread count (1 ↔ 2)
        other = 1 if threads != 1 else 2
        plan = [(smooths[0], threads, False), (smooths[0], threads, True), (smooths[0], other, False),
                *[(x, threads, False) for x in smooths[1:]]]
        sessions = {(t, spin): video_session(export, threads=t, spinning=spin, providers=args.providers) for _, t, spin in plan}
        with study.section("warmup"):  # onnxruntime's first runs allocate; time only warm sessions
            warm = {key: run_video(None, clip / "garment.png", clip / "clip.mp4", tmp / "warm.mp4", session=sess,
                                   max_frames=warmup) for key, sess in sessions.items()}
        gt = _read_pngs(clip / "gt", frames)
        reps: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(plan))}
        got: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        # repeats in a rotated order: a machine whose load changes during the study slows no configuration alone
        for rep in range(repeats):
            for i in [(k + rep) % len(plan) for k in range(len(plan))]:
                sm, t, spin = plan[i]
                ins: list[np.ndarray] = []
                outs: list[np.ndarray] = []
                load0 = os.getloadavg()
                with study.section(f"run/{sm}/{t}t" + ("/spin" if spin else "")):
                    r = run_video(None, clip / "garment.png", clip / "clip.mp4", tmp / "out.mp4", session=sessions[t, spin],
                                  smooth=sm, on_frame=(lambda a, b, i=ins, o=outs: (i.append(a), o.append(b))) if rep == 0 else None)
                r["loadavg_before"], r["loadavg_after"] = [round(v, 2) for v in load0], [round(v, 2) for v in os.getloadavg()]
                reps[i].append({k: v for k, v in r.items() if k not in ("out", "input")})
                if rep == 0:
                    got[i] = (ins, outs)
        runs = []
        inputs, plain = got[0]
        for i, (_, t, spin) in enumerate(plan):
            r = _summarise(reps[i])
            if (t, spin) == (threads, False):  # the others give the same outputs (same graphs, same inputs): speed only
                ins, outs = got[i]
                w = warping_errors(ins, outs)
                r.update({"flicker": w["flicker"], "coverage": float(np.mean(w["coverage"])),
                          "abs_vs_plain": _mean_abs(outs, plain), "abs_vs_gt": _mean_abs(outs, gt)})
            else:
                r["flicker"] = None
            runs.append(r)
        with study.section("references"):
            refs = {"input clip (decoded)": warping_errors(inputs, inputs)["flicker"],
                    "ground truth (PNG)": warping_errors(inputs, gt)["flicker"]}
            sim = simulate(gt, inputs, [float(x) for x in str(s["sim_weights"]).split(",")])
    study.results.update({
        "benchmark": "video_fps", "settings": s, "weights": weights, "clip": {k: clip_rec[k] for k in ("config", "size", "frames", "fps")},
        "runs": runs, "flicker_references": refs, "simulation": {"jitter": JITTER, "noise": NOISE, "rows": sim},
        "flicker_protocol": protocol(), "cpu_count": os.cpu_count(),
        "providers": sorted({pr for g in sessions[threads, False].sessions.values() for pr in g.get_providers()}),
        "garment": {"branch_runs": sessions[threads, False].stats()["computed"].get("garment", 0),
                    "ms": warm[threads, False]["garment_ms"]},
    })


def _label(run: dict[str, Any]) -> str:
    return f"{run['smooth']}, {run['intra_op_threads']} thread(s)" + (", spinning on" if run.get("spinning") else "")


def render(out: Path, result: dict[str, Any]) -> str:
    """``table.md`` from the results alone."""
    from tryon.study import machine_summary

    s = result["settings"]
    stages = ("decode", "prepare", "person", "smooth", "head", "restore", "encode")
    lines = [f"Video try-on end to end at {s['size']}, {result['clip']['frames']} frames of the synthetic clip, "
             f"{s['threads']} onnxruntime thread(s), spinning off unless said; weights: {result['weights']}. FPS: the "
             f"repeat with the median FPS of {s.get('repeats', 1)} (min–max), its stage means (ms) and the 1-min load "
             "average before each repeat (other jobs share the cores)."
             + (f" onnxruntime providers used: {', '.join(result['providers'])}." if result.get("providers") else ""),
             "", machine_summary(result), "",
             "| configuration | FPS | " + " | ".join(f"{x} ms" for x in stages)
             + " | sum of means ms | p50 person+head ms | load |",
             "|---|---:|" + "---:|" * len(stages) + "---:|---:|---|"]
    for r in result["runs"]:
        st = r["stages_ms"]
        fr = r.get("fps_repeats") or [r["fps"]]
        spread = f" ({min(fr):.1f}–{max(fr):.1f})" if len(fr) > 1 else ""
        lines.append(f"| {_label(r)} | {r['fps']:.2f}{spread} | " + " | ".join(f"{st[x]['mean']:.2f}" for x in stages)
                     + f" | {r['sum_of_stage_means_ms']:.1f} | {st['person']['p50'] + st['head']['p50']:.1f} | "
                     + " / ".join(f"{v:.1f}" for v in r.get("loadavg_repeats") or [r["loadavg_before"][0]]) + " |")
    g = result["garment"]
    lines += ["", f"Garment branch: {g['branch_runs']} run per session for all its videos ({g['ms']:.1f} ms in the first; "
              "later videos find it in the session's memory cache).", "",
              "Flicker (warping error under the input's DIS flow, [0, 1], lower is steadier; `tryon.metrics.flicker`):", "",
              "| remedy | flicker ↓ | reliable pixels | mean abs change vs plain | mean abs vs ground truth |", "|---|---:|---:|---:|---:|"]
    for r in (r for r in result["runs"] if r["flicker"] is not None):
        lines.append(f"| {r['smooth']} | {r['flicker']:.4f} | {r['coverage']:.3f} | {r['abs_vs_plain']:.4f} | {r['abs_vs_gt']:.4f} |")
    for k, v in result["flicker_references"].items():
        lines.append(f"| *{k}* | {v:.4f} | | | |")
    sim = result["simulation"]
    lines += ["", f"Remedy against ground truth (no network): ground truth + per-frame brightness jitter ±{sim['jitter']:g} "
              f"and noise σ {sim['noise']:g} (uint8 levels), then the flow blend:", "",
              "| frames | flicker ↓ | mean abs vs ground truth ↓ |", "|---|---:|---:|"]
    for r in sim["rows"]:
        lines.append(f"| {r['remedy']} | {r['flicker']:.4f} | {r['abs_vs_gt']:.4f} |")
    text = "\n".join(lines)
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
