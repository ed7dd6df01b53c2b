"""GAN inversion benchmark: batch scaling of optimisation and hybrid inversion against the CPU's arithmetic bound,
encoder vs optimisation at equal error, inpainting fidelity per method (the GAN side of the 000 Table 4.1 analogue),
and sprite directions.

    .venv/bin/python benchmarks/gan_inversion.py --out docs/results/gan-inversion [--generator RUN] [--budget tiny]

The generator is the GAN plugin's DCGAN-style ``ConvGenerator`` (32×32×3, d = 16, base 8) **trained** on photo crops
(scikit-image's photographs, ``tryon.data.photos``) for ``train_minutes`` through ``tryon train gan-generate``, or
the run folder given with ``--generator``; the tiny budget uses random weights. That it learned something is
recorded: held-out photo crops inverted into it against the same network with random weights. Targets of the timing
and equal-error sections are the generator's own samples ``G(z*)`` (an error the encoder can reach is defined);
every row names the CPU class. Batch scaling is stated as the goal is (images/s at batch B ÷ B × images/s at
batch 1) beside its ceiling on this CPU: the ratio reached if every image added to the batch cost only its
multiply-accumulates at the speed of the reference convolution (``tryon.macs.REFERENCE_CONV``) and nothing else.
EdiBERT rows: looked up through the registry only (plugins never import each other); they need trained weights
(``--edibert-weights``), else the rows are skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-inversion"
BUDGETS = {
    "tiny": {"batches": "1,2", "steps": 2, "repeats": 1, "n": 2, "encoder_steps": 2, "opt_budgets": "2,4",
             "direction_n": 2, "stage_steps": 1, "probe_n": 4, "train_minutes": 0, "fit_steps": 3, "threads": "1"},
    "quick": {"batches": "1,2,4,8,16", "steps": 40, "repeats": 2, "n": 16, "encoder_steps": 150,
              "opt_budgets": "25,50,100", "direction_n": 16, "stage_steps": 30, "probe_n": 64, "train_minutes": 1,
              "fit_steps": 100, "threads": "1,all"},
    "default": {"batches": "1,2,4,8,16", "steps": 40, "repeats": 3, "n": 16, "encoder_steps": 1500,
                "opt_budgets": "25,50,100,200,400", "direction_n": 48, "stage_steps": 30, "probe_n": 64,
                "train_minutes": 4, "fit_steps": 200, "threads": "1,all"},
}
LATENT_DIM, SIZE, BASE = 16, 32, 8
GOAL_SCALING, GOAL_ENCODER = 0.7, 100.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--quick", dest="budget", action="store_const", const="quick", help="same as --budget quick")
    ap.add_argument("--threads", default=None, help="torch thread counts timed, 'all' = physical cores (budget: 1,all)")
    ap.add_argument("--batches", default=None, help="optimisation batch sizes timed (budget: 1,2,4,8,16)")
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps per timing (budget: 40)")
    ap.add_argument("--generator", default=None, help="a `tryon train gan-generate` run (conv, 32x32x3, d 16, base 8)")
    ap.add_argument("--edibert-weights", default=None)


def _generator(study: Study, s: dict[str, Any], args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The generator to invert and how it came to be: ``--generator``, trained here on photo crops, or random."""
    import torch
    from tryon_gan.pipelines import GanEncoderPipeline

    run = Path(args.generator) if args.generator else None
    info: dict[str, Any] = {"arch": f"ConvGenerator d={LATENT_DIM}, {SIZE}x{SIZE}x3, base {BASE}"}
    if run is None and s["train_minutes"] > 0:
        from tryon.data.photos import ensure_photo_crops

        crops = ensure_photo_crops(study.out / "runs" / "crops", size=SIZE)
        run = study.out / "runs" / "generator"
        if not (run / "generator.safetensors").is_file():
            tryon = str(Path(sys.executable).with_name("tryon"))
            cmd = [tryon, "train", "gan-generate", "--data", str(crops / "train"), "--arch", "conv", "--image-size",
                   str(SIZE), "--channels", "3", "--latent-dim", str(LATENT_DIM), "--base", str(BASE), "--minutes",
                   str(s["train_minutes"]), "--out", str(run), "--seed", "0", "--no-progress"]
            print("+", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True)
        info.update(source="trained here on photo crops", minutes=s["train_minutes"])
    if run is not None:
        pipe = GanEncoderPipeline.from_generator_run(run)
        gen = pipe.generator
        info.setdefault("source", f"given run {run.name}")
        info["run"] = run.name
    else:
        from tryon_gan.models import ConvGenerator

        torch.manual_seed(0)
        gen = ConvGenerator(LATENT_DIM, SIZE, 3, base=BASE)
        info["source"] = "random weights (tiny budget: the code path only)"
    return gen.eval().requires_grad_(False), info


