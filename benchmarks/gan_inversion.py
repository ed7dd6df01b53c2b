"""GAN inversion benchmark: batch scaling of optimisation inversion, encoder vs optimisation,
inpainting fidelity per method (the GAN side of the 000 Table 4.1 analogue), and sprite directions.

    .venv/bin/python benchmarks/gan_inversion.py --out runs/bench-gan-inversion [--threads 1] [--budget quick]

The generator is part 1's DCGAN-style ``ConvGenerator`` (32×32×3, d = 16, base 8), fixed random weights
(speed and inversion accuracy on the generator's own samples do not need trained weights). Targets are
``G(z*)`` with known ``z*``. Writes ``results.json`` (machine, versions and date included) and ``table.md``.
EdiBERT rows: the EdiBERT plugin's tasks are looked up through the registry only (plugins never import each
other); they need trained weights (``--edibert-weights``), else the rows are skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-inversion"
BUDGETS = {
    "tiny": {"batches": "1,2", "steps": 2, "repeats": 1, "n": 2, "encoder_steps": 2, "opt_steps": 4, "direction_n": 2,
             "stage_steps": 1, "probe_n": 4},
    "quick": {"batches": "1,2,4,8,16", "steps": 40, "repeats": 2, "n": 16, "encoder_steps": 150, "opt_steps": 100,
              "direction_n": 16, "stage_steps": 30, "probe_n": 64},
    "default": {"batches": "1,2,4,8,16", "steps": 40, "repeats": 3, "n": 16, "encoder_steps": 1500, "opt_steps": 400,
                "direction_n": 48, "stage_steps": 30, "probe_n": 64},
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--quick", dest="budget", action="store_const", const="quick", help="same as --budget quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default=None, help="optimisation batch sizes timed (budget: 1,2,4,8,16)")
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps per timing (budget: 40)")
    ap.add_argument("--edibert-weights", default=None)


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon.metrics import masked_l1
    from tryon_gan.directions import build_trajectories, evaluate_sprite_direction, fit_direction
    from tryon_gan.editing import inpaint
    from tryon_gan.inversion import invert, train_encoder
    from tryon_gan.models import ConvGenerator
    from tryon_gan.sprites import SpriteGenerator

    s = study.settings(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d = 16
    gen = ConvGenerator(d, 32, 3, base=8).eval().requires_grad_(False)
    out = study.results
    out["settings"] = {**s, "torch_threads": torch.get_num_threads()}

    # 1. batch scaling
    batches = [int(b) for b in str(s["batches"]).split(",")]
    zt = torch.randn(max(batches + [s["n"]]), d, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        xt = gen(zt)
    invert(gen, xt[:2], steps=3)  # warm-up
    rows = []
    with study.section("batch scaling"):
        for b in batches:
            best = math.inf
            for _ in range(s["repeats"]):
                t0 = time.perf_counter()
                invert(gen, xt[:b], method="optimisation", steps=s["steps"], seed=0)
                best = min(best, time.perf_counter() - t0)
            rows.append({"batch": b, "seconds": best, "images_per_s": b / best})
    base = rows[0]["images_per_s"]
    for r in rows:
        r["scaling_vs_linear"] = r["images_per_s"] / (base * r["batch"] / rows[0]["batch"])
    out["batch_scaling"] = {"steps": s["steps"], "rows": rows, "target": ">= 0.7 x linear from batch 1 to 16"}

    # 2. encoder vs optimisation
    n, opt_steps = s["n"], s["opt_steps"]
    with study.section("encoder vs optimisation"):
        t0 = time.perf_counter()
        enc = train_encoder(gen, steps=s["encoder_steps"], batch_size=32, lr=1e-3, width=16, seed=0)
        train_s = time.perf_counter() - t0
        r_enc = invert(gen, xt[:n], method="encoder", encoder=enc)
        t_enc = min(invert(gen, xt[:n], method="encoder", encoder=enc).timings["total_s"] for _ in range(5))
        r_opt = invert(gen, xt[:n], method="optimisation", steps=opt_steps, seed=0)
        r_hyb = invert(gen, xt[:n], method="hybrid", encoder=enc, steps=max(1, opt_steps // 4), lr=0.05, domain_weight=0.01)
    # per-step wall time of optimisation and the first step whose mean objective reaches the encoder's MSE
    per_step = r_opt.timings["optimise_s"] / opt_steps
    mean_curve = r_opt.losses.nanmean(1)
    reach = (mean_curve <= float(r_enc.mse.mean())).nonzero()
    reach_step = int(reach[0]) + 1 if len(reach) else None
    t_reach = per_step * reach_step if reach_step else None
    out["encoder_vs_optimisation"] = {
        "images": n, "encoder_train_s": train_s,
        "encoder": {"seconds": t_enc, "mse": float(r_enc.mse.mean())},
        "optimisation": {"steps": opt_steps, "seconds": r_opt.timings["total_s"], "mse": float(r_opt.mse.mean()),
                         "steps_to_encoder_mse": reach_step, "seconds_to_encoder_mse": t_reach},
        "hybrid": {"steps": max(1, opt_steps // 4), "seconds": r_hyb.timings["total_s"], "mse": float(r_hyb.mse.mean())},
        "speedup_at_encoder_error": (t_reach / t_enc) if t_reach else None,
        "speedup_full_budget": r_opt.timings["total_s"] / t_enc,
        "target": "encoder >= 100x faster than optimisation at its reconstruction error",
    }

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
                         "not_measured": "proxy-FID and density/coverage need a trained GAN and data; not run here"}

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


def render(out: Path, results: dict[str, Any]) -> str:

    rows = results["batch_scaling"]["rows"]
    e = results["encoder_vs_optimisation"]
    n, opt_steps = e["images"], e["optimisation"]["steps"]
    md = [f"# GAN inversion benchmark ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}; torch threads {results['settings']['torch_threads']}", "",
          "| batch | s | images/s | vs linear |", "|---|---|---|---|"]
    md += [f"| {r['batch']} | {r['seconds']:.3f} | {r['images_per_s']:.1f} | {r['scaling_vs_linear']:.2f} |" for r in rows]
    md += ["", f"encoder: {e['encoder']['seconds'] * 1e3:.2f} ms / {n} images, MSE {e['encoder']['mse']:.4f}; "
           f"optimisation: {e['optimisation']['seconds']:.2f} s ({opt_steps} steps), MSE {e['optimisation']['mse']:.2e}, "
           f"reaches the encoder's MSE after {e['optimisation']['steps_to_encoder_mse']} steps "
           f"(speed-up at that error {e['speedup_at_encoder_error']}); hybrid MSE {e['hybrid']['mse']:.2e}", "",
           "| inpainting method | masked L1 (decode) | L1 in hole | s |", "|---|---|---|---|"]
    md += [f"| {r['method']} | {r['masked_l1_decode']:.4f} | {r['l1_inside_mask']:.4f} | {r['seconds']:.2f} |"
           for r in results["inpainting"]["rows"]]
    md += ["", results["inpainting"]["edibert"], "",
           "| direction | cos(u, true) | mean abs error | Spearman | produced vs requested |", "|---|---|---|---|---|"]
    md += [f"| {r['transform']} | {r['cos_to_true_direction']:.2f} | {r['mean_abs_error']:.4f} | {r['spearman']:.3f} | "
           f"{r['produced_vs_requested']} |" for r in results["directions"]]
    text = "\n".join(md) + "\n"
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-gan-inversion")


if __name__ == "__main__":
    sys.exit(main())
