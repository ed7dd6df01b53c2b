"""T-WUTON quality run and ablations (000 Table E.1, Fig. E.2).

    .venv/bin/python benchmarks/wuton_quality.py --out runs/quality [--n 2000] [--size 256x192]
        [--steps 120] [--batch 4] [--eval-pairs 200]

Generates (or reuses) a synthetic dataset, trains the human parser once (its encoder is the perceptual
fallback when no VGG weights are given), then trains four teachers with the same budget and seed:

    T-WUTON            unpaired adversarial loss, end to end (the paper's model)
    w/o L_adv          --adv none
    paired L_adv       --adv paired
    not end-to-end     matcher trained by L_warp only

and scores each in the *paired* setting of 000 Table E.1 (reconstruct p_a from p*_a and c_a; p*_a from the
ground-truth parse map) on the test split: SSIM (RGB, Gaussian 11/1.5) and proxy-LPIPS (no ImageNet
backbone offline). Writes ``quality.json``, ``quality.md``, image grids (person | garment | agnostic |
warped garment | output | ground truth) and ``report.html``. Budget: the defaults fit in about 30 minutes
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

VARIANTS = {
    "T-WUTON": {"adv": "unpaired", "end_to_end": True},
    "w/o L_adv": {"adv": "none", "end_to_end": True},
    "paired L_adv": {"adv": "paired", "end_to_end": True},
    "not end-to-end": {"adv": "unpaired", "end_to_end": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/quality")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", default="256x192")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--parser-steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--eval-pairs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    from tryon_wuton.commands import parse_size
    from tryon_wuton.data.synth import generate
    from tryon_wuton.parser import train_parser
    from tryon_wuton.teacher import train_teacher

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = parse_size(args.size)
    data = out / "data"
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    if not data.exists():
        generate(data, args.n, size=size, seed=args.seed, test_fraction=0.1)
    times["synth"] = time.perf_counter() - t0
    parser_run = out / "parser"
    t0 = time.perf_counter()
    if not (parser_run / "config.json").is_file():
        train_parser(data, parser_run, steps=args.parser_steps, size=size, batch_size=8, seed=args.seed, ckpt_every=50)
    times["parser"] = time.perf_counter() - t0
    runs = {}
    for name in args.variants.split(","):
        v = VARIANTS[name]
        run = out / ("teacher_" + name.lower().replace(" ", "_").replace("/", "").replace("-", "_"))
        t0 = time.perf_counter()
        if not (run / "config.json").is_file():
            train_teacher(data, run, parser_run=parser_run, steps=args.steps, size=size, batch_size=args.batch,
                          adv=v["adv"], end_to_end=v["end_to_end"], seed=args.seed, ckpt_every=40, log_every=5)
        times[name] = time.perf_counter() - t0
        runs[name] = run
    t0 = time.perf_counter()
    table = evaluate_paired(data, runs, out, max_pairs=args.eval_pairs, seed=args.seed)
    times["evaluation"] = time.perf_counter() - t0
    result = {"args": vars(args), "table": table, "seconds": times, "total_minutes": sum(times.values()) / 60}
    (out / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| model | adv | end-to-end | SSIM ↑ | ± | proxy-LPIPS ↓ | ± | L1 ↓ | train s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in table:
        lines.append(f"| {row['model']} | {row['adv']} | {row['end_to_end']} | {row['ssim']:.4f} | {row['ssim_std']:.4f} | "
                     f"{row['proxy-lpips']:.4f} | {row['proxy-lpips_std']:.4f} | {row['l1']:.4f} | {times[row['model']]:.0f} |")
    (out / "quality.md").write_text("\n".join(lines) + "\n")
    write_report(out, table, times)
    print("\n".join(lines))
    print(f"total {result['total_minutes']:.1f} min; report: {out / 'report.html'}")


def evaluate_paired(data: Path, runs: dict[str, Path], out: Path, max_pairs: int, seed: int) -> list[dict]:
    import tryon
    from tryon.metrics import proxy_lpips, ssim
    from tryon.metrics.proxy import ProxyFeatures, train_proxy
    from tryon_wuton.data import TryOnDataset
    from tryon_wuton.evaluate import _save_grid
    from tryon.io import save_image
    from tryon_wuton.teacher import make_agnostic

    torch.manual_seed(seed)
    first = tryon.load("wuton-teacher", weights=next(iter(runs.values())), device="cpu")
    size = tuple(first.size)
    test = TryOnDataset(data, split="test", pairs="paired", size=size)
    n = min(len(test), max_pairs)
    proxy_dir = out / "proxy"
    if not (proxy_dir / "proxy.safetensors").is_file():
        train = TryOnDataset(data, split="train", pairs="paired", size=size)
        imgs = torch.stack([train[i]["person"] for i in range(min(len(train), 512))])
        train_proxy(imgs, proxy_dir, steps=200, seed=seed)
    extractor = ProxyFeatures.from_file(proxy_dir)
    table = []
    head = None
    for name, run in runs.items():
        pipe = tryon.load("wuton-teacher", weights=run, device="cpu")
        ss, pl, l1s = [], [], []
        for start in range(0, n, 8):
            items = [test[i] for i in range(start, min(n, start + 8))]
            person = torch.stack([it["person"] for it in items])
            garment = torch.stack([it["garment"] for it in items])
            parse = torch.stack([it["parse"] for it in items])
            p_star = make_agnostic(person, parse)
            with torch.no_grad():
                image, theta = pipe.generator(p_star, garment)
            ss.append(ssim(image, person, reduction="none"))
            pl.append(proxy_lpips(image, person, extractor, reduction="none"))
            l1s.append((image - person).abs().mean(dim=(1, 2, 3)))
            if start == 0:
                with torch.no_grad():
                    warped = pipe.generator.warp_garment(garment, theta)
                rows = [[person[i], garment[i], p_star[i], warped[i], image[i], person[i]] for i in range(min(6, len(items)))]
                _save_grid(rows, ["person", "garment", "agnostic", "warped", "output", "ground truth"],
                           out / f"grid_{run.name}.png", save_image)
                head = head or run.name
        s, p, l = torch.cat(ss), torch.cat(pl), torch.cat(l1s)
        cfg = pipe.config.get("training") or {}
        table.append({"model": name, "adv": cfg.get("adv"), "end_to_end": cfg.get("end_to_end"), "n_pairs": n,
                      "ssim": float(s.mean()), "ssim_std": float(s.std()), "proxy-lpips": float(p.mean()),
                      "proxy-lpips_std": float(p.std()), "l1": float(l.mean()), "run": str(run),
                      "steps": cfg.get("steps_done"), "perceptual_features": cfg.get("perceptual_features")})
    return table


def write_report(out: Path, table: list[dict], times: dict[str, float]) -> None:
    from tryon.report import Report

    rep = Report(out, title="T-WUTON quality run and ablations (paired setting, synthetic data)")
    rep.add_text("Paired setting of 000 Table E.1: reconstruct the person from the agnostic person (ground-truth "
                 "parse map) and its own garment, on the synthetic test split. proxy-LPIPS uses a small feature "
                 "network trained on the training persons (no ImageNet backbone offline): compare rows with each "
                 "other, not with published LPIPS.")
    cols = ["model", "adv", "end_to_end", "ssim", "ssim_std", "proxy-lpips", "proxy-lpips_std", "l1", "steps"]
    rep.add_table("Paired reconstruction quality", cols, [[r[c] for c in cols] for r in table])
    rep.add_table("Wall time (s)", ["stage", "seconds"], [[k, round(v, 1)] for k, v in times.items()])
    for r in table:
        run = Path(r["run"])
        rep.add_text(f"![{r['model']}](grid_{run.name}.png)\n\n**{r['model']}**: person | garment | agnostic | "
                     "warped garment | output | ground truth")
        if (run / "metrics.csv").is_file():
            rep.add_curves(f"losses — {r['model']}", run / "metrics.csv", smooth=5)
    rep.write()


if __name__ == "__main__":
    main()
