"""003 Table 3.1 at small scale (R3): VAE, AVAE (L_Z^a, L_Z^b, L_Z^b with ξ), GAN, VAE/GAN and BiGAN, on scikit-learn
digits and on a folder of images.

Every model is trained by the control plugin's ``train_avae`` (the path of ``tryon train avae-reconstruct``) on the
same DCGAN-style networks (003 Fig. 3.5, 5×5 kernels, width w) for the same number of steps, for each seed; then

* MSE per pixel (in [−1, 1]) of the reconstructions of held-out images (VAE, VAE/GAN: the decoder; AVAE: its
  generator G(μ_e(x), ξ); BiGAN: G(E(x)));
* proxy-FID of samples against the training images in the core's self-supervised proxy CNN
  (``tryon.metrics.train_proxy``) and, on the digits only (it needs labels), in a small digit classifier trained here
  ("classifier-FID");
* proxy-LPIPS of the reconstructions and the encoder's KL per image;

and the orderings of 003 Table 3.1 are checked per seed (held / not held / mixed). The folder (``--folder DIR``, any
folder of images, read through ``tryon.data.ImageFolderDataset``, RGB at ``folder_size``; its ``train/`` and ``test/``
subfolders when it has both, else a fixed 80/20 split) defaults to crops of the photographs scikit-image ships
(``tryon.data.photos.write_photo_crops``: training crops from 12 photos, held-out crops from 3 others), written
under ``--runs``; ``--folder none`` runs the digits alone. Writes ``results.json``, ``table.md``, ``grid.png`` (digits)
and ``grid-folder.png`` (held-out images, reconstructions, samples of seed 0) and ``report.html``; the training runs
go to ``--runs`` (default ``OUT/runs``).

    .venv/bin/python benchmarks/avae_table31.py --out docs/results/avae-table31 --runs /tmp/avae-runs   # ~30 min, 1 thread
    .venv/bin/python benchmarks/avae_table31.py --out /tmp/avae --budget tiny                          # smoke (seconds)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "avae-table31"
#: the sizes of a run (``default`` is what docs/results/avae-table31 holds)
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": [0], "steps": 2, "size": 16, "latent_dim": 4, "width": 4, "batch_size": 16, "lr": 2e-4, "beta": 1.0,
             "gamma": 1e-2, "n_fid": 64, "proxy_steps": 2, "classifier_steps": 5, "folder_size": 16, "crops": [48, 16]},
    # 300 steps of batch 64 (~13 epochs of the 1437 training digits) for 7 models x 2 seeds x 2 image sets: what fits
    # 30 min on one thread (measured per step at w = 8, 1 thread: GAN 0.07 s, BiGAN 0.08-0.12 s, AVAE 0.11-0.13 s,
    # VAE/GAN 0.14-0.18 s); lr 5e-4, above DCGAN's 2e-4, for so short a budget. beta 0.1: a 16x16 grey image has 48x
    # fewer pixels than the thesis's 64x64 RGB, so at beta 1 the KL wins and the latent carries ~3.6 nats per image
    # (003 §3.4 also sets beta per dataset; VAE/GAN gets 10x, see VAEGAN_BETA_FACTOR); gamma 1e-2 as the authors'
    # VAE/GAN. The folder: 2000 training crops of
    # scikit-image's photos, 200 held out, 32x32 RGB
    "default": {"seeds": [0, 1], "steps": 300, "size": 16, "latent_dim": 16, "width": 8, "batch_size": 64, "lr": 5e-4,
                "beta": 0.1, "gamma": 1e-2, "n_fid": 1000, "proxy_steps": 100, "classifier_steps": 300, "folder_size": 32,
                "crops": [2000, 200]},
}
METRICS = [("mse", "MSE (held out)"), ("mse_decoder", "MSE of its decoder"), ("classifier_fid", "classifier-FID"),
           ("proxy_fid", "proxy-FID"), ("proxy_lpips", "proxy-LPIPS"), ("kl", "KL / image")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default=None, help="folder of the training runs, the feature extractors and the photo crops "
                   "(default OUT/runs)")
    p.add_argument("--folder", default="photos", help="a folder of images for the second table; 'photos' (default): crops "
                   "of scikit-image's photos written under --runs; 'none': the digits alone")
    p.add_argument("--steps", type=int, default=None, help="training steps of every model (default: the budget's)")
    p.add_argument("--beta", type=float, default=None, help="KL weight of every VAE loss (default: the budget's)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    from tryon.data.photos import ensure_photo_crops
    from tryon.report import grid_image
    from tryon_control.experiments.table31 import SEED_CELEBA, grid_rows, table31

    torch.set_num_threads(int(args.threads))
    s = study.settings(args)
    runs = Path(args.runs) if args.runs else study.out / "runs"
    common = {k: s[k] for k in ("steps", "latent_dim", "width", "batch_size", "lr", "beta", "gamma", "n_fid", "proxy_steps",
                                "classifier_steps")}
    sets: dict[str, Any] = {"digits": ("digits", s["size"])}
    if args.folder == "photos":
        folder = runs / "photo-crops"
        with study.section("folder: photo crops"):
            ensure_photo_crops(folder, size=int(s["folder_size"]), train=int(s["crops"][0]), test=int(s["crops"][1]))
        sets["folder"] = (folder, s["folder_size"])
    elif args.folder != "none":
        sets["folder"] = (Path(args.folder), s["folder_size"])
    results: dict[str, Any] = {}
    for tag, (data, size) in sets.items():
        res = table31(runs / tag, data=data, seeds=tuple(s["seeds"]), size=int(size), section=study.section, **common)
        rows, titles = grid_rows(res.pop("shown"))
        study.save_image("grid.png" if tag == "digits" else f"grid-{tag}.png", grid_image(rows, None, titles, scale=3))
        if tag == "folder":
            res["settings"]["folder"] = "scikit-image photo crops (tryon.data.photos)" if args.folder == "photos" else str(data)
        results[tag] = res
    study.results.update({"sets": results, "seed_celeba": SEED_CELEBA})


def _cell(v: Any) -> str:
    if not isinstance(v, dict):
        return ""
    return f"{v['mean']:.4g} ± {v['std']:.2g}"


def _set_section(tag: str, res: dict[str, Any]) -> list[str]:
    from tryon.report import markdown_table

    s = res["settings"]
    present = [(k, t) for k, t in METRICS if any(k in r for r in res["summary"])]
    summary = markdown_table(["model", *(t for _, t in present)],
                             [[r["model"], *(_cell(r.get(k)) for k, _ in present)] for r in res["summary"]])
    seeds = [["seed " + seed, model, *(f"{m[k]:.4g}" if k in m else "" for k, _ in present)]
             for seed, runs in res["per_seed"].items() for model, m in runs.items()]
    order = markdown_table(["ordering (003 Table 3.1)", "features", "per seed", "verdict"],
                           [[o["ordering"], o["features"], " ".join("yes" if h else "no" for h in o["per_seed"]), o["verdict"]]
                            for o in res["orderings"]])
    if tag == "digits":
        what = (f"Digits 8x8 upsampled to {s['size'][0]}x{s['size'][1]}, grey ({s['train_images']} train, {s['test_images']} "
                f"held out); FID on {s['n_fid']} samples against the training digits (classifier: train accuracy "
                f"{res['classifier_train_accuracy']:.3f}; proxy CNN NT-Xent {res['proxy']['final_loss']:.2f} vs chance "
                f"{res['proxy']['chance_loss']:.2f}).")
        title = "Digits"
    else:
        what = (f"{s.get('folder', s['described'])}, {s['described']}: {s['train_images']} train, {s['test_images']} held "
                f"out, RGB {s['size'][0]}x{s['size'][1]}; proxy-FID only (no labels, so no classifier-FID) on {s['n_fid']} "
                f"samples against the training images (proxy CNN NT-Xent {res['proxy']['final_loss']:.2f} vs chance "
                f"{res['proxy']['chance_loss']:.2f}).")
        title = "Image folder"
    return [f"## {title}", "", what, "", f"Conv networks of 003 Fig. 3.5 at w = {s['width']}, latent {s['latent_dim']}, beta "
            f"{s['beta']} (VAE/GAN: beta {s['vaegan_beta']:g}, gamma {s['gamma']:g}); {s['steps']} steps of batch "
            f"{s['batch_size']}, Adam({s['lr']:g}, 0.5, 0.999) for every model.", "", "### Mean ± std over seeds", "", summary, "",
            "### Orderings of 003 Table 3.1", "", order, "", "### Per seed", "",
            markdown_table(["seed", "model", *(t for _, t in present)], seeds), ""]


def render(out: Path, results: dict[str, Any]) -> str:
    from PIL import Image

    from tryon.fs import atomic_write_text
    from tryon.report import Report

    sets = results["sets"]
    first = next(iter(sets.values()))["settings"]
    celeba = "; ".join(f"{m}: " + ", ".join(f"{k} {v}" for k, v in d.items()) for m, d in results["seed_celeba"].items())
    lines = [
        f"# 003 Table 3.1 at small scale: {' and '.join(sets)} ({results['budget']['name']} budget)", "",
        f"Machine: {machine_summary(results)}; {first['torch_threads']} torch thread(s); date {results['date']}; seeds "
        f"{', '.join(str(x) for x in first['seeds'])}; wall time {sum(results['timings'].values()):.0f} s.", "",
        "Models: " + ", ".join(first["models"]) + ". \"≈\" and \"≪\" are read with a factor 1.5 (see "
        "tryon_control.experiments.table31.orderings); a verdict is per seed, held = every seed.", "",
        f"Seed (003 Table 3.1, CelebA 64x64, Inception FID and LPIPS, 5e4 iterations): {celeba}. Absolute numbers are not "
        "comparable; the seed has no row for L_Z^b with xi (its xi row is L_Z^a).", "",
    ]
    for tag, res in sets.items():
        lines += _set_section(tag, res)
    text = "\n".join(lines)
    atomic_write_text(out / "table.md", text)
    rep = Report(out, "AVAE vs VAE, GAN, VAE/GAN and BiGAN (003 Table 3.1 at small scale)")
    rep.add_text(text)
    for tag in sets:
        name = "grid.png" if tag == "digits" else f"grid-{tag}.png"
        with Image.open(out / name) as grid:
            rep.add_image_grid(f"{tag}: held-out images, reconstructions and samples (seed 0)", [[grid.convert("RGB")]], [""])
    rep.write()
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-avae-table31", table=None)


if __name__ == "__main__":
    sys.exit(main())
