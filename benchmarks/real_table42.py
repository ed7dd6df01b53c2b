"""000 Table 4.2 on real photographs: the EdiBERT inpainting ablation, each component of App. D Alg. 7 removed in turn.

The ablation of the EdiBERT plugin (``tryon_edibert.experiments.evaluate.ABLATION``: full method, random order, no
optimisation, no randomisation, no collage, no dilation) on held-out 32×32 crops of the photos scikit-image ships, with
the core's free-form masks (the seed runs Table 4.2 on free-form masks, 000 App. D.2), two mask seeds. Every row is a
raw decode (no paste-back), so masked L1 — the mean |output − source| outside the mask, 000 §4.2.4 — measures the
model's fidelity, as in the seed's table; proxy-FID, density and coverage (k = 5) are taken against every held-out crop
in the features of a :mod:`tryon.metrics` proxy trained on the training crops (not Inception). ``optim_steps`` sets
the latent optimisation of every row but "no optimisation" (the seed: 200; the default budget here: 50, for time).

Weights: ``--edibert RUN`` (a ``tryon train edibert-inpaint`` run on the same crops, e.g. the one
``benchmarks/real_table41.py --train-minutes`` writes). Writes ``results.json`` and ``table.md``::

    .venv/bin/python benchmarks/real_table42.py --out runs/real-table42 --edibert runs/real-table41/runs/edibert
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tryon.study import script

NAME = "real-table42"
BUDGETS = {
    "tiny": {"train_crops": 64, "test_crops": 16, "n_eval": 4, "seeds": [0], "proxy_steps": 5, "optim_steps": 1},
    "default": {"train_crops": 4000, "test_crops": 200, "n_eval": 32, "seeds": [0, 1], "proxy_steps": 300, "optim_steps": 50},
}
#: 000 Table 4.2 (FFHQ 256, free-form masks): masked L1, FID, density, coverage per row
SEED_TABLE = {"full method": (0.0201, 19.4, 1.14, 0.96), "random order": (0.0206, 20.7, 1.13, 0.95),
              "no optimisation": (0.0299, 20.3, 1.20, 0.94), "no randomisation": (0.0198, 20.5, 1.26, 0.92),
              "no collage": (0.0252, 19.9, 1.11, 0.95), "no dilation": (0.0197, 23.3, 0.96, 0.91)}
#: (the component, the seed's figure, metric, lower is better): the full method against the row without it
CLAIMS = [("no optimisation", "optimisation improves fidelity: masked L1 0.0201 < 0.0299", "masked_l1", True),
          ("no collage", "the collage improves fidelity: masked L1 0.0201 < 0.0252", "masked_l1", True),
          ("no dilation", "dilation improves realism: FID 19.4 < 23.3", "proxy_fid", True),
          ("no dilation", "dilation improves density: 1.14 > 0.96", "density", False),
          ("random order", "the spiral order improves realism: FID 19.4 < 20.7", "proxy_fid", True),
          ("no randomisation", "randomisation improves realism: FID 19.4 < 20.5", "proxy_fid", True)]


def _table41() -> Any:
    """``benchmarks/real_table41.py`` (the scripts are not a package): the photo set, the scores and the verdicts."""
    spec = importlib.util.spec_from_file_location("bench_real_table41", Path(__file__).with_name("real_table41.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def compute(study: Any, args: argparse.Namespace) -> None:
    import torch

    import tryon
    from tryon_edibert.experiments.evaluate import ABLATION

    knobs = study.knobs
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else knobs["seeds"]
    n_eval = args.n_eval or knobs["n_eval"]
    if not args.edibert:
        raise SystemExit("--edibert RUN is needed (a `tryon train edibert-inpaint` run on photo crops)")
    table41 = _table41()
    torch.manual_seed(0)
    data, held, extractor, real_features = table41.photo_set(study, args.data, n_eval)
    pipe = tryon.load("edibert-inpaint", weights=args.edibert, device="cpu")
    base = {"optim_steps": int(knobs["optim_steps"])}
    rows = []
    for seed in seeds:
        source = held[np.random.default_rng(seed).permutation(len(held))[:n_eval]]
        masks = table41.masks_for("free-form", n_eval, 32, seed)
        for name, switches in ABLATION:
            with study.section(f"seed {seed} {name}"):
                raw, s_per = table41.run_batched(
                    lambda x, m, kw={**base, **switches, "seed": seed}: pipe(x, m, paste=False, **kw), source, masks)
            rows.append({"seed": seed, "variant": name, "s_per_image": s_per,
                         **table41.score(raw, source, source, masks, real_features, extractor)})
    study.results.update({"data": str(data), "weights": str(args.edibert), "n_eval": n_eval, "n_real": len(held),
                          "k": min(5, n_eval - 1), "seeds": seeds, "optim_steps": base["optim_steps"], "rows": rows,
                          "verdicts": verdicts(rows, seeds, table41.paired_verdict), "seed_table_4_2": SEED_TABLE})


def verdicts(rows: list[dict[str, Any]], seeds: list[int], paired_verdict: Any) -> list[dict[str, Any]]:
    """Each claim of :data:`CLAIMS`: the full method against the row without the component, per seed
    (``paired_verdict``: ``real_table41.paired_verdict``)."""
    by = {(r["variant"], r["seed"]): r for r in rows}
    out = []
    for without, seed_says, metric, lower in CLAIMS:
        v = paired_verdict([by[("full method", s)][metric] for s in seeds], [by[(without, s)][metric] for s in seeds], lower)
        out.append({"claim": f"full method vs {without} ({metric})", "without": without, "metric": metric,
                    "seed_reports": seed_says, "full": v["a"], "ablated": v["b"], "per_seed": v["per_seed"],
                    "verdict": v["verdict"]})
    return out


def render(out: Path, result: dict[str, Any]) -> str:
    """``table.md`` from the results alone."""
    m = result["machine"]
    lines = [f"EdiBERT inpainting ablation (000 Table 4.2) on {result['n_eval']} held-out 32×32 photo crops per seed, "
             f"free-form masks, seeds {result['seeds']}, {result['optim_steps']} optimisation steps, raw decodes; "
             f"density/coverage against {result['n_real']} held-out crops (proxy features, k = {result['k']}); "
             f"{m['cpu']} ({', '.join(m['isa'])}), {result['date'][:10]}. Mean ± half-range over seeds.", "",
             "| variant | masked L1 ↓ | hole L1 | proxy-FID ↓ | density ↑ | coverage ↑ | s / image | seed: masked L1, FID, density |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in result["seed_table_4_2"]:
        sel = [r for r in result["rows"] if r["variant"] == name]
        if not sel:
            continue

        def cell(key: str, fmt: str, sel: list[dict[str, Any]] = sel) -> str:
            v = np.array([r[key] for r in sel])
            return f"{v.mean():{fmt}} ± {(v.max() - v.min()) / 2:{fmt}}"

        st = result["seed_table_4_2"][name]
        lines.append(f"| {name} | {cell('masked_l1', '.4f')} | {np.mean([r['inside_l1'] for r in sel]):.4f} | "
                     f"{cell('proxy_fid', '.3f')} | {cell('density', '.3f')} | {np.mean([r['coverage'] for r in sel]):.3f} | "
                     f"{np.mean([r['s_per_image'] for r in sel]):.3f} | {st[0]}, {st[1]}, {st[2]} |")
    lines += ["", "| claim | the seed | full | without | per seed | verdict |", "|---|---|---:|---:|---|---|"]
    lines += [f"| {v['claim']} | {v['seed_reports']} | {v['full']:.4g} | {v['ablated']:.4g} | "
              f"{', '.join('yes' if p else 'no' for p in v['per_seed'])} | {v['verdict']} |" for v in result["verdicts"]]
    return "\n".join(lines)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=None, help="a `tryon data photo-crops` folder (default: written under --out)")
    ap.add_argument("--n-eval", type=int, default=None, help="images per seed (default: the budget's)")
    ap.add_argument("--seeds", default=None, help="mask seeds, e.g. 0,1 (default: the budget's)")
    ap.add_argument("--edibert", default=None, help="edibert-inpaint weights (a `tryon train edibert-inpaint` run)")


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
