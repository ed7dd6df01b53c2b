"""The inversion part of ``tryon demo gan``: :func:`inversion_study` computes, :func:`render_inversion` shows.

A top-floor module (next to :mod:`tryon_gan.experiments.demo`): it uses inversion, editing and directions alike.

:func:`inversion_study` trains the inversion encoder, runs every method (optimisation, encoder, hybrid,
plumerault), an inpainting and the directions found on the sprites generator (003 ch. 4), saves three image grids
through ``save(name, image)`` and returns the numbers (JSON values); :func:`render_inversion` adds the section to a
:class:`tryon.report.Report` from those numbers and the saved grids alone. Budgets (:data:`BUDGETS`): ``tiny`` (a
smoke run, seconds), ``quick`` (well under a minute) or ``full``. The generator is part 1's ``ConvGenerator`` with
fixed random weights (targets are its own samples with known latents) unless ``generator`` is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

#: encoder training steps, inversion steps, sprites per direction trajectory set, trajectory steps per stage,
#: direction fitting steps, sprites per direction evaluation
BUDGETS: dict[str, dict[str, int]] = {
    "tiny": {"encoder_steps": 20, "steps": 12, "trajectories": 4, "steps_per_stage": 4, "fit_steps": 20, "eval_n": 8},
    "quick": {"encoder_steps": 100, "steps": 60, "trajectories": 8, "steps_per_stage": 20, "fit_steps": 150, "eval_n": 32},
    "full": {"encoder_steps": 1500, "steps": 400, "trajectories": 48, "steps_per_stage": 30, "fit_steps": 400, "eval_n": 32},
}
#: the grids :func:`inversion_study` saves (artifact names)
GRIDS = {"reconstructions": "grids/inversion-reconstructions.png", "inpainting": "grids/inversion-inpainting.png",
         "directions": "grids/inversion-directions.png"}
TRANSFORMATIONS = ("shift_x", "shift_y", "zoom", "brightness")


def inversion_study(save: Callable[[str, Any], Any], budget: str = "quick", *, generator: Any = None,
                    seed: int = 0) -> dict[str, Any]:
    """Compute the inversion section at ``budget`` (a key of :data:`BUDGETS`); save its grids (:data:`GRIDS`) with
    ``save``; return its figures."""
    import torch

    from tryon.report import grid_image

    from ..directions import build_trajectories, evaluate_sprite_direction, fit_direction
    from ..editing import inpaint
    from ..inversion.encoder_training import train_encoder
    from ..inversion.protocol import invert
    from ..models import ConvGenerator
    from ..sprites import SpriteGenerator

    b = BUDGETS[budget]
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    gen = generator if generator is not None else ConvGenerator(16, 32, 3, base=8).eval().requires_grad_(False)
    d = int(gen.latent_dim)
    z = torch.randn(6, d, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        x = gen(z)
    enc = train_encoder(gen, steps=b["encoder_steps"], batch_size=32, lr=1e-3, width=16, seed=seed)
    steps = b["steps"]
    runs = {
        "optimisation": invert(gen, x, method="optimisation", steps=steps, seed=seed),
        "encoder": invert(gen, x, method="encoder", encoder=enc),
        "hybrid": invert(gen, x, method="hybrid", encoder=enc, steps=max(1, steps // 4), lr=0.05, domain_weight=0.01),
        "plumerault": invert(gen, x, method="plumerault", steps=steps, sigma=1.0),
    }
    save(GRIDS["reconstructions"], grid_image([[x[i]] + [r.reconstructions[i] for r in runs.values()] for i in range(4)],
                                              ["target", *runs], scale=3))

    mask = torch.zeros(4, 1, 32, 32)
    mask[:, :, 8:22, 6:26] = 1
    damaged = x[:4] * (1 - mask) + mask
    inp = inpaint(gen, damaged, mask, method="optimisation", steps=steps, seed=seed)
    save(GRIDS["inpainting"], grid_image([[x[i], damaged[i], inp.decoded[i], inp.images[i]] for i in range(4)],
                                         ["original", "input", "G(z)", "pasted"], scale=3))

    sg = SpriteGenerator(8, 32, seed=seed)
    rows, grid = [], []
    z0 = sg.latents_for(1, x=0.5, y=0.5, scale=0.14, brightness=0.7, hue=0.3)
    for tr in TRANSFORMATIONS:
        amounts = (0.05, 0.1, 0.15) if tr.startswith("shift") else (0.1, 0.2, 0.3)
        data = build_trajectories(sg, tr, n=b["trajectories"], amounts=amounts, steps_per_stage=b["steps_per_stage"],
                                  lr=0.05, sigma=1.5, seed=seed)
        dirn = fit_direction(data, factor=tr, steps=b["fit_steps"])
        ev = evaluate_sprite_direction(sg, dirn, tr, amounts=(-0.1, 0.1) if tr.startswith("shift") else (-0.2, 0.2),
                                       n=b["eval_n"])
        rows.append([tr, ev["mean_abs_error"], ev["spearman"], str([(r["requested"], round(r["produced_mean"], 3))
                                                                      for r in ev["rows"]])])
        steps_t = (-0.15, -0.075, 0.0, 0.075, 0.15) if tr.startswith("shift") else (-0.3, -0.15, 0.0, 0.15, 0.3)
        with torch.no_grad():
            grid.append([sg(dirn.edit(z0, a))[0] for a in steps_t])
    save(GRIDS["directions"], grid_image(grid, ["−2", "−1", "0", "+1", "+2"], ["shift x", "shift y", "zoom", "brightness"],
                                         scale=3))
    return {"budget": budget, "n_images": int(x.shape[0]),
            "reconstruction": [[k, float(r.mse.mean()), r.timings["total_s"], r.timings["images_per_s"]]
                               for k, r in runs.items()],
            "inpaint_hole_l1": float(((inp.images - x[:4]).abs() * mask).sum() / (mask.sum() * 3)),
            "directions": rows, "section_seconds": time.perf_counter() - t_start}


def render_inversion(report: Any, out: str | Path, figures: dict[str, Any]) -> None:
    """Append the inversion section to ``report`` from :func:`inversion_study`'s figures and saved grids."""
    from tryon.study import add_figure

    report.add_text("## GAN inversion (000 §2.2, 003 ch. 2 and 4)\n\nOne batched protocol, "
                    "`invert(generator, images, mask, method=...)`; targets are samples of the generator with known "
                    f"latents, so every method could reach zero error (budget {figures['budget']}).")
    report.add_table(f"Reconstruction per method ({figures['n_images']} images)", ["method", "pixel MSE", "seconds",
                                                                                   "images/s"], figures["reconstruction"])
    add_figure(report, out, GRIDS["reconstructions"], "Reconstructions",
               "target | " + " | ".join(str(r[0]) for r in figures["reconstruction"]))
    add_figure(report, out, GRIDS["inpainting"],
               "Inpainting (mask 1 = white box filled from the inversion of the known pixels)",
               f"original | input | G(z) | pasted; mean |error| in the hole {figures['inpaint_hole_l1']:.4f}")
    report.add_table("Latent directions on the sprites generator (003 Alg. 1): requested vs produced factor change",
                     ["transformation", "mean abs error", "Spearman", "(requested, produced mean)"], figures["directions"])
    add_figure(report, out, GRIDS["directions"], "Edits along each discovered direction",
               "rows: shift x, shift y, zoom, brightness; columns: −2 … +2 steps")


__all__ = ["BUDGETS", "GRIDS", "inversion_study", "render_inversion"]
