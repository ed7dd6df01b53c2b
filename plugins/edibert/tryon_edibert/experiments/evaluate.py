"""Evaluation of EdiBERT editing: the inpainting ablation of 000 Table 4.2 (full method vs each component
removed) and the batched-sampler timing (one token per forward vs one spiral ring per forward).

Metrics: masked L1 (outside the mask, 000 §4.2.4), proxy-FID and density/coverage on the core's proxy
features (``tryon.metrics``; labelled *proxy*: not comparable with Inception FID).

``tryon eval edibert`` is a study (:mod:`tryon.study`): :func:`compute` fills ``results.json`` and saves the grid,
:func:`render` writes the report from them (``--render-only`` re-renders without computing).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["ABLATION", "BUDGETS", "NAME", "ablation", "add_arguments", "compute", "distribution_metrics", "make_masks",
           "render", "sampler_timing"]

#: Table 4.2 rows: (name, switches) — spiral / optimisation / randomisation / collage / dilation
ABLATION: list[tuple[str, dict[str, Any]]] = [
    ("full method", {}),
    ("random order", {"sampler": "random"}),
    ("no optimisation", {"optim_steps": 0}),
    ("no randomisation", {"randomize": False}),
    ("no collage", {"collage": False}),
    ("no dilation", {"dilation": 0}),
]


def make_masks(n: int, size: tuple[int, int], kind: str = "free-form", seed: int = 0) -> torch.Tensor:
    """``n×1×H×W`` masks (1 = edit): ``free-form`` (000 App. D.2, 6×6 grid) or ``rect`` ([0.4, 0.6] sides)."""
    import torch

    from tryon.geometry import free_form_mask, random_rectangle_mask

    g = torch.Generator().manual_seed(seed)
    fn = free_form_mask if kind == "free-form" else random_rectangle_mask
    return torch.stack([fn(size, generator=g) for _ in range(n)])[:, None]


def distribution_metrics(real: torch.Tensor, fake: torch.Tensor, extractor: Any) -> dict[str, float]:
    import torch

    from tryon.metrics import fid, prdc

    with torch.no_grad():
        fr, ff = extractor(real).numpy(), extractor(fake).numpy()
    d = prdc(fr, ff, k=min(5, len(fr) - 1))
    return {"proxy_fid": float(fid(fr, ff)), "density": float(d["density"]), "coverage": float(d["coverage"])}


def _run(model: Any, images: torch.Tensor, masks: torch.Tensor, options: dict[str, Any], batch: int) -> tuple[torch.Tensor, float, int]:
    import torch

    outs, calls = [], 0
    t0 = time.perf_counter()
    for s in range(0, len(images), batch):
        # the raw decode (no paste-back): masked L1 then measures the model's fidelity outside the mask, as in
        # 000 Table 4.2, instead of the seam of the paste
        out, rec = model.edit_tensors(images[s : s + batch], masks[s : s + batch], inpainting=True, seed=s,
                                      **{"paste": False, **options})
        outs.append(out.cpu())
        calls += rec["stats"].model_calls
    return torch.cat(outs), time.perf_counter() - t0, calls


def ablation(model: Any, images: torch.Tensor, masks: torch.Tensor, extractor: Any, *, base: dict[str, Any] | None = None,
             batch: int = 8, rows: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """Inpaint ``images`` under ``masks`` once per ablation row; returns the table rows and the outputs."""
    from tryon.metrics import masked_l1

    base = dict(base or {})
    table, outputs = [], {}
    for name, switches in rows or ABLATION:
        out, wall, calls = _run(model, images, masks, {**base, **switches}, batch)
        row = {"variant": name, "masked_l1": float(masked_l1(out, images, masks)), **distribution_metrics(images, out, extractor),
               "forwards": calls, "wall_s": round(wall, 2)}
        table.append(row)
        outputs[name] = out
    return table, outputs


def sampler_timing(model: Any, images: torch.Tensor, masks: torch.Tensor, extractor: Any, *, base: dict[str, Any] | None = None,
                   batch: int = 8) -> list[dict[str, Any]]:
    """One token per forward (``spiral``) vs batched (``spiral-rings``, ``least-likely`` at 8 and 4 forwards per
    epoch) on the same inputs."""
    from tryon.metrics import masked_l1

    base = {"optim_steps": 0, **(base or {})}
    rows = []
    for name, opts in (("spiral (1 token/forward)", {"sampler": "spiral"}),
                       ("spiral-rings (batched)", {"sampler": "spiral-rings"}),
                       ("least-likely (batched, 8 forwards/epoch)", {"sampler": "least-likely",
                                                                      "sampler_options": {"steps": 8}}),
                       ("least-likely (batched, 4 forwards/epoch)", {"sampler": "least-likely",
                                                                      "sampler_options": {"steps": 4}})):
        out, wall, calls = _run(model, images, masks, {**base, **opts}, batch)
        rows.append({"sampler": name, "wall_s": round(wall, 3), "forwards": calls,
                     "masked_l1": float(masked_l1(out, images, masks)), **distribution_metrics(images, out, extractor)})
    ref = rows[0]["wall_s"]
    for r in rows:
        r["speed-up"] = round(ref / max(r["wall_s"], 1e-9), 2)
        r["l1_vs_one_token"] = round(r["masked_l1"] / max(rows[0]["masked_l1"], 1e-12), 3)
    return rows


def load_images(data: str, n: int, size: tuple[int, int]) -> torch.Tensor:
    import torch

    from tryon.data import ImageFolderDataset

    ds = ImageFolderDataset(data, size=size, validate=True)
    return torch.stack([ds[i] for i in range(min(n, len(ds)))])


def proxy_extractor(images: torch.Tensor, out: Path, steps: int = 150, seed: int = 0) -> Any:
    from tryon.metrics import train_proxy

    return train_proxy(images, out, steps=steps, batch_size=32, input_size=tuple(images.shape[-2:]),
                       widths=(16, 32, 64), seed=seed, device="cpu")


NAME = "eval-edibert"
#: ``n`` images edited, ``optim_steps`` of final latent optimisation (000 eq. 4.2.7), ``proxy_steps`` of the proxy
#: feature net; ``tiny``: a smoke run (seconds; the numbers mean nothing)
BUDGETS: dict[str, dict[str, Any]] = {"tiny": {"n": 4, "optim_steps": 1, "proxy_steps": 2},
                                      "default": {"n": 64, "optim_steps": 200, "proxy_steps": 150}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``tryon eval edibert``'s own options (``--out``, ``--budget``, ``--render-only``: the study's)."""
    p.add_argument("--weights", help="EdiBERT run folder (`tryon train edibert-inpaint`, or DIR/edibert of `tryon demo "
                   "edibert --out DIR`); required unless --render-only")
    p.add_argument("--data", help="image folder of held-out images; required unless --render-only")
    p.add_argument("--n", type=int, default=None, help="images to edit (default: the budget's, 64)")
    p.add_argument("--size", default=None, help="HxW (default: the training size recorded with the weights)")
    p.add_argument("--masks", choices=("free-form", "rect"), default="free-form")
    p.add_argument("--optim-steps", type=int, default=None,
                   help="final latent optimisation steps (000 eq. 4.2.7; default: the budget's, 200)")
    p.add_argument("--proxy-steps", type=int, default=None,
                   help="training steps of the proxy feature net (default: the budget's, 150)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--device", default="cpu")