def _learned(study: Study, gen: Any, s: dict[str, Any]) -> dict[str, Any]:
    """Held-out photo crops inverted into the generator and into the same network with random weights: a generator
    that learned the photos reconstructs them better. Saves a grid (crops, both reconstructions, samples)."""
    import torch
    from tryon.data.photos import ensure_photo_crops
    from tryon.io import as_batch
    from tryon.latent import invert
    from tryon.report import grid_image
    from tryon_gan.models import ConvGenerator

    crops = ensure_photo_crops(study.out / "runs" / "crops", size=SIZE)
    files = sorted((crops / "test").glob("*.png"))[: s["n"]]
    real = as_batch([str(f) for f in files], size=(SIZE, SIZE)).tensor
    torch.manual_seed(1)
    rand = ConvGenerator(LATENT_DIM, SIZE, 3, base=BASE).eval().requires_grad_(False)
    fit = {name: invert(g, real, steps=s["fit_steps"], seed=0) for name, g in (("this generator", gen), ("random weights", rand))}
    with torch.no_grad():
        samples = gen(torch.randn(len(files), LATENT_DIM, generator=torch.Generator().manual_seed(2)))
    clip = lambda t: t.clamp(-1, 1)  # noqa: E731 - grid_image reads tensors in [-1, 1]
    rows = [list(clip(real)), list(clip(fit["this generator"].reconstructions)), list(clip(fit["random weights"].reconstructions)),
            list(clip(samples))]
    study.save_image("learned.png", grid_image(rows, None, ["crops", "inverted", "random G", "samples"], scale=2))
    return {"images": len(files), "steps": s["fit_steps"],
            "mse": {name: float(r.mse.mean()) for name, r in fit.items()}}


def _macs_per_image(module: Any, *inputs: Any) -> int:
    """Multiply-accumulates of one forward pass per image: conv and linear layers, counted with hooks."""
    import torch
    from torch import nn

    total = [0]

    def hook(m: Any, _: Any, out: Any) -> None:
        if isinstance(m, nn.Conv2d):
            total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0] // int(inputs[0].shape[0])


