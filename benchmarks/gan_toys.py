"""Toy reproductions of the GAN seeds (000 ch. 3, 001, 002, 004) with the tryon-gan plugin, side by side.

    .venv/bin/python benchmarks/gan_toys.py --out runs/bench-gan [--quick] [--only nine,grid,rw25,swissroll,simplicial,digits]

Prints one table per experiment and writes ``<out>/gan_toys.json`` (machine, versions, threads, settings, numbers).
Training runs are resumable run folders under ``<out>/runs``. The sampler cost is measured in the same run as
the cost-model timings t_G, t_{G+D}, t_w, t_∇w (002 / seeds-gan §5.4), so ratios are comparable.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tryon.fs import atomic_write_json
from tryon_gan.experiments import toys as E
from tryon_gan.experiments.demo import machine


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n== {title}")
    if not rows:
        return
    cols = list(rows[0])
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) for c in cols))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench-gan")
    p.add_argument("--quick", action="store_true", help="5 % of the steps (smoke run)")
    p.add_argument("--only", default="nine,grid,rw25,swissroll,simplicial,digits")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    out = Path(args.out)
    f = 0.05 if args.quick else 1.0
    steps = lambda s: max(20, int(s * f))  # noqa: E731
    only = set(args.only.split(","))
    torch.set_num_threads(1)
    res: dict = {"machine": machine(), "settings": {"toy": {k: list(v) if isinstance(v, tuple) else v for k, v in E.TOY.items()},
                                                   "quick": args.quick}}
    t0 = time.time()
    if "nine" in only:
        res["nine"] = {k: v for k, v in E.nine_gaussians_jbt(out / "runs", steps=steps(8000), seed=args.seed).items() if k != "images"}
        _print("9 Gaussians: base vs JBT", res["nine"]["rows"])
        print("marginal precision per JFN decile:", res["nine"]["marginal_precision_deciles"])
    if "grid" in only:
        res["grid"] = E.modes_distance_grid(out / "runs", modes=(4, 9, 25), distances=(3.0, 9.0), steps=steps(4000),
                                            seed=args.seed)
        _print("precision vs M (rows) and D (columns)", res["grid"]["rows"])
    for key, name in (("rw25", "gaussians25"), ("swissroll", "swissroll")):
        if key in only:
            r = E.latent_reweighting(out / "runs", name, gan_steps=steps(8000), w_steps=steps(1500), seed=args.seed)
            res[key] = {k: v for k, v in r.items() if k != "images"}
            _print(f"{name}: latent reweighting (EMD, acceptance, ms/sample)", r["rows"])
            print("cost model (ms/sample):", {k: round(v, 5) for k, v in r["cost"].items()})
    if "simplicial" in only:
        res["simplicial"] = E.simplicial_vs_jbt(out / "runs", steps=steps(3000), seed=args.seed)
        _print("simplicial vs JBT vs base", res["simplicial"]["rows"])
    if "digits" in only:
        res["digits"] = {"rows": E.digits_losses(out / "runs", steps=steps(3000), seed=args.seed)["rows"]}
        _print("digits: losses", res["digits"]["rows"])
    res["wall_time_s"] = round(time.time() - t0, 1)
    atomic_write_json(out / "gan_toys.json", res, default=str)
    print(json.dumps({"json": str(out / "gan_toys.json"), "wall_time_s": res["wall_time_s"]}))


if __name__ == "__main__":
    main()
