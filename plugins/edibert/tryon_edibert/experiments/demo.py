"""``tryon demo edibert``: train a tiny VQGAN + EdiBERT on built-in procedural scenes, run denoising,
inpainting and compositing with the one model, the Table 4.2 ablation, the batched-sampler timing and an
inpainting grid on real photographs (held-out crops of the photos scikit-image ships, next to OpenCV Telea).

A study (:mod:`tryon.study`): :func:`compute` trains, edits and measures, saves the image grids and fills
``results.json``; :func:`render` writes ``report.html`` / ``report.md`` from that record alone, so
``--render-only`` re-renders without computing. ``benchmarks/edibert_quality.py`` runs the same computation at a
larger setting through :func:`run_study`. Import-light: torch is imported when the study runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["BUDGETS", "DEMO", "NAME", "QUICK", "REAL", "add_arguments", "compute", "render", "run_study",
           "timing_verdict"]

NAME = "demo-edibert"
#: the default budget: ≤ 10 min on 2 cores; the ablation and the timing run on ``n_eval`` images
DEMO: dict[str, Any] = {"n_train": 256, "n_eval": 8, "size": [32, 32], "vq_steps": 600, "bert_steps": 600, "codes": 64,
                        "ch": 32, "ch_mult": [1, 2, 2], "width": 128, "layers": 4, "heads": 4, "optim_steps": 30,
                        "proxy_steps": 100}
#: the smoke setting (``--budget tiny``, formerly ``--quick``): every stage runs, in seconds; the numbers mean nothing
QUICK: dict[str, Any] = {"n_train": 32, "n_eval": 4, "vq_steps": 4, "bert_steps": 4, "codes": 16, "ch": 8, "width": 32,
                         "layers": 1, "heads": 2, "optim_steps": 1, "proxy_steps": 2}
BUDGETS: dict[str, dict[str, Any]] = {"tiny": {**DEMO, **QUICK}, "default": dict(DEMO)}
#: images shown in the grids (denoising, compositing)
N_SHOW = 6
#: the real-image grid: ``n`` held-out photo crops (``tryon.data.photos.TEST_SOURCES``), a ``hole``×``hole`` square
#: hole each (the hole of ``benchmarks/real_inpaint.py``)
REAL = {"n": 8, "hole": 12, "seed": 0}


def timing_verdict(timing: list[dict[str, Any]], speed_up: float = 5.0, l1_margin: float = 0.05) -> dict[str, Any]:
    """The batched-sampler target: some batched row at ≥ ``speed_up``× less wall time than one token per
    forward (row 0) with masked L1 within ``l1_margin`` of it. Returns the best batched row and whether it holds."""
    batched = timing[1:]
    ok = [r for r in batched if r["speed-up"] >= speed_up and r["l1_vs_one_token"] <= 1 + l1_margin]
    best = max(ok or batched, key=lambda r: r["speed-up"])
    return {"met": bool(ok), "sampler": best["sampler"], "speed_up": best["speed-up"],
            "l1_vs_one_token": best["l1_vs_one_token"], "target": f"≥ {speed_up:g}× faster at masked L1 ≤ "
            f"{1 + l1_margin:g}× the one-token sampler's"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's own options (the study's ``--out``, ``--budget``, ``--render-only`` come from
    :func:`tryon.study.add_study_arguments`)."""
    p.add_argument("--quick", dest="budget", action="store_const", const="tiny", help="same as --budget tiny")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: these models are tiny, and more threads than free "
                        "cores slow OpenMP down many-fold when other jobs share the machine)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