def _reference_gmacs(repeats: int) -> float:
    """GMAC/s of the reference convolution chain (``tryon.macs.REFERENCE_CONV``) in torch at the current threads."""
    import torch

    from tryon.macs import REFERENCE_CONV as R

    conv = torch.nn.Sequential(*[torch.nn.Conv2d(R["channels"], R["channels"], R["kernel"], padding=R["kernel"] // 2)
                                 for _ in range(R["depth"])]).eval()
    x = torch.randn(1, R["channels"], R["height"], R["width"])
    macs = R["depth"] * R["height"] * R["width"] * R["channels"] ** 2 * R["kernel"] ** 2
    best = math.inf
    with torch.inference_mode():
        conv(x)
        for _ in range(max(3, repeats * 3)):
            t0 = time.perf_counter()
            conv(x)
            best = min(best, time.perf_counter() - t0)
    return macs / best / 1e9


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon import hardware
    from tryon.latent.inversion import invert
    from tryon.metrics import masked_l1
    from tryon_gan.directions import build_trajectories, evaluate_sprite_direction, fit_direction
    from tryon_gan.editing import inpaint
    from tryon_gan.inversion import train_encoder
    from tryon_gan.sprites import SpriteGenerator

    s = study.settings(args)
    out = study.results
    cores = hardware.physical_cores()
    threads = sorted({cores if t.strip() == "all" else int(t) for t in str(s["threads"]).split(",")})
    out["settings"] = {**s, "threads_timed": threads, "cpu_class": hardware.cpu_class()}
    torch.set_num_threads(max(threads))
    with study.section("generator"):
        gen, out["generator"] = _generator(study, s, args)
        if s["train_minutes"] > 0 or args.generator:
            out["generator"]["learned"] = _learned(study, gen, s)
    d = LATENT_DIM
    n = s["n"]
    batches = [int(b) for b in str(s["batches"]).split(",")]
    zt = torch.randn(max(batches + [n]), d, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        xt = gen(zt)

    # 1. the encoder (hybrid needs it for the timings of part 2)
    with study.section("encoder training"):
        t0 = time.perf_counter()
        enc = train_encoder(gen, steps=s["encoder_steps"], batch_size=32, lr=1e-3, width=16, seed=0)
        enc.eval().requires_grad_(False)
        train_s = time.perf_counter() - t0

    # 2. batch scaling, per thread count, layout and method, against the arithmetic ceiling
    g_macs = _macs_per_image(gen, zt[:1])
    e_macs = _macs_per_image(enc, xt[:1], None)
    # one step = forward + the input-gradient backward (no weight gradients: about the forward's MACs again);
    # hybrid runs the encoder on G(z) too, forward and backward
    step_macs = {"optimisation": 2 * g_macs, "hybrid": 2 * (g_macs + e_macs)}
    hybrid_kw = {"encoder": enc, "lr": 0.05, "domain_weight": 0.01}
    rows = []
    with study.section("batch scaling"):
        for th in threads:
            torch.set_num_threads(th)
            ref = _reference_gmacs(s["repeats"])
            for layout in ("NCHW", "NHWC"):
                for method in ("optimisation", "hybrid"):
                    kw = {"channels_last": layout == "NHWC", **(hybrid_kw if method == "hybrid" else {})}
                    invert(gen, xt[:2], method=method, steps=3, **kw)  # warm-up
                    base = None
                    for b in batches:
                        best = math.inf
                        for _ in range(s["repeats"]):
                            t0 = time.perf_counter()
                            invert(gen, xt[:b], method=method, steps=s["steps"], seed=0, **kw)
                            best = min(best, time.perf_counter() - t0)
                        base = base or (best, b)
                        # the ceiling: batch-1 time + the extra images' MACs at the reference speed, nothing else
                        # (the batch sizes start at 1: the ratio is then t(1) / t(B))
                        floor = base[0] + (b - base[1]) * s["steps"] * step_macs[method] / (ref * 1e9)
                        rows.append({"threads": th, "layout": layout, "method": method, "batch": b, "seconds": best,
                                     "ms_per_step": best / s["steps"] * 1e3, "images_per_s": b / best,
                                     "scaling_vs_linear": base[0] / best, "ceiling": base[0] / floor,
                                     "ref_gmac_per_s": ref,
                                     "gmac_per_s": b * s["steps"] * step_macs[method] / best / 1e9})
    for r in rows:  # images/s at B over B x images/s at the first batch = t(first) / t(B) when the first batch is 1
        r["share_of_ceiling"] = r["scaling_vs_linear"] / r["ceiling"]
    torch.set_num_threads(max(threads))
    out["batch_scaling"] = {"steps": s["steps"], "rows": rows, "macs_per_image_step": step_macs,
                            "generator_macs": g_macs, "encoder_macs": e_macs,
                            "goal": f">= {GOAL_SCALING} x linear at batch {batches[-1]}"}

    # 3. encoder vs optimisation at equal error: the smallest optimisation budget whose mean MSE reaches the encoder's
    with study.section("encoder vs optimisation"):
        r_enc = invert(gen, xt[:n], method="encoder", encoder=enc)
        runs = [invert(gen, xt[:n], method="encoder", encoder=enc) for _ in range(10)]
        t_enc = min(r.timings["encoder_s"] for r in runs)
        t_enc_total = min(r.timings["total_s"] for r in runs)
        enc_mse = float(r_enc.mse.mean())
        budgets = []
        for steps in [int(v) for v in str(s["opt_budgets"]).split(",")]:
            r = invert(gen, xt[:n], method="optimisation", steps=steps, seed=0)
            budgets.append({"steps": steps, "seconds": r.timings["optimise_s"], "mse": float(r.mse.mean())})
        reached = next((b for b in budgets if b["mse"] <= enc_mse), None)
        r_hyb = invert(gen, xt[:n], method="hybrid", steps=max(1, budgets[-1]["steps"] // 4), **hybrid_kw)
    out["encoder_vs_optimisation"] = {
        "images": n, "encoder_train_s": train_s, "encoder_steps": s["encoder_steps"],
        "encoder": {"seconds": t_enc, "seconds_with_decode": t_enc_total, "mse": enc_mse},
        "optimisation_budgets": budgets, "optimisation_at_encoder_error": reached,
        "hybrid": {"steps": max(1, budgets[-1]["steps"] // 4), "seconds": r_hyb.timings["total_s"], "mse": float(r_hyb.mse.mean())},
        "speedup_at_encoder_error": reached["seconds"] / t_enc if reached else None,
        "speedup_at_encoder_error_lower_bound": None if reached else budgets[-1]["seconds"] / t_enc,
        "goal": f"encoder >= {GOAL_ENCODER:g}x faster than optimisation at its error, on a trained generator",
    }
    opt_steps = budgets[-1]["steps"]

    # 3. inpainting fidelity per method (masked L1 of the decode outside the mask; GAN side of Table 4.1)
    from tryon.geometry.masks import random_rectangle_mask

    g = torch.Generator().manual_seed(3)
    masks = torch.stack([random_rectangle_mask((32, 32), (0.3, 0.5), generator=g) for _ in range(n)])[:, None]
    table = []
    with study.section("inpainting"):
        for name, kw in (("optimisation (I2SG-style)", {"method": "optimisation", "steps": opt_steps}),
                         ("encoder", {"method": "encoder", "encoder": enc}),
                         ("hybrid (In-Domain)", {"method": "hybrid", "encoder": enc, "steps": max(1, opt_steps // 4), "lr": 0.05,
                                                 "domain_weight": 0.01}),
                         ("plumerault (blurred MSE, sigma 1)", {"method": "plumerault", "steps": opt_steps, "sigma": 1.0})):
            t0 = time.perf_counter()
            res = inpaint(gen, xt[:n], masks, **kw)
            sec = time.perf_counter() - t0
            table.append({"method": name, "masked_l1_decode": float(masked_l1(res.decoded, xt[:n], masks)),
                          "l1_inside_mask": float(((res.images - xt[:n]).abs() * masks).sum() / (masks.sum() * 3)),
                          "seconds": sec})
    ed = "edibert-inpaint" in {t.name for t in tryon.list_tasks()} if hasattr(tryon, "list_tasks") else False
    note = ("EdiBERT rows skipped: " + ("no --edibert-weights given (random EdiBERT weights would not be a comparison)"
            if ed else "the edibert-inpaint task is not registered"))
    out["inpainting"] = {"images": n, "masks": "rectangles 30-50 % of the side", "rows": table, "edibert": note,
                         "not_measured": "proxy-FID and density/coverage: benchmarks/inpaint_compare.py (000 Table 4.1 analogue)"}

    # 4. sprite directions: requested vs produced factor change
    sg = SpriteGenerator(8, 32, seed=0)
    dir_rows = []
    with study.section("directions"):
        for tr in ("shift_x", "shift_y", "zoom", "brightness"):
            amounts = (0.05, 0.1, 0.15) if tr.startswith("shift") else (0.1, 0.2, 0.3)
            data = build_trajectories(sg, tr, n=s["direction_n"], amounts=amounts, steps_per_stage=s["stage_steps"], lr=0.05,
                                      sigma=1.5, seed=0)
            dirn = fit_direction(data, factor=tr)
            probe = (-0.1, -0.05, 0.05, 0.1) if tr.startswith("shift") else (-0.2, -0.1, 0.1, 0.2)
            ev = evaluate_sprite_direction(sg, dirn, tr, amounts=probe, n=s["probe_n"])
            true = {"shift_x": 0, "shift_y": 1, "zoom": 2, "brightness": 3}[tr]
            dir_rows.append({"transform": tr, "rows_kept": len(data), "cos_to_true_direction": abs(float(dirn.u @ sg.mixing[true])),
                             "mean_abs_error": ev["mean_abs_error"], "spearman": ev["spearman"],
                             "produced_vs_requested": [[r["requested"], round(r["produced_mean"], 4)] for r in ev["rows"]]})
    out["directions"] = dir_rows


def _scaling_table(results: dict[str, Any]) -> list[str]:
    sc = results["batch_scaling"]
    cls = results["settings"].get("cpu_class", "?")
    md = [f"Batch scaling ({sc['steps']} steps per timing, best of {results['budget']['repeats']}; MACs per image and "
          f"step: optimisation {sc['macs_per_image_step']['optimisation'] / 1e6:.1f} M, hybrid "
          f"{sc['macs_per_image_step']['hybrid'] / 1e6:.1f} M). *vs linear* = images/s at B ÷ (B × images/s at 1), "
          f"the goal's ratio ({sc['goal']}); *ceiling* = that ratio if each added image cost only its MACs at the "
          "reference convolution's speed.", "",
          "| CPU class | threads | layout | method | batch | ms/step | images/s | vs linear | ceiling | share of ceiling |",
          "|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {cls} | {r['threads']} | {r['layout']} | {r['method']} | {r['batch']} | {r['ms_per_step']:.2f} | "
           f"{r['images_per_s']:.0f} | {r['scaling_vs_linear']:.2f} | {r['ceiling']:.2f} | {r['share_of_ceiling']:.2f} |"
           for r in sc["rows"]]
    refs = sorted({(r["threads"], round(r["ref_gmac_per_s"], 1)) for r in sc["rows"]})
    md += ["", "Reference convolution speed (torch fp32): " + ", ".join(f"{g} GMAC/s at {t} thread(s)" for t, g in refs)]
    return md


def render(out: Path, results: dict[str, Any]) -> str:
    g = results["generator"]
    e = results["encoder_vs_optimisation"]
    cls = results["settings"].get("cpu_class", "?")
    md = [f"# GAN inversion benchmark ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}", "",
          f"Generator: {g['arch']}, {g['source']}" + (f" ({g['minutes']} min)" if g.get("minutes") else "") + "."]
    if g.get("learned"):
        lr = g["learned"]
        md += [f"Held-out photo crops inverted into it ({lr['images']} crops, {lr['steps']} steps): MSE "
               + ", ".join(f"{k} {v:.4f}" for k, v in lr["mse"].items()) + " (learned.png)."]
    md += [""] + _scaling_table(results)
    md += ["", f"Encoder vs optimisation at equal error ({e['images']} images, CPU class {cls}; encoder trained "
           f"{e['encoder_steps']} steps in {e['encoder_train_s']:.0f} s):", "",
           "| solver | steps | s (latents) | MSE |", "|---|---:|---:|---:|",
           f"| encoder | 1 pass | {e['encoder']['seconds']:.4f} | {e['encoder']['mse']:.2e} |"]
    md += [f"| optimisation | {b['steps']} | {b['seconds']:.3f} | {b['mse']:.2e} |" for b in e["optimisation_budgets"]]
    md += [f"| hybrid | {e['hybrid']['steps']} | {e['hybrid']['seconds']:.3f} | {e['hybrid']['mse']:.2e} |", ""]
    if e["speedup_at_encoder_error"]:
        reached = e["optimisation_at_encoder_error"]
        md += [f"Optimisation first reaches the encoder's MSE with {reached['steps']} steps: the encoder is "
               f"**{e['speedup_at_encoder_error']:.0f}×** faster at its error (goal: {e['goal']})."]
    else:
        md += [f"No optimisation budget reached the encoder's MSE: the encoder is more than "
               f"{e['speedup_at_encoder_error_lower_bound']:.0f}× faster at its error (goal: {e['goal']})."]
    md += ["", "| inpainting method | masked L1 (decode) | L1 in hole | s |", "|---|---|---|---|"]
    md += [f"| {r['method']} | {r['masked_l1_decode']:.4f} | {r['l1_inside_mask']:.4f} | {r['seconds']:.2f} |"
           for r in results["inpainting"]["rows"]]
    md += ["", results["inpainting"]["edibert"], "",
           "| direction | cos(u, true) | mean abs error | Spearman | produced vs requested |", "|---|---|---|---|---|"]
    md += [f"| {r['transform']} | {r['cos_to_true_direction']:.2f} | {r['mean_abs_error']:.4f} | {r['spearman']:.3f} | "
           f"{r['produced_vs_requested']} |" for r in results["directions"]]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-gan-inversion")


if __name__ == "__main__":
    sys.exit(main())
