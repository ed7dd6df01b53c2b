"""000 Table 4.1 on real photographs: inpainting and compositing scored with the seed's masked L1 (§4.2.4, App. D).

On held-out 32×32 crops of the photos scikit-image ships (``tryon data photo-crops``, never downloaded), with the
seed's rectangles (sides 0.4–0.6 of the image, 000 App. D.2) and the core's free-form masks (1 = edited), two
mask/pairing seeds:

* **inpainting**: the masked region of the source ``i_s`` is to be filled;
* **compositing**: a region of another held-out crop ``i_t`` is pasted in, ``i_e = i_s ⊙ (1 − m) + i_t ⊙ m``
  (000 eq. 4.2.8, written with m on the edit), and is to be harmonised.

Methods: OpenCV — Telea (``cv2.inpaint``) for inpainting, Poisson blending (``cv2.seamlessClone``, normal clone) for
compositing: what a user already has — and the collage itself; ``edibert-inpaint`` with the MaskGIT schedule and no
latent optimisation (``edibert-maskgit``: the project's fast path), ``edibert-composite`` with its defaults (spiral
sampler, no randomisation, 200 latent-optimisation steps, 000 App. D.1.2.2: ``edibert``) and without the
optimisation (``edibert-no-optim``; the parallel samplers do not apply: they re-mask the pasted tokens and would
inpaint); ``gan-inpaint`` / ``gan-composite`` with the run's inversion method (``gan``). Each learnt method is scored
on its raw decode (as in Table 4.1, where the edit may change pixels outside the mask) and pasted (``…+paste``: the
tasks' default, the source kept outside the mask beyond the core's seam).

Metrics, pixels in [0, 1]: **masked L1** — mean |output − i_s| outside the mask, the seed's metric (000 §4.2.4
"Metrics", after Chai et al. 2021); ``inside_l1`` — mean |output − reference| inside the mask, the reference being the
truth (inpainting) or the collage (compositing: how much of the pasted content survives); proxy **density** /
coverage (Table 4.1's Dens./Cover. columns; k = 5, the real support estimated from all held-out crops) and proxy-FID,
in the features of a :mod:`tryon.metrics` proxy trained here on the training crops (not comparable with Inception
numbers); seconds per image. Orderings are judged per seed (:func:`tryon.study.seed_verdict`).

Weights come from ``--edibert``/``--gan`` run folders or are trained here with ``--train-minutes M`` (the CLI recipe of
``benchmarks/real_inpaint.py``). A study (:mod:`tryon.study`): ``results.json``, ``table.md`` and
``grid_<task>_<masks>.png``::

    .venv/bin/python benchmarks/real_table41.py --out runs/real-table41                    # OpenCV rows, ~1 min
    .venv/bin/python benchmarks/real_table41.py --out runs/real-table41 --train-minutes 5   # + EdiBERT, GAN
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tryon.study import script, seed_verdict

NAME = "real-table41"
BUDGETS = {
    "tiny": {"train_crops": 64, "test_crops": 16, "n_eval": 4, "seeds": [0], "masks": ["rect"], "proxy_steps": 5},
    "default": {"train_crops": 4000, "test_crops": 200, "n_eval": 32, "seeds": [0, 1], "masks": ["rect", "free-form"],
                "proxy_steps": 300},
}
TASKS = ("inpaint", "composite")
#: the learnt methods per task: (row name, task of the plugin, call options); every call is a raw decode
LEARNT = {
    "inpaint": [("edibert-maskgit", "edibert-inpaint", {"sampler": "maskgit", "optim_steps": 0}),
                ("gan", "gan-inpaint", {})],
    "composite": [("edibert", "edibert-composite", {}), ("edibert-no-optim", "edibert-composite", {"optim_steps": 0}),
                  ("gan", "gan-composite", {})],
}
#: Table 4.1 of 000 (FFHQ 256×256): masked L1 ↓ and density ↑ per task (inpainting also FID, coverage)
SEED_TABLE = {
    "inpaint": {"I2SG++": (0.0767, 0.99), "I2SG†++": (0.0763, 1.25), "LC": (0.1027, 1.12), "EdiBERT": (0.0290, 1.16)},
    "composite": {"I2SG++": (0.0851, 0.77), "I2SG†++": (0.0866, 1.07), "LC": (0.1116, 1.00), "EdiBERT": (0.0307, 0.94),
                  "ID-GAN": (0.0570, 0.75)},
}
METRICS = ("masked_l1", "inside_l1", "density", "coverage", "proxy_fid", "spread", "s_per_image")


def _sibling(name: str) -> Any:
    """A module of this folder by path (the benchmark scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def masks_for(kind: str, n: int, size: int, seed: int) -> Any:
    """``n`` masks of the seed's rectangles (sides 0.4–0.6) or the core's free-form family, 1 = edited."""
    import torch

    from tryon.geometry import free_form_mask, random_rectangle_mask

    g = torch.Generator().manual_seed(seed)
    fn = free_form_mask if kind == "free-form" else random_rectangle_mask
    return torch.stack([fn((size, size), generator=g) for _ in range(n)])[:, None]


def _uint8(t: Any) -> np.ndarray:
    return (((t.detach().float().cpu().clamp(-1, 1).numpy().transpose(0, 2, 3, 1) + 1) / 2) * 255).round().astype(np.uint8)


def _tensor(images: list[np.ndarray]) -> Any:
    import torch

    return torch.from_numpy(np.stack(images).astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)


def telea(source: Any, masks: Any) -> Any:
    """OpenCV's Telea inpainting (radius 3) of the masked pixels."""
    import cv2

    m = masks[:, 0].numpy().astype(np.uint8)
    return _tensor([cv2.inpaint(np.ascontiguousarray(x[..., ::-1]), mk, 3, cv2.INPAINT_TELEA)[..., ::-1]
                    for x, mk in zip(_uint8(source), m)])


def poisson_blend(source: Any, target: Any, masks: Any, pad: int = 8) -> Any:
    """OpenCV's Poisson blending of ``target`` into ``source`` inside ``masks`` (normal clone). The images are
    padded by reflection first: ``seamlessClone`` needs the mask's box strictly inside the destination, and masks
    here touch the border. Outside the mask the output is ``source`` exactly."""
    import cv2

    out = []
    for si, ti, mi in zip(_uint8(source), _uint8(target), masks[:, 0].numpy().astype(np.uint8)):
        sp = cv2.copyMakeBorder(np.ascontiguousarray(si[..., ::-1]), pad, pad, pad, pad, cv2.BORDER_REFLECT)
        tp = cv2.copyMakeBorder(np.ascontiguousarray(ti[..., ::-1]), pad, pad, pad, pad, cv2.BORDER_REFLECT)
        mp = cv2.copyMakeBorder(mi * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        x, y, w, h = cv2.boundingRect(mp)
        blended = cv2.seamlessClone(tp, sp, mp, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
        out.append(blended[pad:-pad, pad:-pad, ::-1])
    return _tensor(out)


def score(out: Any, source: Any, inside_ref: Any, masks: Any, real_features: np.ndarray, extractor: Any) -> dict[str, float]:
    """masked L1 (outside the mask, vs the source), L1 inside it (vs ``inside_ref``), proxy density/coverage/FID, and
    ``spread``: the outputs' per-pixel standard deviation over the images ÷ the sources' (about 0 for a method whose
    output does not depend on its input, e.g. a collapsed generator)."""
    import torch

    from tryon.metrics import fid, prdc

    o = (out.float().clamp(-1, 1) + 1) / 2
    s, r, m = (source + 1) / 2, (inside_ref + 1) / 2, masks
    outside = float(((o - s).abs() * (1 - m)).sum() / (3 * (1 - m).sum()))
    inside = float(((o - r).abs() * m).sum() / (3 * m.sum()))
    with torch.no_grad():
        fake = extractor(out.float().clamp(-1, 1)).numpy()
    d = prdc(real_features, fake, k=min(5, len(fake) - 1))  # k = 5 (the tiny budget scores 4 images)
    return {"masked_l1": outside, "inside_l1": inside, "density": float(d["density"]), "coverage": float(d["coverage"]),
            "proxy_fid": float(fid(real_features, fake)), "spread": float(o.std(0).mean() / s.std(0).mean().clamp_min(1e-8))}


def photo_set(study: Any, data_arg: str | None, n_test: int) -> tuple[Path, Any, Any, np.ndarray]:
    """The photo crops (``data_arg`` or written under the study's folder, at least ``n_test`` held out), the held-out
    crops as one tensor, a proxy feature net trained on the training crops and the held-out crops' features."""
    import torch

    from tryon.data import ImageFolderDataset
    from tryon.data.photos import ensure_photo_crops
    from tryon.metrics import train_proxy

    knobs, out = study.knobs, study.out
    data = Path(data_arg) if data_arg else out / "data"
    with study.section("data"):
        ensure_photo_crops(data, size=32, train=knobs["train_crops"], test=max(knobs["test_crops"], n_test))
    train_set, test_set = ImageFolderDataset(data / "train", size=(32, 32)), ImageFolderDataset(data / "test", size=(32, 32))
    held = torch.stack([test_set[i] for i in range(len(test_set))])
    with study.section("proxy"):
        extractor = train_proxy(torch.stack([train_set[i] for i in range(0, len(train_set), max(1, len(train_set) // 512))]),
                                out / "proxy", steps=knobs["proxy_steps"], batch_size=32, input_size=(32, 32),
                                widths=(16, 32, 64), device="cpu")
        with torch.no_grad():
            real_features = extractor(held).numpy()
    return data, held, extractor, real_features


def paired_verdict(a: list[float], b: list[float], lower: bool) -> dict[str, Any]:
    """``a`` against ``b`` seed by seed (``lower``: the smaller wins): the means, who won per seed, the verdict."""
    diffs = [x - y for x, y in zip(a, b)]
    return {"a": float(np.mean(a)), "b": float(np.mean(b)), "per_seed": [(d < 0) if lower else (d > 0) for d in diffs],
            "verdict": seed_verdict(diffs, higher_is_better=not lower)}


def run_batched(fn: Any, x: Any, m: Any, batch: int = 16) -> tuple[Any, float]:
    """``fn(images, masks)`` over ``batch`` images at a time: the outputs (float) and the seconds per image."""
    import torch

    t0 = time.perf_counter()
    out = torch.cat([fn(x[i : i + batch], m[i : i + batch]).float() for i in range(0, len(x), batch)])
    return out, (time.perf_counter() - t0) / len(x)


def compute(study: Any, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon.compose import SEAM_SIGMA, paste_source
    from tryon.report import grid_image

    knobs, out = study.knobs, study.out
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else knobs["seeds"]
    kinds = args.masks.split(",") if args.masks else knobs["masks"]
    tasks = args.tasks.split(",") if args.tasks else list(TASKS)
    n_eval = args.n_eval or knobs["n_eval"]
    torch.manual_seed(0)
    data, held, extractor, real_features = photo_set(study, args.data, 2 * n_eval)
    weights = {"edibert": args.edibert, "gan": args.gan}
    if args.train_minutes:
        with study.section("train"):
            runs = _sibling("real_inpaint").train_on_crops(out, data / "train", args.train_minutes, seeds[0])
        weights = {k: v or runs[k] for k, v in weights.items()}
    pipes: dict[str, Any] = {}
    rows = []
    for task in tasks:
        for kind in kinds:
            for seed in seeds:
                order = np.random.default_rng(seed).permutation(len(held))
                source, target = held[order[:n_eval]], held[order[n_eval : 2 * n_eval]]
                masks = masks_for(kind, n_eval, 32, seed)
                if task == "inpaint":
                    given, inside_ref = source * (1 - masks), source
                    t0 = time.perf_counter()
                    outputs = {"telea": (telea(source, masks), (time.perf_counter() - t0) / n_eval)}
                else:
                    given = inside_ref = source * (1 - masks) + target * masks
                    t0 = time.perf_counter()
                    outputs = {"collage": (given, 0.0),
                               "poisson": (poisson_blend(source, target, masks), (time.perf_counter() - t0) / n_eval)}
                for name, plugin_task, options in LEARNT[task]:
                    family = plugin_task.split("-")[0]
                    if not weights[family]:
                        continue
                    if plugin_task not in pipes:
                        pipes[plugin_task] = tryon.load(plugin_task, weights=weights[family], device="cpu")
                    pipe = pipes[plugin_task]
                    with study.section(f"{task}/{name}"):
                        raw, s_per = run_batched(lambda x, m, p=pipe, o=options: p(x, m, paste=False, **o), given, masks)
                    outputs[name] = (raw, s_per)
                    outputs[f"{name}+paste"] = (paste_source(given, raw, masks, SEAM_SIGMA), s_per)
                for name, (result, s_per) in outputs.items():
                    rows.append({"task": task, "masks": kind, "seed": seed, "method": name, "s_per_image": s_per,
                                 **score(result, source, inside_ref, masks, real_features, extractor)})
                if seed == seeds[0]:
                    cols = {"source": source[:8], "input": given[:8],
                            **{name: result[:8] for name, (result, _) in outputs.items() if name != "collage"}}
                    grid = [[cols[c][i] for c in cols] for i in range(len(cols["source"]))]
                    study.save_image(f"grid_{task}_{kind}.png", grid_image(grid, list(cols), scale=3))
    study.results.update({"data": str(data), "n_eval": n_eval, "n_real": len(held), "k": min(5, n_eval - 1), "seeds": seeds,
                          "weights": weights,
                          "rows": rows, "summary": summary(rows), "orderings": orderings(rows, seeds),
                          "seed_table_4_1": SEED_TABLE})


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± half-range over seeds per (task, masks, method)."""
    out = []
    for key in sorted({(r["task"], r["masks"], r["method"]) for r in rows}):
        sel = [r for r in rows if (r["task"], r["masks"], r["method"]) == key]
        row: dict[str, Any] = {"task": key[0], "masks": key[1], "method": key[2], "seeds": len(sel)}
        for m in METRICS:
            v = np.array([r[m] for r in sel])
            row[m] = float(v.mean())
            row[m + "_halfrange"] = float((v.max() - v.min()) / 2)
        out.append(row)
    return out


#: (id, task, text, method a, method b, metric, lower is better): the seed's claims and the user's bar
ORDERINGS = [
    ("masked-l1", "inpaint", "masked L1: EdiBERT < GAN inversion (raw decodes)", "edibert-maskgit", "gan", "masked_l1", True),
    ("density", "inpaint", "density: EdiBERT > GAN inversion (raw decodes)", "edibert-maskgit", "gan", "density", False),
    ("fid-vs-opencv", "inpaint", "proxy-FID: EdiBERT (pasted) < OpenCV Telea", "edibert-maskgit+paste", "telea",
     "proxy_fid", True),
    ("masked-l1", "composite", "masked L1: EdiBERT < GAN inversion (raw decodes)", "edibert", "gan", "masked_l1", True),
    ("density", "composite", "density: EdiBERT > GAN inversion (raw decodes)", "edibert", "gan", "density", False),
    ("fid-vs-opencv", "composite", "proxy-FID: EdiBERT (pasted) < OpenCV Poisson", "edibert+paste", "poisson",
     "proxy_fid", True),
    ("fid-vs-collage", "composite", "proxy-FID: EdiBERT (pasted) < the collage", "edibert+paste", "collage", "proxy_fid", True),
    ("poisson-vs-collage", "composite", "proxy-FID: OpenCV Poisson < the collage", "poisson", "collage", "proxy_fid", True),
]


def orderings(rows: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Each ordering of :data:`ORDERINGS` per mask family whose rows exist, judged per seed."""
    out = []
    for kind in sorted({r["masks"] for r in rows}):
        for oid, task, text, a, b, metric, lower in ORDERINGS:
            by = {(r["method"], r["seed"]): r for r in rows if r["masks"] == kind and r["task"] == task}
            if not all((m, s) in by for m in (a, b) for s in seeds):
                continue
            out.append({"id": f"{task}-{oid}-{kind}", "task": task, "masks": kind, "ordering": text,
                         **paired_verdict([by[(a, s)][metric] for s in seeds], [by[(b, s)][metric] for s in seeds], lower)})
    return out


def render(out: Path, result: dict[str, Any]) -> str:
    """``table.md`` from the results alone."""
    m = result["machine"]
    lines = [f"{result['n_eval']} held-out 32×32 photo crops per seed, seeds {result['seeds']} (masks and pairings); "
             f"density/coverage against {result['n_real']} held-out crops (proxy features, k = {result['k']}); {m['cpu']} "
             f"({', '.join(m['isa'])}), {result['date'][:10]}. Pixels in [0, 1]; mean ± half-range over seeds. "
             "masked L1: |output − source| outside the mask (000 Table 4.1's metric); inside L1: |output − truth| "
             "(inpainting) or |output − collage| (compositing) inside it; spread: the outputs' per-pixel std over the "
             "images ÷ the sources' (≈ 0: the output ignores the input); `+paste`: the source kept outside the mask "
             "(the tasks' default).", "",
             "| task | masks | method | masked L1 ↓ | inside L1 | density ↑ | coverage ↑ | proxy-FID ↓ | spread | s / image |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["summary"]:
        lines.append(f"| {r['task']} | {r['masks']} | {r['method']} | {r['masked_l1']:.4f} ± {r['masked_l1_halfrange']:.4f} | "
                     f"{r['inside_l1']:.4f} | {r['density']:.3f} ± {r['density_halfrange']:.3f} | {r['coverage']:.3f} | "
                     f"{r['proxy_fid']:.3f} ± {r['proxy_fid_halfrange']:.3f} | {r['spread']:.2f} | {r['s_per_image']:.4f} |")
    if result["orderings"]:
        lines += ["", "| task | masks | ordering | a | b | per seed | verdict |", "|---|---|---|---:|---:|---|---|"]
        for o in result["orderings"]:
            lines.append(f"| {o['task']} | {o['masks']} | {o['ordering']} | {o['a']:.4g} | {o['b']:.4g} | "
                         f"{', '.join('yes' if p else 'no' for p in o['per_seed'])} | {o['verdict']} |")
    for task, table in result["seed_table_4_1"].items():
        cells = "; ".join(f"{k}: masked L1 {v[0]}, density {v[1]}" for k, v in table.items())
        lines += ["", f"Seed, {task} (000 Table 4.1, FFHQ 256×256, Inception features): {cells}."]
    return "\n".join(lines)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=None, help="a `tryon data photo-crops` folder (default: written under --out)")
    ap.add_argument("--n-eval", type=int, default=None, help="images per seed (default: the budget's)")
    ap.add_argument("--seeds", default=None, help="mask/pairing seeds, e.g. 0,1 (default: the budget's)")
    ap.add_argument("--masks", default=None, help="rect,free-form (default: the budget's)")
    ap.add_argument("--tasks", default=None, help="inpaint,composite (default: both)")
    ap.add_argument("--edibert", default=None, help="EdiBERT weights (a `tryon train edibert-inpaint` run)")
    ap.add_argument("--gan", default=None, help="GAN-inversion weights (a `tryon train gan-invert` run)")
    ap.add_argument("--train-minutes", type=float, default=None, help="train EdiBERT and a conv GAN here, M minutes per model")


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
