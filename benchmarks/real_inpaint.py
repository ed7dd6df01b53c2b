"""Inpainting on real photographs: what a user already has (OpenCV) against the project's editing tasks.

The images are 32×32 crops of the photos scikit-image ships (``tryon data photo-crops``: held-out crops come
from other photos than the training crops), never downloaded. On the same held-out crops and the same masks —
a 12×12 rectangle (the hole size of a user report that OpenCV won) and the core's free-form masks (000 App. D.2) —
for each seed:

* OpenCV ``cv2.inpaint`` Telea and Navier–Stokes (radius 3), and filling the hole with the mean colour of
  the kept pixels: the baselines;
* ``edibert-inpaint`` (``--edibert RUN``) and ``gan-inpaint`` (``--gan RUN``) with their defaults, when given
  (or trained here from the training crops with ``--train-minutes M`` through the CLI, ``--minutes`` budgets);

and reports, with pixels in [0, 1]: ``l1_hole`` (mean |output − truth| inside the hole: the figure the user
compared), ``l1_outside`` (change outside the hole: 0 for a method that keeps the user's pixels), SSIM of the
whole image, proxy-FID of the outputs vs the held-out truths (``tryon.metrics`` proxy features trained here on
the training crops: a realism proxy, not comparable with Inception FID) and seconds per image. With EdiBERT weights
it also scores the fast samplers (``edibert-maskgit``, ``edibert-halton``: no latent optimisation) and ``vq-floor``,
the tokenizer's own reconstruction of the truth inside the hole: the floor of every token method with that VQGAN.
A study (:mod:`tryon.study`): ``results.json`` (machine, CPU flags, date, budget, timings), then ``table.md`` and
``grid_<masks>.png`` (input | mask | methods | truth); ``--render-only`` re-renders the table from the results::

    .venv/bin/python benchmarks/real_inpaint.py --out runs/real-inpaint                       # baselines, ~1 min
    .venv/bin/python benchmarks/real_inpaint.py --out runs/real-inpaint --train-minutes 6     # + EdiBERT, GAN
    .venv/bin/python benchmarks/real_inpaint.py --out runs/real-inpaint --edibert RUN --gan RUN
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tryon.study import script

HOLE = 12  # a 12×12 hole on 32×32 images, the size a user reported OpenCV beating EdiBERT on


def _to01(t: Any) -> np.ndarray:
    return (t.detach().float().cpu().clamp(-1, 1).numpy().transpose(0, 2, 3, 1) + 1) / 2


def masks_for(kind: str, n: int, size: int, seed: int) -> Any:
    import torch

    from tryon.geometry.masks import free_form_mask

    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 1, size, size)
    for i in range(n):
        if kind == "rect":
            top, left = (int(v) for v in torch.randint(0, size - HOLE + 1, (2,), generator=g))
            out[i, 0, top : top + HOLE, left : left + HOLE] = 1
        else:
            out[i, 0] = free_form_mask((size, size), generator=g)
    return out


def opencv_fill(images: Any, masks: Any, method: str) -> Any:
    """Baselines on uint8 images: ``telea``, ``ns`` (cv2.inpaint, radius 3) or ``mean`` (mean kept colour)."""
    import cv2
    import torch

    x = (_to01(images) * 255).round().astype(np.uint8)
    m = masks[:, 0].numpy().astype(np.uint8)
    out = []
    for img, mk in zip(x, m):
        if method == "mean":
            fill = img.copy()
            fill[mk > 0] = img[mk == 0].reshape(-1, 3).mean(0).round().astype(np.uint8)
        else:
            flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
            fill = cv2.inpaint(np.ascontiguousarray(img[..., ::-1]), mk, 3, flag)[..., ::-1]
        out.append(fill)
    return torch.from_numpy(np.stack(out).astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)


def score(out: Any, images: Any, masks: Any, extractor: Any) -> dict[str, float]:
    import torch

    from tryon.metrics import fid
    from tryon.metrics.ssim import ssim

    o, t, m = _to01(out), _to01(images), masks[:, 0].numpy()[..., None]
    hole = float((np.abs(o - t) * m).sum() / (3 * m.sum()))
    outside = float((np.abs(o - t) * (1 - m)).sum() / (3 * (1 - m).sum()))
    with torch.no_grad():
        real, fake = extractor(images).numpy(), extractor(out.float().clamp(-1, 1)).numpy()
    return {"l1_hole": hole, "l1_outside": outside, "ssim": float(ssim(out.float().clamp(-1, 1), images)),
            "proxy_fid": float(fid(real, fake))}


def train_on_crops(out: Path, train_dir: Path, minutes: float, seed: int) -> dict[str, str]:
    """EdiBERT (VQGAN, then the transformer) and a conv GAN with its inversion encoder (half the budget), trained on
    the crops through the CLI with ``--minutes`` budgets; the run folders that serve edibert-inpaint and gan-inpaint."""
    tryon = str(Path(sys.executable).with_name("tryon"))
    runs = {"vqgan": out / "runs" / "vqgan", "edibert": out / "runs" / "edibert", "gan": out / "runs" / "gan",
            "invert": out / "runs" / "gan-invert"}
    cmds = [
        [tryon, "train", "edibert-vqgan", "--data", str(train_dir), "--size", "32x32", "--minutes", str(minutes),
         "--out", str(runs["vqgan"]), "--seed", str(seed), "--no-progress"],
        # a transformer sized for an 8x8 token grid on 2 cores (the user report's --width 128 --layers 4 --heads 4)
        [tryon, "train", "edibert-inpaint", "--vqgan", str(runs["vqgan"]), "--data", str(train_dir), "--minutes", str(minutes),
         "--width", "128", "--layers", "4", "--heads", "4", "--out", str(runs["edibert"]), "--seed", str(seed), "--no-progress"],
        # the recipe of benchmarks/gan_inversion.py (latent 16, base 8), which learns the crops' layouts in minutes; the
        # CLI's defaults (latent 2, base 16) collapsed to one black image on these crops (measured 2026-12-07)
        [tryon, "train", "gan-generate", "--data", str(train_dir), "--arch", "conv", "--image-size", "32", "--channels", "3",
         "--latent-dim", "16", "--base", "8", "--minutes", str(minutes), "--out", str(runs["gan"]), "--seed", str(seed),
         "--no-progress"],
        [tryon, "train", "gan-invert", "--generator", str(runs["gan"]), "--minutes", str(max(1.0, minutes / 2)),
         "--out", str(runs["invert"]), "--seed", str(seed), "--no-progress"],
    ]
    for cmd in cmds:
        print("+", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True)
    return {"edibert": str(runs["edibert"]), "gan": str(runs["invert"])}


NAME = "real-inpaint"
#: Named sizes: ``tiny`` exercises every path in seconds (tests); ``default`` is the docs' run.
BUDGETS = {
    "tiny": {"train_crops": 64, "test_crops": 16, "n_eval": 4, "seeds": [0], "masks": ["rect"], "proxy_steps": 5},
    "default": {"train_crops": 4000, "test_crops": 200, "n_eval": 32, "seeds": [0, 1], "masks": ["rect", "free-form"],
                "proxy_steps": 300},
}

#: The EdiBERT variants scored when weights are given: the task's defaults, the fast path (MaskGIT schedule, no latent
#: optimisation) and the Halton order; ``vq-floor`` is the tokenizer's own reconstruction of the *truth* pasted into the
#: hole — the error no sampler can go below with this VQGAN.
EDIBERT_VARIANTS = {"edibert": {}, "edibert-maskgit": {"sampler": "maskgit", "optim_steps": 0},
                    "edibert-halton": {"sampler": "halton", "optim_steps": 0}}


def _vq_floor(pipe: Any) -> Any:
    from tryon.compose import SEAM_SIGMA, paste_source

    def fill(x: Any, m: Any) -> Any:
        import torch

        with torch.no_grad():
            rec = pipe.vqgan.decode_tokens(pipe.vqgan.tokenize(x)).clamp(-1, 1)
        return paste_source(x, rec, m, SEAM_SIGMA)

    return fill


def compute(study: Any, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon.data import ImageFolderDataset
    from tryon.data.photos import ensure_photo_crops
    from tryon.metrics import train_proxy
    from tryon.report import grid_image

    knobs, out = study.knobs, study.out
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else knobs["seeds"]
    kinds = args.masks.split(",") if args.masks else knobs["masks"]
    n_eval = args.n_eval or knobs["n_eval"]
    torch.manual_seed(0)
    data = Path(args.data) if args.data else out / "data"
    with study.section("data"):
        ensure_photo_crops(data, size=32, train=knobs["train_crops"], test=max(knobs["test_crops"], n_eval))
    train_set, test_set = ImageFolderDataset(data / "train", size=(32, 32)), ImageFolderDataset(data / "test", size=(32, 32))
    idx = np.random.default_rng(0).permutation(len(test_set))[:n_eval]
    images = torch.stack([test_set[int(i)] for i in idx])
    with study.section("proxy"):
        extractor = train_proxy(torch.stack([train_set[i] for i in range(0, len(train_set), max(1, len(train_set) // 512))]),
                                out / "proxy", steps=knobs["proxy_steps"], batch_size=32, input_size=(32, 32),
                                widths=(16, 32, 64), device="cpu")
    edibert, gan = args.edibert, args.gan
    if args.train_minutes:
        with study.section("train"):
            runs = train_on_crops(out, data / "train", args.train_minutes, seeds[0])
        edibert, gan = edibert or runs["edibert"], gan or runs["gan"]
    methods: dict[str, Any] = {name: (lambda x, m, k=name: opencv_fill(x, m, k)) for name in ("telea", "ns", "mean")}
    if edibert:
        pipe_e = tryon.load("edibert-inpaint", weights=edibert, device="cpu")
        methods["vq-floor"] = _vq_floor(pipe_e)
        chosen = args.edibert_variants.split(",") if args.edibert_variants else list(EDIBERT_VARIANTS)
        unknown = sorted(set(chosen) - set(EDIBERT_VARIANTS))
        if unknown:
            raise SystemExit(f"--edibert-variants: unknown {unknown}; known: {list(EDIBERT_VARIANTS)}")
        for name in chosen:
            methods[name] = lambda x, m, kw=EDIBERT_VARIANTS[name]: pipe_e(x, m, **kw)
    if gan:
        pipe_g = tryon.load("gan-inpaint", weights=gan, device="cpu")
        methods["gan"] = lambda x, m: pipe_g(x, m)
    rows = []
    for kind in kinds:
        for seed in seeds:
            masks = masks_for(kind, len(images), 32, seed)
            cols = {"input": images[:8] * (1 - masks[:8]), "mask": masks[:8].expand(-1, 3, -1, -1) * 2 - 1}
            for name, fn in methods.items():
                with study.section(f"methods/{name}"):
                    t0 = time.perf_counter()
                    outs = torch.cat([fn(images[i : i + 16], masks[i : i + 16]).float() for i in range(0, len(images), 16)])
                    s_per = (time.perf_counter() - t0) / len(images)
                rows.append({"masks": kind, "seed": seed, "method": name, **score(outs, images, masks, extractor),
                             "s_per_image": s_per})
                cols[name] = outs[:8]
            if seed == seeds[0]:
                cols["truth"] = images[:8]
                grid = [[cols[c][i] for c in cols] for i in range(len(cols["truth"]))]
                study.save_image(f"grid_{kind}.png", grid_image(grid, list(cols), scale=3))
    study.results.update({"benchmark": "real_inpaint", "data": str(data), "n_eval": len(images), "seeds": seeds,
                          "hole": f"{HOLE}x{HOLE} rectangle or core free-form mask",
                          "weights": {"edibert": edibert, "gan": gan}, "rows": rows, "summary": summary(rows)})


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± half-range over seeds per (masks, method)."""
    out = []
    for key in sorted({(r["masks"], r["method"]) for r in rows}, key=lambda k: (k[0], k[1])):
        sel = [r for r in rows if (r["masks"], r["method"]) == key]
        row: dict[str, Any] = {"masks": key[0], "method": key[1], "seeds": len(sel)}
        for m in ("l1_hole", "l1_outside", "ssim", "proxy_fid", "s_per_image"):
            v = np.array([r[m] for r in sel])
            row[m] = float(v.mean())
            row[m + "_halfrange"] = float((v.max() - v.min()) / 2)
        out.append(row)
    return out


