"""EdiBERT vs GAN inversion on the same images and masks: our analogue of 000 Table 4.1 (§4.2.4.2).

A GAN (``tryon train gan-generate``, conv, with its inversion encoder ``tryon train gan-invert``) and an EdiBERT
(``tryon train edibert-vqgan`` + ``tryon train edibert-inpaint``) are trained on ONE image folder (the EdiBERT plugin's procedural
scenes, 32×32, written once as PNG files), or reused (``--gan-run``/``--encoder-run``/``--edibert-run``). Then, on
the same held-out images and the same masks (the core's free-form or rectangle masks, fixed seed, 1 = fill):

* EdiBERT inpainting (``edibert-inpaint``, 000 App. D Alg. 7);
* GAN-inversion inpainting (``gan-inpaint``) with every method: optimisation (Image2StyleGAN-like, the I2SG++ row),
  encoder (latent-composition-like, the LC row), hybrid (In-Domain) and Plumerault's blurred MSE;

and reports masked L1 (the L1 OUTSIDE the mask, where the source must be kept: Chai et al.'s metric of Table 4.1),
the L1 inside the hole against the ground truth (informative only: inpainting has many right answers),
proxy-FID and density/coverage (``tryon.metrics``, proxy features trained here on the training folder: not
comparable with Inception numbers) and wall time per image. Both methods are run WITHOUT pasting the source back
(as in Table 4.1: pasting would make masked L1 zero by construction).

The two plugins never import each other; this script drives both through their training functions and
``tryon.load`` and they exchange only files (the image folder, run folders). Writes ``results.json``,
``table.md``, a grid (input | mask | EdiBERT | GAN methods | ground truth) and ``report.html``.

    .venv/bin/python benchmarks/inpaint_compare.py --out runs/bench-inpaint-compare     # ~15 min on 2 shared cores
    .venv/bin/python benchmarks/inpaint_compare.py --out /tmp/ic --quick                # smoke (< 1 min)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "inpaint-compare"

#: the default budget (855 s measured on 2 shared cores, one torch thread, training included)
FULL: dict[str, Any] = {
    "n_train": 512, "n_eval": 32, "size": 32,
    # measured 2026-12-03 on these scenes: the plugin's conv GAN collapsed to one colour within 1000 steps with
    # nonsaturating or hinge and gave only the mean colour after 800 WGAN-GP steps; the MLP recipe of the plugin's
    # digits table (two hidden layers, leaky ReLU, Adam(0.5, 0.9)) with WGAN-GP gives varied (noisy) scenes
    "gan_steps": 1500, "gan_loss": "wgan-gp", "latent_dim": 32, "gan_arch": "mlp", "gan_hidden": [512, 512],
    "gan_base": 16, "gan_lr": 2e-4, "gan_batch": 64,
    "encoder_steps": 1000, "encoder_width": 32,
    "vq_steps": 700, "bert_steps": 700, "codes": 128, "vq_ch": 32, "vq_ch_mult": [1, 2, 2], "bert_width": 128,
    "bert_layers": 4, "bert_heads": 4, "edibert_optim_steps": 50,
    "inv_steps": 300, "hybrid_steps": 100, "plumerault_sigma": 1.0, "proxy_steps": 150,
}
#: the smoke setting (well under a minute): numbers mean nothing, every path runs
QUICK: dict[str, Any] = {
    "n_train": 48, "n_eval": 6, "gan_steps": 6, "gan_hidden": [32, 32], "encoder_steps": 6, "vq_steps": 4, "bert_steps": 4, "codes": 32,
    "vq_ch": 8, "bert_width": 32, "bert_layers": 1, "bert_heads": 2, "edibert_optim_steps": 2, "inv_steps": 4,
    "hybrid_steps": 2, "proxy_steps": 4,
}
#: Table 4.1 of 000 (FFHQ 256×256): inpainting masked L1, FID, density, coverage
SEED_TABLE = {"I2SG++": (0.0767, 23.6, 0.99, 0.88), "LC": (0.1027, 27.9, 1.12, 0.84), "EdiBERT": (0.0290, 13.8, 1.16, 0.98)}
N_GRID = 8
#: every knob of a budget (the smoke budget is the default with QUICK's sizes)
BUDGETS = {"tiny": {**FULL, **QUICK}, "default": dict(FULL)}
COLUMNS = ["method", "masked_l1", "l1_in_hole", "proxy_fid", "density", "coverage", "s_per_image"]
#: the grid's column titles of the five methods (in the order of :func:`methods`)
GRID_TITLES = ["EdiBERT", "optimisation", "encoder", "hybrid", "Plumerault"]
#: the grid the computation saves (the report shows it)
GRID = "grid-inpainting.png"


def missing_plugins() -> list[str]:
    """Names of the plugins this benchmark needs that are not installed (empty: both are)."""
    return [name for name in ("tryon_gan", "tryon_edibert") if importlib.util.find_spec(name) is None]


def _load_folder(folder: Path, n: int, size: int) -> Any:
    import torch

    from tryon.data import ImageFolderDataset

    ds = ImageFolderDataset(folder, size=(size, size), validate=True)
    return torch.stack([ds[i] for i in range(min(n, len(ds)))])


def _masks(n: int, size: int, kind: str, seed: int) -> Any:
    import torch

    from tryon.geometry import free_form_mask, random_rectangle_mask

    g = torch.Generator().manual_seed(seed)
    fn = free_form_mask if kind == "free-form" else random_rectangle_mask
    return torch.stack([fn((size, size), generator=g) for _ in range(n)])[:, None]


def _edibert_data(run: str) -> Path:
    """The image folder an EdiBERT run was trained on (recorded in its config.json)."""
    from tryon import Pipeline
    from tryon.errors import InputError

    data = Pipeline.read_config(run).get("training", {}).get("data")
    if not data or not Path(data).is_dir():
        raise InputError("--edibert-run", "a `tryon train edibert-inpaint` run whose recorded training data folder exists",
                         f"data {data!r}")
    return Path(data)


def prepare_data(out: Path, s: dict[str, Any], edibert_run: str | None, data: str | None, seed: int) -> tuple[Path, Path]:
    """The training folder both models learn (given, the EdiBERT run's, or procedural scenes written here) and a
    held-out folder of the same distribution (scenes of another seed, or the last images of ``--data``)."""
    from tryon_edibert.data import write_scenes

    size = (s["size"], s["size"])
    if data is None and edibert_run is not None:
        data = str(_edibert_data(edibert_run))
    if data is None:
        train = write_scenes(out / "data" / "train", s["n_train"], size, seed=seed)
    else:
        train = Path(data)
    # held out: scenes drawn with another seed (never in any training folder written with `seed`)
    held = write_scenes(out / "data" / "eval", max(s["n_eval"], N_GRID), size, seed=seed + 1000)
    return train, held


def train_gan_side(out: Path, train: Path, s: dict[str, Any], seed: int, gan_run: str | None,
                   encoder_run: str | None, log: Any) -> tuple[str, dict[str, float]]:
    """Train (or reuse) the GAN and its inversion encoder; returns the encoder run (a ``gan-inpaint`` weights
    folder) and the seconds spent."""
    import torch

    from tryon.train import TrainConfig
    from tryon_gan.training import GAN_LOOP, EncoderTaskConfig, GANTaskConfig, train_encoder_run, train_gan

    spent: dict[str, float] = {}
    if encoder_run is not None:
        return encoder_run, spent
    if gan_run is None:
        t0 = time.perf_counter()
        gan_run = str(out / "gan")
        train_gan(TrainConfig(**{**GAN_LOOP, "out_dir": gan_run, "max_steps": s["gan_steps"], "batch_size": s["gan_batch"],
                                 "lr": s["gan_lr"], "seed": seed, "progress": False, "log_every": 50,
                                 "ckpt_every": max(100, s["gan_steps"] // 2)}),
                  GANTaskConfig(data=str(train), loss=s["gan_loss"], latent_dim=s["latent_dim"], arch=s["gan_arch"],
                                hidden=tuple(s["gan_hidden"]), activation="lrelu", base=s["gan_base"], betas=(0.5, 0.9),
                                image_size=s["size"], channels=3))
        spent["train_gan_s"] = time.perf_counter() - t0
        log(f"[compare] GAN trained: {spent['train_gan_s']:.0f} s")
    t0 = time.perf_counter()
    run = str(out / "gan-encoder")
    cfg = TrainConfig(out_dir=run, max_steps=s["encoder_steps"], batch_size=32, seed=seed, lr=1e-3, log_every=50,
                      ckpt_every=max(100, s["encoder_steps"] // 2), device="cpu", progress=False, tensorboard=False)
    torch.manual_seed(seed)
    train_encoder_run(cfg, EncoderTaskConfig(generator_run=gan_run, width=s["encoder_width"], method="optimisation",
                                             inversion_steps=s["inv_steps"]))
    spent["train_encoder_s"] = time.perf_counter() - t0
    log(f"[compare] GAN encoder trained: {spent['train_encoder_s']:.0f} s")
    return run, spent


def train_edibert_side(out: Path, train: Path, s: dict[str, Any], seed: int, edibert_run: str | None,
                       log: Any) -> tuple[str, dict[str, float]]:
    """Train (or reuse) the VQGAN + EdiBERT (the settings of `tryon demo edibert`, fewer steps)."""
    from tryon.train import TrainConfig
    from tryon_edibert.training import EDIBERT_LOOP, EdiBERTTaskConfig, VQGANTaskConfig, train_edibert, train_vqgan

    spent: dict[str, float] = {}
    if edibert_run is not None:
        return edibert_run, spent
    size = (s["size"], s["size"])
    t0 = time.perf_counter()
    train_vqgan(TrainConfig(out_dir=str(out / "vqgan"), max_steps=s["vq_steps"], batch_size=16, lr=2e-3, seed=seed,
                            device="cpu", progress=False, ckpt_every=max(50, s["vq_steps"] // 2), log_every=10),
                VQGANTaskConfig(data=str(train), size=size, n_codes=s["codes"], embed_dim=32, ch=s["vq_ch"],
                                ch_mult=s["vq_ch_mult"], perceptual_weight=0.1, disc_start=int(s["vq_steps"] * 0.6),
                                disc_layers=2))
    spent["train_vqgan_s"] = time.perf_counter() - t0
    log(f"[compare] VQGAN trained: {spent['train_vqgan_s']:.0f} s")
    t0 = time.perf_counter()
    train_edibert(TrainConfig(**{**EDIBERT_LOOP, "out_dir": str(out / "edibert"), "max_steps": s["bert_steps"],
                                 "batch_size": 32, "lr": 1e-3, "seed": seed, "device": "cpu", "progress": False,
                                 "ckpt_every": max(50, s["bert_steps"] // 2), "log_every": 10}),
                  EdiBERTTaskConfig(vqgan_run=str(out / "vqgan"), data=str(train), size=size, width=s["bert_width"],
                                    layers=s["bert_layers"], heads=s["bert_heads"], max_grid=(32, 32)))
    spent["train_edibert_s"] = time.perf_counter() - t0
    log(f"[compare] EdiBERT trained: {spent['train_edibert_s']:.0f} s")
    return str(out / "edibert"), spent


def methods(s: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(row name, task, call options) per compared method; every option is explicit (no paste-back)."""
    n = s["inv_steps"]
    return [
        ("EdiBERT", "edibert-inpaint", {"optim_steps": s["edibert_optim_steps"], "seed": 0}),
        ("GAN optimisation (I2SG++-like)", "gan-inpaint", {"method": "optimisation", "steps": n, "seed": 0}),
        ("GAN encoder (LC-like)", "gan-inpaint", {"method": "encoder"}),
        ("GAN hybrid (In-Domain)", "gan-inpaint", {"method": "hybrid", "steps": s["hybrid_steps"], "lr": 0.05,
                                                   "domain_weight": 0.01}),
        ("GAN Plumerault (blurred MSE)", "gan-inpaint", {"method": "plumerault", "steps": n,
                                                         "sigma": s["plumerault_sigma"], "seed": 0}),
    ]


def evaluate(pipes: dict[str, Any], images: Any, masks: Any, extractor: Any, s: dict[str, Any],
             batch: int = 8) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every method on the same ``images``/``masks``; the table rows and the outputs per method."""
    import torch

    from tryon.metrics import fid, masked_l1, prdc

    with torch.no_grad():
        real = extractor(images).numpy()
    rows, outputs = [], {}
    for name, task, options in methods(s):
        pipe = pipes[task]
        opts = dict(options)
        opts["paste"] = False  # every method's raw decode: masked L1 compares models, not the paste-back
        outs = []
        t0 = time.perf_counter()
        for i in range(0, len(images), batch):
            outs.append(pipe(images[i:i + batch], masks[i:i + batch], **opts).float().clamp(-1, 1))
        wall = time.perf_counter() - t0
        out = torch.cat(outs)
        hole = ((out - images).abs() * masks).flatten(1).sum(1) / (3 * masks.flatten(1).sum(1)).clamp_min(1)
        with torch.no_grad():
            fake = extractor(out).numpy()
        d = prdc(real, fake, k=min(5, len(real) - 1))
        rows.append({"method": name, "masked_l1": float(masked_l1(out, images, masks)), "l1_in_hole": float(hole.mean()),
                     "proxy_fid": float(fid(real, fake)), "density": float(d["density"]), "coverage": float(d["coverage"]),
                     "s_per_image": wall / len(images)})
        outputs[name] = out
    return rows, outputs


def run_compare(out: str | Path, settings: dict[str, Any] | None = None, *, seed: int = 0, masks_kind: str = "free-form",
                threads: int = 1, gan_run: str | None = None, encoder_run: str | None = None,
                edibert_run: str | None = None, data: str | None = None, log: Any = print) -> dict[str, Any]:
    """The whole comparison (see the module doc) as a function: computes into ``out``, writes ``results.json`` and
    renders it (``table.md``, ``report.html``); returns the saved record. ``settings`` override the default budget."""
    from tryon.study import load_results

    check_options(masks_kind)
    study = Study(NAME, out, budget="custom" if settings else "default", knobs={**FULL, **(settings or {})},
                  argv=["run_compare"], log=False)
    compare(study, dict(study.knobs), seed=seed, masks_kind=masks_kind, threads=threads, gan_run=gan_run,
            encoder_run=encoder_run, edibert_run=edibert_run, data=data, log=log)
    study.save()
    results = load_results(study.out)
    log(render(study.out, results))
    return results


def check_options(masks_kind: str) -> None:
    from tryon.errors import InputError

    missing = missing_plugins()
    if missing:
        raise InputError("plugins", "tryon_gan and tryon_edibert installed", f"missing {', '.join(missing)}")
    if masks_kind not in ("free-form", "rect"):
        raise InputError("--masks", "free-form or rect", repr(masks_kind))


def compare(study: Study, s: dict[str, Any], *, seed: int, masks_kind: str, threads: int, gan_run: str | None, encoder_run: str | None,
            edibert_run: str | None, data: str | None, log: Any) -> None:
    """Train (or reuse) both sides into ``study.out`` with the settings ``s`` (every knob of :data:`FULL`), evaluate
    every method, fill ``study.results`` and save the grid."""
    import torch

    import tryon
    from tryon.metrics import train_proxy
    from tryon.report import grid_image

    check_options(masks_kind)
    torch.set_num_threads(max(1, int(threads)))
    out = study.out
    t_start = time.perf_counter()
    with study.section("data"):
        train, held = prepare_data(out, s, edibert_run, data, seed)
    with study.section("train GAN side"):
        gan_weights, spent_gan = train_gan_side(out, train, s, seed, gan_run, encoder_run, log)
    with study.section("train EdiBERT side"):
        edibert_weights, spent_ed = train_edibert_side(out, train, s, seed, edibert_run, log)
    t_train = time.perf_counter() - t_start

    size = s["size"]
    images = _load_folder(held, s["n_eval"], size)
    masks = _masks(len(images), size, masks_kind, seed)
    with study.section("proxy features"):
        t0 = time.perf_counter()
        extractor = train_proxy(_load_folder(train, 256, size), out / "proxy", steps=s["proxy_steps"], batch_size=32,
                                input_size=(size, size), widths=(16, 32, 64), seed=seed, device="cpu")
        proxy_s = time.perf_counter() - t0
    pipes = {"edibert-inpaint": tryon.load("edibert-inpaint", weights=edibert_weights, device="cpu"),
             "gan-inpaint": tryon.load("gan-inpaint", weights=gan_weights, device="cpu")}
    with study.section("evaluate"):
        t0 = time.perf_counter()
        rows, outputs = evaluate(pipes, images, masks, extractor, s)
        eval_s = time.perf_counter() - t0

    by = {r["method"]: r for r in rows}
    ed, opt = by["EdiBERT"], by["GAN optimisation (I2SG++-like)"]
    best_gan = min((r for r in rows if r["method"] != "EdiBERT"), key=lambda r: r["masked_l1"])
    ordering = {
        "edibert_more_faithful_than_optimisation": ed["masked_l1"] < opt["masked_l1"],
        "edibert_more_faithful_than_every_gan_method": ed["masked_l1"] < best_gan["masked_l1"],
        "edibert_lower_proxy_fid_than_optimisation": ed["proxy_fid"] < opt["proxy_fid"],
        "masked_l1_ratio_optimisation_over_edibert": opt["masked_l1"] / max(ed["masked_l1"], 1e-12),
        "seed_ratio_i2sg_over_edibert": SEED_TABLE["I2SG++"][0] / SEED_TABLE["EdiBERT"][0],
    }
    k = min(N_GRID, len(images))
    shown = images[:k] * (1 - masks[:k]) + masks[:k]  # the input with the hole shown white
    names = [r["method"] for r in rows]
    grid = [[shown[i], masks[i].repeat(3, 1, 1) * 2 - 1] + [outputs[n][i] for n in names] + [images[i]] for i in range(k)]
    study.save_image(GRID, grid_image(grid, ["input", "mask", *GRID_TITLES, "truth"], scale=3))
    study.results.update({
        "settings": {**s, "seed": seed, "masks": masks_kind, "threads": torch.get_num_threads()},
        "n_eval_images": len(images),
        "runs": {"train_data": str(train), "held_out": str(held), "gan_inpaint_weights": str(gan_weights),
                 "edibert_weights": str(edibert_weights), "reused": {"gan": gan_run, "encoder": encoder_run,
                                                                     "edibert": edibert_run, "data": data}},
        "rows": rows, "ordering": ordering, "seed_table_4_1": SEED_TABLE,
        "stages_s": {**spent_gan, **spent_ed, "proxy_s": proxy_s, "evaluate_s": eval_s, "train_total_s": t_train},
        "total_s": time.perf_counter() - t_start,
    })


def compute(study: Study, args: argparse.Namespace) -> None:
    compare(study, study.settings(args), seed=args.seed, masks_kind=args.masks, threads=args.threads, gan_run=args.gan_run,
            encoder_run=args.encoder_run, edibert_run=args.edibert_run, data=args.data,
            log=lambda msg: print(msg, file=sys.stderr, flush=True))


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.fs import atomic_write_text
    from tryon.report import Report, markdown_table
    from tryon.study import add_figure

    s, rows, ordering = results["settings"], results["rows"], results["ordering"]
    size = s["size"]
    table = markdown_table(COLUMNS, [[f"{r[c]:.4g}" if isinstance(r[c], float) else r[c] for c in COLUMNS] for r in rows])
    text = (f"Machine: {machine_summary(results)}; {s['threads']} torch thread(s); seed {s['seed']}; "
            f"{results['n_eval_images']} held-out {size}x{size} images, {s['masks']} masks; "
            f"total {results['total_s']:.0f} s (training {results['stages_s']['train_total_s']:.0f} s).\n\n"
            f"{table}\n\nmasked L1 = L1 outside the mask (kept region, Chai et al.); no paste-back. "
            f"Seed (000 Table 4.1, FFHQ 256): EdiBERT 0.0290 vs I2SG++ 0.0767 "
            f"(ratio {ordering['seed_ratio_i2sg_over_edibert']:.2f}); here optimisation/EdiBERT = "
            f"{ordering['masked_l1_ratio_optimisation_over_edibert']:.2f}.\n")
    atomic_write_text(out / "table.md", text)

    rep = Report(out, "EdiBERT vs GAN inversion: inpainting on the same images and masks (000 Table 4.1 analogue)")
    rep.add_text(text)
    rep.add_table("Inpainting (proxy features: not comparable with Inception FID)", COLUMNS, rows)
    add_figure(rep, out, GRID, "input | mask | EdiBERT | GAN methods | ground truth")
    rep.add_text("Seed numbers (000 Table 4.1, FFHQ 256×256, Inception FID): " + "; ".join(
        f"{k_}: masked L1 {v[0]}, FID {v[1]}, density {v[2]}, coverage {v[3]}" for k_, v in results["seed_table_4_1"].items()))
    rep.write()
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", dest="budget", action="store_const", const="tiny", help="same as --budget tiny")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--masks", default="free-form", choices=("free-form", "rect"), help="core mask family (1 = fill)")
    p.add_argument("--n-eval", type=int, default=None, help="held-out images (budget: 32)")
    p.add_argument("--data", default=None, help="image folder both models train on (default: procedural scenes)")
    p.add_argument("--gan-run", default=None, help="reuse a `tryon train gan-generate` run (conv, on the same data)")
    p.add_argument("--encoder-run", default=None, help="reuse a `tryon train gan-invert` run (skips GAN training)")
    p.add_argument("--edibert-run", default=None, help="reuse a `tryon train edibert-inpaint` run (its data becomes the "
                   "training folder unless --data)")


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments,
              default_out="runs/bench-inpaint-compare", table=None)


if __name__ == "__main__":
    sys.exit(main())
