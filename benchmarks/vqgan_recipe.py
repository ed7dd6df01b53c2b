"""Which VQGAN recipe gives a 32×32 tokenizer that reconstructs real images (and why the adversarial stage hurts).

Each setting is a set of ``tryon train edibert-vqgan`` flags. Every run trains on ``<crops>/train`` (``tryon data
photo-crops``: real-photo crops, the held-out crops come from other photos) through the command line with the
same wall-clock budget (``--minutes``), then is loaded with ``tryon.load("edibert-vqgan", weights=RUN)`` and
scored on ``<crops>/test`` (pixels in [0, 1]):

* ``l1``: mean |D(Q(E(x))) − x| of the plain reconstruction (tokenize, then decode), also on 200 training
  crops (``l1_train``) to separate fitting from generalisation;
* ``ssim`` (:func:`tryon.metrics.ssim.ssim`, images in [-1, 1]);
* ``usage``: distinct codes used on the held-out set / codebook size, and the perplexity of their histogram;
* ``steps`` reached in the budget, and the training log (``metrics.csv``, L1 in [-1, 1] units as logged):
  ``log_l1_at_disc`` (mean of the last 3 rows before the adversarial loss starts), ``log_l1_end`` (last 3
  rows), ``log_l1_min``, and the median adaptive weight ``λ·disc_weight`` after the start.

A setting may give the start of the adversarial loss as a share of the steps the budget reaches
(``disc_frac``); that share is turned into a step number from a short timing run of the same architecture
(``calibrate``: steps per second before and after the start), so the start lands near that share; the table
gives the share actually reached. Runs already in ``--runs`` are scored again, not retrained (delete a run
folder to retrain it). Runs are sequential and the trainer is started with one thread
(``OMP_NUM_THREADS``, default 1)::

    .venv/bin/tryon data photo-crops --out crops --size 32 --train 4000 --test 200
    .venv/bin/python benchmarks/vqgan_recipe.py --data crops --minutes 3 --out docs/results/vqgan-recipe
    .venv/bin/python benchmarks/vqgan_recipe.py --data crops --settings user,no-adv --seeds 0,1 ...
    .venv/bin/python benchmarks/vqgan_recipe.py --out docs/results/vqgan-recipe --render-only

A study (:mod:`tryon.study`): ``results.json`` (machine, date, budget, every run's row, saved after each run) and
``table.md`` rendered from it, in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from tryon.study import script

#: the user's recipe: 32×32 crops, factor 4 (8×8 tokens), 128 codes, base width 32, lr 2e-3, batch 8
USER = ["--size", "32x32", "--factor", "4", "--codes", "128", "--ch", "32", "--lr", "2e-3"]
NO_ADV = ["--disc-start", "100000000"]

#: name → (what it tests, flags, share of the reached steps at which the adversarial loss starts or None)
SETTINGS: dict[str, tuple[str, list[str], float | None]] = {
    "user": ("the user's recipe, adversarial loss from ~60 % of the steps", USER, 0.6),
    "no-adv": ("the same, no adversarial stage", USER + NO_ADV, None),
    "adv-w0.1": ("disc weight 0.8 → 0.1", USER + ["--disc-weight", "0.1"], 0.6),
    "adv-no-perc": ("adversarial, random-VGG perceptual term off", USER + ["--perceptual-weight", "0"], 0.6),
    "no-adv-no-perc": ("no adversarial stage, perceptual term off", USER + NO_ADV + ["--perceptual-weight", "0"], None),
    "no-adv-c512": ("no adversarial stage, 512 codes", USER + NO_ADV + ["--codes", "512"], None),
    "no-adv-ch64": ("no adversarial stage, base width 64", USER + NO_ADV + ["--ch", "64"], None),
    "no-adv-lr5e-4": ("no adversarial stage, lr 5e-4", USER[:-2] + ["--lr", "5e-4"] + NO_ADV, None),
    "no-adv-lr-default": ("no adversarial stage, the default lr (3.6e-5)", USER[:-2] + NO_ADV, None),
    "no-adv-e16": ("no adversarial stage, code vectors of 16", USER + NO_ADV + ["--embed-dim", "16"], None),
    "no-adv-f2-c512": ("no adversarial stage, factor 2 (16×16 tokens on 32×32) and 512 codes, perceptual term off",
                       USER + NO_ADV + ["--factor", "2", "--codes", "512", "--perceptual-weight", "0"], None),
    "defaults": ("only --data --size 32x32 (factor 16, 1024 codes, width 64, lr 3.6e-5)", ["--size", "32x32"], None),
}


def _arch(flags: list[str]) -> str:
    """The flags that set a run's speed (all but the disc weight): the key of its timing run."""
    out, skip = [], False
    for f in flags:
        if skip:
            skip = False
        elif f == "--disc-weight":
            skip = True
        else:
            out.append(f)
    return " ".join(out)