def compute(study: Any, args: argparse.Namespace) -> None:
    """The ablation and the sampler timing of ``args.weights`` on ``args.data``; the grid ``grid.png``."""
    import torch

    import tryon
    from tryon.sizes import parse_size
    from tryon.errors import InputError
    from tryon.report import grid_image

    for opt in ("weights", "data"):
        if not getattr(args, opt, None):
            raise InputError(f"--{opt}", "a folder (required unless --render-only)", "nothing")
    if args.threads:
        torch.set_num_threads(max(1, int(args.threads)))
    s = study.settings(args)
    model = tryon.load("edibert-inpaint", weights=args.weights, device=args.device)
    trained = model.provenance  # what the run recorded (its training size), read by tryon.load with the weights
    size = parse_size(args.size, minimum=4) if args.size else tuple(trained.get("size", (32, 32)))
    images = load_images(args.data, s["n"], size)
    masks = make_masks(len(images), size, args.masks)
    with study.section("proxy features"):
        extractor = proxy_extractor(images, study.out / "proxy", steps=s["proxy_steps"])
    with study.section("ablation"):
        table, outputs = ablation(model, images, masks, extractor, base={"optim_steps": s["optim_steps"]})
    with study.section("sampler timing"):
        timing = sampler_timing(model, images, masks, extractor)
    study.results.update({"ablation": table, "timing": timing, "n": len(images), "masks": args.masks, "size": list(size),
                          "weights": str(args.weights), "data": str(args.data), "settings": s,
                          "torch_threads": torch.get_num_threads()})
    k = min(6, len(images))
    study.save_image("grid.png", grid_image([[images[i], masks[i].expand(3, -1, -1) * 2 - 1,
                                              *[outputs[n][i] for n, _ in ABLATION]] for i in range(k)],
                                            ["source", "mask", *[n for n, _ in ABLATION]], scale=3))


def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md`` from the record; returns ``{"ablation", "timing", "report"}`` as JSON."""
    from tryon.report import Report
    from tryon.study import add_figure, machine_summary

    table, timing = results["ablation"], results["timing"]
    rep = Report(out, "EdiBERT evaluation")
    rep.add_text(f"Weights `{results['weights']}`, {results['n']} images of `{results['data']}` at "
                 f"{results['size'][0]}×{results['size'][1]}, budget **{results['budget']['name']}** "
                 f"({results['settings']['optim_steps']} optimisation steps); {machine_summary(results)}, "
                 f"{results['torch_threads']} torch thread(s). FID/density/coverage use proxy features trained here "
                 "(not Inception).")
    rep.add_table(f"Inpainting ablation (000 Table 4.2, {results['masks']} masks, {results['n']} images)",
                  list(table[0]), table)
    rep.add_table("One token per forward vs batched samplers", list(timing[0]), timing)
    add_figure(rep, out, "grid.png", "source | mask | results")
    path = rep.write()
    return json.dumps({"ablation": table, "timing": timing, "report": str(path)}, indent=2)