# ------------------------------------------------------------------------------------------------ compute
def compute(study: Any, args: argparse.Namespace) -> None:
    """Data → VQGAN → EdiBERT → edits → ablation + timing → real photo crops; fills ``study.results`` and saves the
    grids (``grids/*.png``)."""
    import torch

    import tryon
    from tryon.report import grid_image, read_curves
    from tryon.train import TrainConfig

    from ..data import write_scenes
    from ..training.config import EDIBERT_LOOP, EdiBERTTaskConfig, VQGANTaskConfig
    from ..training.inpaint import train_edibert
    from ..training.vqgan import train_vqgan
    from .evaluate import ablation, load_images, make_masks, proxy_extractor, sampler_timing

    log: Callable[[str], None] = getattr(args, "log", None) or print
    progress = bool(getattr(args, "progress", True))
    threads = getattr(args, "threads", None)
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    s = study.settings(args)
    out = study.out
    size = tuple(s["size"])
    res = study.results
    res["torch_threads"] = torch.get_num_threads()
    t0 = time.perf_counter()

    with study.section("data"):
        train_dir = write_scenes(out / "data" / "train", s["n_train"], size, seed=0)
        eval_dir = write_scenes(out / "data" / "eval", max(s["n_eval"], 2 * N_SHOW), size, seed=1)
    with study.section("train edibert-vqgan"):
        vq = train_vqgan(TrainConfig(out_dir=str(out / "vqgan"), max_steps=s["vq_steps"], batch_size=16, lr=2e-3,
                                     device="cpu", progress=progress, ckpt_every=max(50, s["vq_steps"] // 4), log_every=10),
                         VQGANTaskConfig(data=str(train_dir), size=size, n_codes=s["codes"], embed_dim=32, ch=s["ch"],
                                         ch_mult=s["ch_mult"], perceptual_weight=0.1,
                                         disc_start=int(s["vq_steps"] * 0.6), disc_layers=2))
    log(f"[edibert] vqgan: {json.dumps(vq.summary['last'])}")
    with study.section("train edibert-inpaint"):
        bert = train_edibert(TrainConfig(**{**EDIBERT_LOOP, "out_dir": str(out / "edibert"), "max_steps": s["bert_steps"],
                                            "batch_size": 32, "lr": 1e-3, "device": "cpu", "progress": progress,
                                            "ckpt_every": max(50, s["bert_steps"] // 4), "log_every": 10}),
                             EdiBERTTaskConfig(vqgan_run=str(out / "vqgan"), data=str(train_dir), size=size,
                                               width=s["width"], layers=s["layers"], heads=s["heads"], max_grid=(32, 32)))
    log(f"[edibert] edibert: {json.dumps(bert.summary['last'])}")
    res["train_s"] = time.perf_counter() - t0
    res["curves"] = {name: read_curves(out / name / "metrics.csv") for name in ("vqgan", "edibert")}

    shown = load_images(str(eval_dir), 2 * N_SHOW, size)
    images = load_images(str(eval_dir), s["n_eval"], size)
    masks = make_masks(len(images), size, "free-form", seed=0)
    with study.section("proxy features"):
        extractor = proxy_extractor(load_images(str(train_dir), 256, size), out / "proxy", steps=s["proxy_steps"])
    inpaint = tryon.load("edibert-inpaint", weights=out / "edibert", device="cpu")
    with study.section("ablation"):
        table, outputs = ablation(inpaint, images, masks, extractor, base={"optim_steps": s["optim_steps"]})
    with study.section("sampler timing"):
        timing = sampler_timing(inpaint, images, masks, extractor)
    res.update({"n_eval": len(images), "ablation": table, "timing": timing, "timing_target": timing_verdict(timing)})
    k = min(N_SHOW, len(images))
    study.save_image("grids/ablation.png", grid_image(
        [[images[i], masks[i].expand(3, -1, -1) * 2 - 1, *[outputs[n][i] for n in outputs]] for i in range(k)],
        ["source", "mask", *list(outputs)], scale=4))

    with study.section("denoise, composite, reconstruction"):
        denoise = tryon.load("edibert-denoise", weights=out / "edibert", device="cpu")
        noisy = shown[:N_SHOW].clone()
        g = torch.Generator().manual_seed(0)
        h4, w4 = size[0] // 4, size[1] // 4
        noisy[:, :, h4 : 2 * h4, w4 : 2 * w4] = torch.rand(N_SHOW, 3, h4, w4, generator=g) * 2 - 1  # a local artefact
        # the artefact covers 2×2 of the 8×8 tokens: a few resampling steps (000 Alg. 3 uses 50 on a 16×16 grid);
        # many more would resample the shapes too, the least likely tokens of a tiny model
        dn = denoise(noisy, steps=8, per_forward=1)
        composite = tryon.load("edibert-composite", weights=out / "edibert", device="cpu")
        rect = make_masks(N_SHOW, size, "rect", seed=2)
        pasted = shown[:N_SHOW] * (1 - rect) + shown[N_SHOW:] * rect
        comp = composite(pasted, rect, optim_steps=s["optim_steps"])
        res["reconstruction"] = inpaint.reconstruction_study(shown[:8], steps=s["optim_steps"], proxy=extractor)
    study.save_image("grids/denoise.png", grid_image(
        [[noisy[i], dn.heatmap[i].expand(3, -1, -1) * 2 - 1, dn.image[i]] for i in range(N_SHOW)],
        ["perturbed", "-log p heat-map", "denoised"], scale=4))
    study.save_image("grids/composite.png", grid_image(
        [[pasted[i], rect[i].expand(3, -1, -1) * 2 - 1, comp[i]] for i in range(N_SHOW)],
        ["pasted", "mask", "result"], scale=4))

    with study.section("real photo crops"):
        res["real_images"] = real_image_inpainting(study, inpaint, size, optim_steps=s["optim_steps"])
    res["total_s"] = time.perf_counter() - t0


def real_crops(n: int, size: int, seed: int = 0) -> Any:
    """``n`` held-out ``size``×``size`` crops (tensor in [-1, 1]) of the test photos of :mod:`tryon.data.photos`
    (split as evenly as the count allows), and the photos they come from."""
    import numpy as np
    import torch

    from tryon.data.photos import TEST_SOURCES, load_photo, random_crops

    rng = np.random.default_rng(seed)
    per = [n // len(TEST_SOURCES) + (i < n % len(TEST_SOURCES)) for i in range(len(TEST_SOURCES))]
    crops, sources = [], []
    for name, k in zip(TEST_SOURCES, per):
        if k:
            crops += [np.asarray(c.convert("RGB")) for c in random_crops(load_photo(name), k, size, rng)]
            sources.append(name)
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x, sources


def square_holes(n: int, size: int, hole: int, seed: int = 0) -> Any:
    """``n×1×size×size`` masks, each a ``hole``×``hole`` square (1 = fill) at a seeded random position."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 1, size, size)
    for i in range(n):
        top, left = (int(v) for v in torch.randint(0, size - hole + 1, (2,), generator=g))
        out[i, 0, top : top + hole, left : left + hole] = 1
    return out


def telea(images: Any, masks: Any) -> Any:
    """OpenCV's ``cv2.inpaint`` (Telea, radius 3) on images in [-1, 1] (through uint8), as a tensor in [-1, 1]."""
    import cv2
    import numpy as np
    import torch

    x = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    m = masks[:, 0].numpy().astype(np.uint8)
    out = [cv2.inpaint(np.ascontiguousarray(img[..., ::-1]), mk, 3, cv2.INPAINT_TELEA)[..., ::-1] for img, mk in zip(x, m)]
    return torch.from_numpy(np.stack(out).astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)


def hole_l1(out: Any, truth: Any, masks: Any) -> float:
    """Mean |output − truth| inside the hole, pixels in [0, 1] (the ``l1_hole`` of ``benchmarks/real_inpaint.py``)."""
    diff = (out.float().clamp(-1, 1) - truth.clamp(-1, 1)).abs() / 2
    return float((diff * masks).sum() / (masks.sum() * out.shape[1]))


def real_image_inpainting(study: Any, model: Any, size: tuple[int, int], *, optim_steps: int) -> dict[str, Any]:
    """The demo's EdiBERT and OpenCV Telea on :data:`REAL` held-out photo crops with square holes: the masked L1 of
    each in the hole and the grid ``grids/real-inpaint.png`` (input | mask | EdiBERT | Telea | truth). Crops are
    ``size``'s side (square scenes); without scikit-image (or OpenCV) the section records why it was skipped."""
    from tryon.errors import TryonError
    from tryon.report import grid_image

    side = int(size[0])
    try:
        images, sources = real_crops(REAL["n"], side, REAL["seed"])
    except TryonError as exc:  # scikit-image missing: the photos are not there
        return {"skipped": str(exc)}
    masks = square_holes(len(images), side, min(REAL["hole"], side), REAL["seed"])
    t0 = time.perf_counter()
    ours = model(images, masks, optim_steps=optim_steps)
    row = {"n": len(images), "size": [side, side], "hole": [min(REAL["hole"], side)] * 2, "sources": sources,
           "l1_hole": {"EdiBERT (this demo)": hole_l1(ours, images, masks)},
           "s_per_image": {"EdiBERT (this demo)": (time.perf_counter() - t0) / len(images)}}
    columns, cells = ["input", "mask", "EdiBERT"], [images * (1 - masks), masks.expand(-1, 3, -1, -1) * 2 - 1, ours]
    try:
        t0 = time.perf_counter()
        ref = telea(images, masks)
        row["s_per_image"]["OpenCV Telea"] = (time.perf_counter() - t0) / len(images)
        row["l1_hole"]["OpenCV Telea"] = hole_l1(ref, images, masks)
        columns.append("Telea")
        cells.append(ref)
    except ImportError:
        row["telea_skipped"] = "OpenCV (cv2) is not installed"
    study.save_image("grids/real-inpaint.png", grid_image([[c[i] for c in cells] + [images[i]] for i in range(len(images))],
                                                          columns + ["truth"], scale=4))
    row["grid"] = "grids/real-inpaint.png"
    row["columns"] = columns + ["truth"]
    return row


# ------------------------------------------------------------------------------------------------ render
def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md`` from the saved record (and the saved grids) alone; returns the summary lines."""
    from tryon.report import Report
    from tryon.study import add_figure, machine_summary

    s = results["budget"]
    size = s["size"]
    v = results["timing_target"]
    rep = Report(out, "EdiBERT demo: one model, many edits")
    rep.add_text(f"Tiny VQGAN ({s['codes']} codes, factor {2 ** (len(s['ch_mult']) - 1)}) and EdiBERT "
                 f"({s['layers']} layers, width {s['width']}) trained on procedural scenes {size[0]}×{size[1]} "
                 f"(000 §4.2), budget **{s['name']}**. Training took {results['train_s']:.0f} s on "
                 f"{machine_summary(results)}, {results['torch_threads']} torch thread(s). "
                 "FID/density/coverage use proxy features trained here (not Inception) on "
                 f"{results['n_eval']} images: read them as a sanity check, not as a ranking.")
    for name, title in (("vqgan", "VQGAN training"), ("edibert", "EdiBERT training")):
        curves = results.get("curves", {}).get(name)
        if curves:
            rep.add_curves(title, {k: [tuple(p) for p in pts] for k, pts in curves.items()})
    table, timing = results["ablation"], results["timing"]
    rep.add_table(f"Inpainting ablation (000 Table 4.2, free-form masks, {results['n_eval']} images, "
                  f"{s['optim_steps']} optimisation steps)", list(table[0]), table)
    rep.add_table("One token per forward vs batched samplers (same inputs, no optimisation)", list(timing[0]), timing)
    rep.add_text(f"Batched-sampler target ({v['target']}): **{'met' if v['met'] else 'missed'}** — "
                 f"best: {v['sampler']}, {v['speed_up']}× faster, masked L1 "
                 f"{v['l1_vs_one_token']}× the one-token sampler's.")
    recon = results["reconstruction"]
    rep.add_table("Reconstruction with latent optimisation (000 §4.2.3.5)", list(recon), [recon])
    add_figure(rep, out, "grids/ablation.png", "Inpainting: source | mask | ablation rows")
    add_figure(rep, out, "grids/denoise.png", "Denoising (000 Alg. 3): perturbed | likelihood heat-map | denoised")
    add_figure(rep, out, "grids/composite.png", "Compositing: pasted | mask | result")
    _render_real(rep, out, results.get("real_images"))
    path = rep.write()
    lines = [f"batched-sampler target {'met' if v['met'] else 'missed'}: {v['sampler']} {v['speed_up']}x faster, "
             f"masked L1 {v['l1_vs_one_token']}x the one-token sampler's"]
    real = results.get("real_images") or {}
    if real.get("l1_hole"):
        lines.append("real photo crops, hole L1: " + ", ".join(f"{k} {x:.4f}" for k, x in real["l1_hole"].items()))
    lines.append(f"wrote {path} ({results['total_s']:.0f} s)")
    return "\n".join(lines)


def _render_real(rep: Any, out: Path, real: dict[str, Any] | None) -> None:
    from tryon.study import add_figure

    if not real:
        return
    title = "Real photographs: inpainting held-out photo crops"
    if "skipped" in real:
        rep.add_text(f"**{title}**: skipped ({real['skipped']}).")
        return
    h = real["hole"]
    rep.add_table(f"{title} ({real['n']} crops {real['size'][0]}×{real['size'][1]} of {', '.join(real['sources'])}; "
                  f"a {h[0]}×{h[1]} hole each)", ["method", "masked L1 in the hole (pixels in [0, 1]) ↓", "s / image"],
                  [[k, x, real["s_per_image"].get(k)] for k, x in real["l1_hole"].items()])
    note = (" OpenCV was not installed, so Telea is missing." if real.get("telea_skipped") else "")
    add_figure(rep, out, real["grid"], "Real photographs: " + " | ".join(real["columns"]),
               "This demo's EdiBERT was trained on procedural scenes only, so it is expected to lose to OpenCV Telea on "
               "photographs; the real-image benchmark, with models trained on photo crops, is "
               f"`benchmarks/real_inpaint.py`.{note}")


# ------------------------------------------------------------------------------------------------ programmatic
def run_study(out: str | Path, settings: dict[str, Any], *, progress: bool = True,
              log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the demo's study at ``settings`` (knobs of :data:`DEMO` replaced; budget name ``custom``) into ``out``:
    ``results.json`` and the report; returns the record, with ``settings`` (the knobs used), ``stages_s`` (section
    timings) and ``report`` (the HTML path) added."""
    from tryon.study import Study, load_results

    knobs = {**DEMO, **{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}}
    study = Study(NAME, out, budget="custom", knobs=knobs, log=log is print)
    compute(study, argparse.Namespace(progress=progress, log=log or (lambda _msg: None), threads=None))
    study.save()
    results = load_results(study.out)
    render(study.out, results)
    return {**results, "settings": knobs, "stages_s": results["timings"], "report": str(study.out / "report.html")}
