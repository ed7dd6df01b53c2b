"""003 Table 4.1 at small scale (R5): inverting held-out images with MSE, DSSIM and blurred MSE, with and without ‖z‖ ≤ √d.

A generator that learned something (the control plugin's AVAE, ``G(z)`` without ξ, trained here per seed) on scikit-learn
digits 16x16 and on 32x32 RGB crops of scikit-image's photos (``tryon.data.photos.write_photo_crops``; held-out crops
come from other photos). Its held-out images are inverted (``tryon.latent.invert``, Adam, same seeded start, steps and
lr for every loss) with MSE, DSSIM and blurred MSE at σ ∈ {0.5, 1, 2} px, each with and without the ball projection,
and judged by proxy-LPIPS, SSIM, ‖z‖/√d, proxy-FID of the reconstructions against the training images and the critic;
verdicts per seed for the directions of 003 Table 4.1 / Fig. 4.3 (see ``tryon_control.experiments.inversion_losses``).
Writes ``results.json``, ``table.md``, ``grid.png`` (digits), ``grid-folder.png`` and ``report.html``.

    .venv/bin/python benchmarks/inversion_losses.py --out docs/results/inversion-losses   # ~10 min, 1 thread
    .venv/bin/python benchmarks/inversion_losses.py --out /tmp/inv --budget tiny          # smoke (seconds)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "inversion-losses"
#: ``sets``: per data set, its image side, training steps of the generator and number of held-out targets
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": [0], "sets": {"digits": [16, 2, 4], "photos": [16, 2, 4]}, "crops": [48, 16], "latent_dim": 4,
             "width": 4, "batch_size": 16, "gen_lr": 5e-4, "beta": 0.1, "steps": 2, "lr": 0.05, "sigmas": [0.5, 1.0, 2.0],
             "proxy_steps": 2},
    # measured on the shared 2-core machine, one thread: the digits AVAE ~0.16 s per step, an inversion of 32 targets
    # ~0.02 s (digits) to ~0.03 s (photos) per step; 300 generator steps as avae-table31 (200 on the photos, whose 32x32
    # RGB networks cost twice as much), 300 inversion steps (R5: 500-3000; the seed 3000), 32 held-out targets
    "default": {"seeds": [0, 1], "sets": {"digits": [16, 300, 32], "photos": [32, 200, 32]}, "crops": [2000, 200],
                "latent_dim": 16, "width": 8, "batch_size": 64, "gen_lr": 5e-4, "beta": 0.1, "steps": 300, "lr": 0.05,
                "sigmas": [0.5, 1.0, 2.0], "proxy_steps": 100},
}
COLUMNS = [("proxy_lpips", "proxy-LPIPS ↓"), ("ssim", "SSIM ↑"), ("z_norm", "‖z‖/√d"), ("proxy_fid", "proxy-FID ↓"),
           ("critic", "critic P(fake) ↓"), ("mse", "pixel MSE")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default=None, help="folder of the generator runs, proxy CNNs and photo crops (default OUT/runs)")
    p.add_argument("--folder", default="photos", help="'photos' (default): crops of scikit-image's photos written under "
                   "--runs; 'none': the digits alone; or a folder of images (train/ and test/ subfolders, or an 80/20 split)")
    p.add_argument("--steps", type=int, default=None, help="inversion steps (default: the budget's)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    from tryon.data.photos import ensure_photo_crops
    from tryon.report import grid_image
    from tryon_control.experiments.inversion_losses import SEED_TABLE41, grid_rows, inversion_losses

    torch.set_num_threads(int(args.threads))
    s = study.settings(args)
    runs = Path(args.runs) if args.runs else study.out / "runs"
    generator = {"steps": 0, "batch_size": s["batch_size"], "lr": s["gen_lr"], "latent_dim": s["latent_dim"],
                 "width": s["width"], "beta": s["beta"]}
    sets: dict[str, tuple[Any, list[int]]] = {"digits": ("digits", s["sets"]["digits"])}
    if args.folder == "photos":
        size = int(s["sets"]["photos"][0])
        folder = runs / f"photo-crops-{size}"
        with study.section("folder: photo crops"):
            ensure_photo_crops(folder, size=size, train=int(s["crops"][0]), test=int(s["crops"][1]))
        sets["folder"] = (folder, s["sets"]["photos"])
    elif args.folder != "none":
        sets["folder"] = (Path(args.folder), s["sets"]["photos"])
    results: dict[str, Any] = {}
    for tag, (data, (size, gen_steps, n_test)) in sets.items():
        res = inversion_losses(runs / tag, data=data, seeds=tuple(s["seeds"]), size=int(size),
                               generator={**generator, "steps": int(gen_steps)}, n_test=int(n_test), steps=int(s["steps"]),
                               lr=float(s["lr"]), sigmas=tuple(s["sigmas"]), proxy_steps=int(s["proxy_steps"]),
                               section=study.section)
        rows, titles = grid_rows(res.pop("shown"))
        study.save_image("grid.png" if tag == "digits" else f"grid-{tag}.png", grid_image(rows, None, titles, scale=3))
        if tag == "folder":
            res["settings"]["folder"] = "scikit-image photo crops (tryon.data.photos)" if args.folder == "photos" else str(data)
        results[tag] = res
    study.results.update({"sets": results, "seed_table41": SEED_TABLE41})


def _cell(v: Any) -> str:
    return f"{v['mean']:.4g} ± {v['half_range']:.2g}" if isinstance(v, dict) else ""


def _set_section(tag: str, res: dict[str, Any]) -> list[str]:
    from tryon.report import markdown_table

    s, g = res["settings"], res["settings"]["generator"]
    present = [(k, t) for k, t in COLUMNS if any(k in r for r in res["summary"])]
    summary = markdown_table(["loss", "projection", *(t for _, t in present)],
                             [[r["loss"], r["projection"], *(_cell(r.get(k)) for k, _ in present)] for r in res["summary"]])
    verdicts = markdown_table(["direction (003 Table 4.1 / Fig. 4.3)", "per seed", "verdict"],
                              [[v["direction"], " ".join("yes" if h else "no" for h in v["per_seed"]), v["verdict"]]
                               for v in res["verdicts"]])
    per_seed = markdown_table(["seed", "loss | projection", *(t for _, t in present)],
                              [[seed, key, *(f"{m[k]:.4g}" if k in m else "" for k, _ in present)]
                               for seed, runs in res["per_seed"].items() for key, m in runs.items()])
    ref = markdown_table(["proxy-FID reference (same number of images)", "value"],
                         [[k, f"{v:.4g}"] for k, v in res["reference_fid"].items()])
    title = "Digits" if tag == "digits" else "Image folder"
    what = f"{s['folder']}, {s['described']}" if "folder" in s else s["described"]
    return [f"## {title}", "",
            f"{what}: {s['train_images']} training images, the first {s['n_test']} of {s['test_images']} "
            f"held out inverted; {'grey' if s['channels'] == 1 else 'RGB'} {s['size'][0]}x{s['size'][1]}. Generator: "
            f"{g['objective'].upper()} (L_Z^{g['latent_loss']}, no xi), latent d = {g['latent_dim']}, w = {g['width']}, "
            f"beta {g['beta']}, {g['steps']} steps of batch {g['batch_size']}, Adam({g['lr']:g}, 0.5, 0.999). Inversion: "
            f"{s['steps']} Adam steps at lr {s['lr']:g}, no ramp, the same seeded N(0, I) start for every loss. Proxy CNN "
            f"NT-Xent {res['proxy']['final_loss']:.2f} vs chance {res['proxy']['chance_loss']:.2f}.", "",
            "### Mean ± half-range over seeds", "", summary, "", "### Verdicts per seed", "", verdicts, "", ref, "",
            "### Per seed", "", per_seed, ""]


def render(out: Path, results: dict[str, Any]) -> str:
    from PIL import Image

    from tryon.fs import atomic_write_text
    from tryon.report import Report

    sets = results["sets"]
    first = next(iter(sets.values()))["settings"]
    seed = "; ".join(f"{k} {m:.2f} ± {sd:.2f}" for k, (m, sd) in results["seed_table41"].items())
    lines = [
        f"# 003 Table 4.1 at small scale: inversion losses with and without ‖z‖ ≤ √d ({results['budget']['name']} budget)", "",
        f"Machine: {machine_summary(results)}; {first['torch_threads']} torch thread(s); date {results['date']}; seeds "
        f"{', '.join(str(x) for x in first['seeds'])} (generator training and inversion start); wall time "
        f"{sum(results['timings'].values()):.0f} s.", "",
        f"Seed (003 Table 4.1, BigGAN 128 px, 1000 ILSVRC images, LPIPS mean ± std): {seed}; 003 Fig. 4.3: artifacts "
        "without the constraint. Here proxy-LPIPS and proxy-FID are in a self-supervised proxy CNN (no LPIPS or "
        "Inception weights offline), SSIM is the DSSIM rows' own objective, and ± is half the range over the seeds. "
        "A verdict is per seed: held = every seed.", "",
    ]
    for tag, res in sets.items():
        lines += _set_section(tag, res)
    text = "\n".join(lines)
    atomic_write_text(out / "table.md", text)
    rep = Report(out, "Inversion losses (003 Table 4.1 at small scale)")
    rep.add_text(text)
    for tag in sets:
        name = "grid.png" if tag == "digits" else f"grid-{tag}.png"
        with Image.open(out / name) as grid:
            rep.add_image_grid(f"{tag}: held-out targets, then each loss | projection's reconstructions (seed "
                               f"{first['seeds'][0]})", [[grid.convert("RGB")]], [""])
    rep.write()
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-inversion-losses",
              table=None)


if __name__ == "__main__":
    sys.exit(main())
