"""The inversion section of ``tryon demo gan``: :func:`inversion_report_section(report, out_dir, budget)`.

A top-floor module (next to :mod:`tryon_gan.experiments.demo`): it uses inversion, editing and directions alike.

Adds to a :class:`tryon.report.Report`: reconstructions per method (optimisation, encoder, hybrid,
plumerault) with their pixel MSE and timings, edits along the directions found on the sprites generator
(003 ch. 4) with requested vs produced factor changes, and an inpainting grid. ``budget``: ``"quick"`` (a
smoke run, well under a minute) or ``"full"``. The generator is part 1's ``ConvGenerator`` with fixed random
weights (targets are its own samples with known latents) unless ``generator`` is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch


def inversion_report_section(report: Any, out_dir: str | Path, budget: str = "quick", *, generator: Any = None,
                             seed: int = 0) -> dict[str, Any]:
    """Append the inversion section to ``report``; returns the figures it shows (JSON-friendly)."""
    from ..directions import build_trajectories, evaluate_sprite_direction, fit_direction
    from ..editing import inpaint
    from ..inversion.encoder_training import train_encoder
    from ..inversion.protocol import invert
    from ..models import ConvGenerator
    from ..sprites import SpriteGenerator

    quick = budget != "full"
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    gen = generator if generator is not None else ConvGenerator(16, 32, 3, base=8).eval().requires_grad_(False)
    d = int(gen.latent_dim)
    z = torch.randn(6, d, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        x = gen(z)
    enc = train_encoder(gen, steps=100 if quick else 1500, batch_size=32, lr=1e-3, width=16, seed=seed)
    steps = 60 if quick else 400
    runs = {
        "optimisation": invert(gen, x, method="optimisation", steps=steps, seed=seed),
        "encoder": invert(gen, x, method="encoder", encoder=enc),
        "hybrid": invert(gen, x, method="hybrid", encoder=enc, steps=steps // 4, lr=0.05, domain_weight=0.01),
        "plumerault": invert(gen, x, method="plumerault", steps=steps, sigma=1.0),
    }
    report.add_text("## GAN inversion (000 §2.2, 003 ch. 2 and 4)\n\nOne batched protocol, "
                    "`invert(generator, images, mask, method=...)`; targets are samples of the generator with known "
                    "latents, so every method could reach zero error.")
    report.add_table("Reconstruction per method (6 images)", ["method", "pixel MSE", "seconds", "images/s"],
                     [[k, float(r.mse.mean()), r.timings["total_s"], r.timings["images_per_s"]] for k, r in runs.items()])
    report.add_image_grid("Reconstructions", [[x[i]] + [r.reconstructions[i] for r in runs.values()] for i in range(4)],
                          ["target", *runs], scale=3)

    mask = torch.zeros(4, 1, 32, 32)
    mask[:, :, 8:22, 6:26] = 1
    damaged = x[:4] * (1 - mask) + mask
    inp = inpaint(gen, damaged, mask, method="optimisation", steps=steps, seed=seed)
    report.add_image_grid("Inpainting (mask 1 = white box filled from the inversion of the known pixels)",
                          [[x[i], damaged[i], inp.decoded[i], inp.images[i]] for i in range(4)],
                          ["original", "input", "G(z)", "pasted"], scale=3)

    sg = SpriteGenerator(8, 32, seed=seed)
    rows, grid = [], []
    z0 = sg.latents_for(1, x=0.5, y=0.5, scale=0.14, brightness=0.7, hue=0.3)
    for tr in ("shift_x", "shift_y", "zoom", "brightness"):
        amounts = (0.05, 0.1, 0.15) if tr.startswith("shift") else (0.1, 0.2, 0.3)
        data = build_trajectories(sg, tr, n=8 if quick else 48, amounts=amounts, steps_per_stage=20 if quick else 30,
                                  lr=0.05, sigma=1.5, seed=seed)
        dirn = fit_direction(data, factor=tr, steps=150 if quick else 400)
        ev = evaluate_sprite_direction(sg, dirn, tr, amounts=(-0.1, 0.1) if tr.startswith("shift") else (-0.2, 0.2),
                                       n=32)
        rows.append([tr, ev["mean_abs_error"], ev["spearman"], str([(r["requested"], round(r["produced_mean"], 3))
                                                                      for r in ev["rows"]])])
        steps_t = (-0.15, -0.075, 0.0, 0.075, 0.15) if tr.startswith("shift") else (-0.3, -0.15, 0.0, 0.15, 0.3)
        with torch.no_grad():
            grid.append([sg(dirn.edit(z0, a))[0] for a in steps_t])
    report.add_table("Latent directions on the sprites generator (003 Alg. 1): requested vs produced factor change",
                     ["transformation", "mean abs error", "Spearman", "(requested, produced mean)"], rows)
    report.add_image_grid("Edits along each discovered direction", grid, ["−2", "−1", "0", "+1", "+2"],
                          ["shift x", "shift y", "zoom", "brightness"], scale=3)
    figures = {"reconstruction_mse": {k: float(r.mse.mean()) for k, r in runs.items()},
               "seconds": {k: r.timings["total_s"] for k, r in runs.items()},
               "inpaint_hole_l1": float(((inp.images - x[:4]).abs() * mask).sum() / (mask.sum() * 3)),
               "directions": rows, "section_seconds": time.perf_counter() - t_start, "out_dir": str(out_dir)}
    return figures


__all__ = ["inversion_report_section"]