def _tryon() -> str:
    return str(Path(sys.executable).with_name("tryon"))


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    return env


def _train(out: Path, data: Path, flags: list[str], extra: list[str], threads: int) -> None:
    cmd = [_tryon(), "train", "edibert-vqgan", "--data", str(data), "--out", str(out), "--no-progress", "--device", "cpu",
           *flags, *extra]
    print("+ tryon", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, env=_env(threads), stdout=subprocess.DEVNULL)


def read_log(run: Path) -> list[dict[str, float]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def _rate(rows: list[dict[str, float]]) -> float:
    """Steps per second between the first and the last of ``rows`` (the first row's time includes start-up)."""
    if len(rows) < 2:
        return float("nan")
    return (rows[-1]["step"] - rows[0]["step"]) / max(1e-9, rows[-1]["wall_time"] - rows[0]["wall_time"])


def calibrate(runs: Path, data: Path, flags: list[str], threads: int, steps: int = 60) -> dict[str, float]:
    """Steps per second without and with the adversarial loss, from a ``steps``-step run that starts it halfway."""
    out = runs / "_calibrate"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    half = steps // 2
    _train(out, data, flags, ["--steps", str(steps), "--disc-start", str(half), "--log-every", "5",
                              "--ckpt-every", "100000"], threads)
    rows = read_log(out)
    pre = [r for r in rows if r["step"] <= half]
    post = [r for r in rows if r["step"] >= half + 5]
    return {"pre": _rate(pre), "post": _rate(post)}


def disc_start_for(frac: float, minutes: float, rates: dict[str, float]) -> int:
    """The step ``s`` with ``s = frac · (s + (T − s/r_pre) · r_post)``: the start lands at ``frac`` of the steps a
    budget of ``T`` seconds reaches when the adversarial steps run at ``r_post``."""
    t, r1, r2 = minutes * 60.0, rates["pre"], rates["post"]
    return max(1, int(frac * t * r2 / ((1 - frac) + frac * r2 / r1)))


def _load_images(folder: Path, n: int | None = None) -> Any:
    import numpy as np
    import torch

    from tryon.data import ImageFolderDataset

    ds = ImageFolderDataset(folder, size=(32, 32))
    idx = range(len(ds)) if n is None or n >= len(ds) else np.linspace(0, len(ds) - 1, n).round().astype(int)
    return torch.stack([ds[int(i)] for i in idx])


def score(run: Path, test: Any, train: Any) -> dict[str, Any]:
    """Held-out reconstruction of a run folder: L1 (pixels in [0, 1]), SSIM, codebook usage and perplexity."""
    import torch

    import tryon
    from tryon.metrics.ssim import ssim

    pipe = tryon.load("edibert-vqgan", weights=str(run), device="cpu")
    vq = pipe.vqgan.eval()
    with torch.no_grad():
        tok = torch.cat([vq.tokenize(test[i : i + 50]) for i in range(0, len(test), 50)])
        rec = torch.cat([vq.decode_tokens(tok[i : i + 50]) for i in range(0, len(tok), 50)]).clamp(-1, 1)
        rec_tr = torch.cat([pipe.reconstruct(train[i : i + 50]) for i in range(0, len(train), 50)])
    counts = torch.bincount(tok.flatten(), minlength=vq.n_codes).float()
    p = counts[counts > 0] / counts.sum()
    cfg = json.loads((run / "config.json").read_text())
    return {"l1": float((rec - test).abs().mean() / 2), "l1_train": float((rec_tr - train).abs().mean() / 2),
            "ssim": float(ssim(rec, test)), "codes_used": int((counts > 0).sum()), "n_codes": int(vq.n_codes),
            "usage": float((counts > 0).float().mean()), "perplexity": float(torch.exp(-(p * p.log()).sum())),
            "grid": list(tok.shape[1:]), "steps": int(cfg["training"]["steps_done"]),
            "precision": cfg["training"].get("precision"), "disc_start": int(cfg["training"]["disc_start"])}


def curve(run: Path, disc_start: int) -> dict[str, Any]:
    """The logged reconstruction L1 (training batches, [-1, 1] units) around the start of the adversarial loss."""
    rows = [r for r in read_log(run) if "l1" in r]
    pre = [r for r in rows if r["step"] <= disc_start]
    post = [r for r in rows if r["step"] > disc_start]
    out: dict[str, Any] = {"log_l1_min": min(r["l1"] for r in rows), "log_l1_end": statistics.fmean(r["l1"] for r in rows[-3:]),
                           "log_l1_at_disc": statistics.fmean(r["l1"] for r in pre[-3:]) if post and pre else None}
    lam = [r["adv_weight"] for r in post if "adv_weight" in r]
    out["adv_weight_median"] = statistics.median(lam) if lam else None
    out["adv_weight_max"] = max(lam) if lam else None
    if post and pre:  # the logged L1 every ~10 % of the run, to show the curve
        out["log_l1_after"] = {int(r["step"]): round(r["l1"], 4) for r in post[:: max(1, len(post) // 5)]}
    return out


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"VQGAN tokenizers trained {result['minutes']} min each on {result['n_train']} real 32×32 crops, one CPU thread, "
        f"scored on {result['n_test']} held-out crops from other photos; {m['cpu']} ({m['logical_cores']} cores, "
        f"shared), {result['date'][:10]}. Base recipe: `{' '.join(USER)}` (batch 8).",
        "L1 with pixels in [0, 1] (held-out; train = 200 training crops); SSIM on [-1, 1]; usage = distinct codes on "
        "the held-out set / codebook size. Log L1: training-batch L1 as logged ([-1, 1] units), at the start of the "
        "adversarial loss → end of the run; λ·w = median adaptive weight times disc weight after the start.", "",
        "| setting | seed | L1 ↓ | L1 train | SSIM ↑ | usage | perplexity | steps | adv. start (share) | log L1 at start → end | λ·w |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        adv = f"{r['disc_start']} ({r['disc_start'] / r['steps']:.0%})" if r["disc_start"] < r["steps"] else "off"
        at = f"{r['log_l1_at_disc']:.3f} → {r['log_l1_end']:.3f}" if r["log_l1_at_disc"] is not None else f"– → {r['log_l1_end']:.3f}"
        lam = f"{r['adv_weight_median']:.3g}" if r["adv_weight_median"] is not None else "–"
        lines.append(f"| {r['setting']} | {r['seed']} | {r['l1']:.4f} | {r['l1_train']:.4f} | {r['ssim']:.4f} | "
                     f"{r['codes_used']}/{r['n_codes']} ({r['usage']:.0%}) | {r['perplexity']:.1f} | {r['steps']} | {adv} | {at} | {lam} |")
    lines += ["", "Settings:", ""]
    for name in dict.fromkeys(r["setting"].partition("@")[0] for r in result["rows"]):
        desc, flags, _ = SETTINGS[name]
        lines.append(f"- `{name}`: {desc} (`{' '.join(flags)}`)")
    lines.append("- `NAME@N`: the same flags trained for exactly N steps (no time budget), to compare runs at equal steps")
    return "\n".join(lines)


def _order(row: dict[str, Any]) -> tuple[int, int, int]:
    base, _, fixed = row["setting"].partition("@")
    return list(SETTINGS).index(base), int(fixed or 0), row["seed"]


NAME = "vqgan-recipe"
#: Named sizes: ``tiny`` trains one setting for a few fixed steps on a small crop set it writes itself (tests);
#: ``default`` is the docs' run (``--data`` crops, 3-minute budgets).
BUDGETS = {
    "tiny": {"settings": "no-adv@3", "seeds": "0", "minutes": 3.0, "crops": [32, 8]},
    "default": {"settings": "user,no-adv,adv-w0.1,adv-no-perc,no-adv-c512,defaults", "seeds": "0", "minutes": 3.0,
                "crops": [4000, 200]},
}


def compute(study: Any, args: argparse.Namespace) -> None:
    """Train (or reuse) every (setting, seed) run and score it; the results are saved after every run, so a killed
    study keeps what it measured (a later run with the same ``--out`` reuses the rows of other settings)."""
    import torch

    from tryon.data.photos import write_photo_crops
    from tryon.study import load_results

    knobs, out = study.knobs, study.out
    torch.set_num_threads(args.threads)
    minutes = args.minutes if args.minutes is not None else knobs["minutes"]
    data = Path(args.data) if args.data else out / "crops"
    if not args.data and not (data / "photo_crops.json").is_file():
        with study.section("data"):
            write_photo_crops(data, size=32, train=knobs["crops"][0], test=knobs["crops"][1])
    runs = Path(args.runs) if args.runs else out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    test, train = _load_images(data / "test"), _load_images(data / "train", 200)
    n_train = len(list((data / "train").rglob("*.png")))
    names = [s for s in (args.settings or knobs["settings"]).split(",") if s]
    unknown = [s for s in names if s.partition("@")[0] not in SETTINGS or not (s.partition("@")[2] or "0").isdigit()]
    if unknown:
        raise SystemExit(f"unknown settings {unknown}; known: {list(SETTINGS)}")
    seeds = [int(s) for s in (args.seeds or knobs["seeds"]).split(",")]
    prev = load_results(out) if (out / "results.json").is_file() else {}
    rates_by_arch: dict[str, dict[str, float]] = prev.get("rates", {})
    if args.rates:
        pre, post = (float(v) for v in args.rates.split(","))
        rates_by_arch[_arch(USER)] = {"pre": pre, "post": post}
    rows = [r for r in prev.get("rows", []) if (r["setting"], r["seed"]) not in {(n, s) for n in names for s in seeds}]
    study.results.update({"benchmark": "vqgan_recipe", "minutes": minutes, "threads": args.threads, "data": data.name,
                          "n_train": n_train, "n_test": len(test), "rates": rates_by_arch, "rows": rows})
    for name in names:
        base, _, fixed = name.partition("@")
        desc, flags, frac = SETTINGS[base]
        for seed in seeds:
            run = runs / f"{name}-s{seed}"
            extra = ["--seed", str(seed), "--ckpt-every", "100000000"]
            extra += ["--steps", fixed] if fixed else ["--minutes", str(minutes), "--steps", "100000000"]
            if frac is not None and fixed:
                extra += ["--disc-start", str(max(1, int(frac * int(fixed))))]
            elif frac is not None:
                arch = _arch(flags)
                if arch not in rates_by_arch:
                    rates_by_arch[arch] = calibrate(runs, data / "train", flags, args.threads)
                    print(f"timing of `{arch}`: {rates_by_arch[arch]}", flush=True)
                extra += ["--disc-start", str(disc_start_for(frac, minutes, rates_by_arch[arch]))]
            t0 = time.perf_counter()
            with study.section(f"train/{name}-s{seed}"):
                if not (run / "config.json").is_file():
                    _train(run, data / "train", flags, extra, args.threads)
            row = {"setting": name, "seed": seed, "flags": flags + extra, "train_s": round(time.perf_counter() - t0, 1),
                   **score(run, test, train)}
            row.update(curve(run, row["disc_start"]))
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("setting", "seed", "l1", "ssim", "usage", "steps", "disc_start",
                                                  "log_l1_at_disc", "log_l1_end", "adv_weight_median")}), flush=True)
            study.results["rows"] = sorted(rows, key=_order)
            study.save()


def render_files(out: Path, result: dict[str, Any]) -> str:
    """``table.md`` from the results alone."""
    from tryon.fs import atomic_write_text

    text = render(result)
    atomic_write_text(out / "table.md", text + "\n")
    return text


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=None, help="a `tryon data photo-crops` folder (train/, test/); default: written "
                    "under --out at the budget's size")
    ap.add_argument("--runs", default=None, help="run folders (weights; reused when present); default OUT/runs")
    ap.add_argument("--settings", default=None, help=f"comma-separated, from {', '.join(SETTINGS)} (default: the budget's)")
    ap.add_argument("--seeds", default=None, help="default: the budget's")
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget of each run (default: the budget's)")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the trainer")
    ap.add_argument("--rates", default=None, help="skip the timing run: 'PRE,POST' steps/s of the base recipe")


main = script(NAME, compute, render_files, BUDGETS, doc=__doc__, add_arguments=add_arguments, table=None)


if __name__ == "__main__":
    sys.exit(main())