def render(out: Path, result: dict[str, Any]) -> str:
    """``table.md`` from the results alone."""

    m = result["machine"]
    lines = [f"{result['n_eval']} held-out crops (32×32), seeds {result['seeds']}; {m['cpu']} ({', '.join(m['isa'])}), "
             f"{result['date'][:10]}. Pixels in [0, 1]; mean ± half-range over seeds. `vq-floor`: the VQGAN's own "
             "reconstruction of the truth pasted into the hole (no token method can do better with this tokenizer).", "",
             "| masks | method | l1_hole ↓ | l1_outside | SSIM ↑ | proxy-FID ↓ | s / image |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["summary"]:
        lines.append(f"| {r['masks']} | {r['method']} | {r['l1_hole']:.4f} ± {r['l1_hole_halfrange']:.4f} | {r['l1_outside']:.4f} | "
                     f"{r['ssim']:.4f} | {r['proxy_fid']:.3f} ± {r['proxy_fid_halfrange']:.3f} | {r['s_per_image']:.4f} |")
    text = "\n".join(lines)
    return text


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=None, help="a `tryon data photo-crops` folder (default: written under --out)")
    ap.add_argument("--n-eval", type=int, default=None, help="held-out crops scored (default: the budget's)")
    ap.add_argument("--seeds", default=None, help="mask seeds, e.g. 0,1 (default: the budget's)")
    ap.add_argument("--masks", default=None, help="rect,free-form (default: the budget's)")
    ap.add_argument("--edibert", default=None, help="edibert-inpaint weights (a `tryon train edibert-inpaint` run)")
    ap.add_argument("--edibert-variants", default=None, help=f"comma-separated, from {', '.join(EDIBERT_VARIANTS)} "
                    "(default: all; `edibert`, the task's defaults, costs seconds per image)")
    ap.add_argument("--gan", default=None, help="gan-inpaint weights (a `tryon train gan-invert` run)")
    ap.add_argument("--train-minutes", type=float, default=None, help="train EdiBERT and a conv GAN here, M minutes per model")


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
