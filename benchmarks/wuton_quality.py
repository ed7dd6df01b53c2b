"""WUTON quality benchmark: do the seeds' orderings hold on the synthetic data? (000 Table E.1, Tables 4.3 /
4.5, Fig. 4.10)

    .venv/bin/python benchmarks/wuton_quality.py --out runs/wuton_quality            # default budget
    .venv/bin/python benchmarks/wuton_quality.py --out runs/wq_smoke --budget tiny   # < 1 min, checks wiring

One synthetic dataset, one human parser and one proxy feature network are shared by every variant and
seed (they are the instruments, not the compared methods). For every seed the script trains

    T-WUTON            unpaired adversarial loss, end to end (000 §4.3.3.2)
    w/o L_adv          no adversarial loss                    (000 App. E.3)
    paired L_adv       adversarial loss on the paired output  (000 App. E.3)
    not end-to-end     matcher trained by L_warp only          (000 App. E.3)
    S-WUTON            distilled from that seed's T-WUTON, λadv = 1 (000 §4.3.3.3)
    S-WUTON λadv=0     the same without the adversarial loss  (000 Table 4.5)

and scores them on the synthetic test split:

* paired setting (000 Table E.1, LPIPS/SSIM columns): teachers reconstruct the person from p* (ground-truth
  parse map) and its own garment; SSIM and proxy-LPIPS against the person;
* unpaired setting (000 Tables 4.3, 4.5, Table E.1's FID column): person a in garment b, scored against the
  synthetic ground truth (``test/unpaired_gt``, which real data lacks): SSIM, proxy-LPIPS, proxy-FID
  (Fréchet distance of proxy features, outputs vs ground truths) and L1 on the arms;
* parser-error robustness (000 Fig. 4.10): the teacher's p* is built from a corrupted parse map (``erode`` /
  ``dilate`` from :func:`tryon_wuton.experiments.evaluate.corrupt_parse`, and ``shift``: the map translated sideways) at
  increasing strength (pixels); the parser-free student is unaffected by construction and is the baseline.

Seeds change the networks' initialisation and the batch order, not the data. Every number is given as
mean ± spread over the seeds, spread = half the range (max − min)/2 (with 2 seeds, each seed is mean ± spread).
An ordering "held" when it holds in every seed, "mixed" when it holds for the mean but not in every
seed, "not held" otherwise. proxy-* metrics use a small network trained on the training persons (no
ImageNet backbone offline): compare rows with each other, never with the published LPIPS / FID.

Writes into ``--out``: ``results.json`` (every per-seed number, the orderings, machine, versions, budget,
wall times, the loss curves of the first seed), ``grid_*.png``, and renders from them ``table.md`` and
``report.html`` / ``report.md`` (:class:`tryon.report.Report`; ``--render-only`` redoes just that).
Finished runs are reused (``--out`` can be resumed after an interruption).

Budget: the defaults (96x72, 800 samples, parser 150 / teacher 200 / student 140 / proxy 200 steps, batch 8,
2 seeds, 48 test pairs, ``--precision auto``) took 18.9 min on 2 idle CPU cores (AMD EPYC with avx512_bf16,
2026-12-03); scale with ``--steps`` / ``--student-steps`` / ``--size`` / ``--seeds``, and ``--proxy DIR``
reuses a trained proxy feature net.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from tryon.study import Study, machine_summary, script

TEACHERS = {  # display name -> (run folder, TeacherTaskConfig options); 000 Table E.1 columns
    "T-WUTON": ("teacher", {"adv": "unpaired", "end_to_end": True}),
    "w/o L_adv": ("teacher_no_adv", {"adv": "none", "end_to_end": True}),
    "paired L_adv": ("teacher_paired_adv", {"adv": "paired", "end_to_end": True}),
    "not end-to-end": ("teacher_not_e2e", {"adv": "unpaired", "end_to_end": False}),
}
STUDENTS = {  # display name -> (run folder, lambda_adv); 000 Tables 4.3 / 4.5
    "S-WUTON": ("student", 1.0),
    "S-WUTON λadv=0": ("student_noadv", 0.0),
}
KINDS = ("erode", "dilate", "shift")

# The seeds' orderings checked here: (id, source, setting, metric, better, worse, what the seed reports).
# "better" beats "worse" when its metric is higher (ssim) or lower (proxy-lpips, proxy-fid, arms-l1).
ORDERINGS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("E1-lpips-adv", "000 Table E.1", "paired", "proxy-lpips", "T-WUTON", "w/o L_adv", "LPIPS .101 < .107"),
    ("E1-lpips-e2e", "000 Table E.1", "paired", "proxy-lpips", "T-WUTON", "not end-to-end", "LPIPS .101 < .112"),
    ("E1-lpips-paired", "000 Table E.1", "paired", "proxy-lpips", "paired L_adv", "T-WUTON", "LPIPS .099 < .101 (best on paired metrics)"),
    ("E1-fid-adv", "000 Table E.1", "unpaired", "proxy-fid", "T-WUTON", "w/o L_adv", "FID 9.877 < 13.020"),
    ("E1-fid-e2e", "000 Table E.1", "unpaired", "proxy-fid", "T-WUTON", "not end-to-end", "FID 9.877 < 11.125"),
    ("E1-fid-paired", "000 Table E.1", "unpaired", "proxy-fid", "paired L_adv", "T-WUTON", "FID 8.298 < 9.877"),
    ("4.3-fid", "000 Table 4.3", "unpaired", "proxy-fid", "S-WUTON", "T-WUTON", "FID 7.927 < 9.877"),
    ("4.3-ssim-unpaired", "000 Table 4.3 (text)", "unpaired", "ssim", "S-WUTON", "T-WUTON",
     "the student 'largely improves image quality' (no unpaired SSIM in the seed: ground truth exists only here)"),
    ("4.13-arms", "000 Fig. 4.13 (text, §4.3.4.2)", "unpaired", "arms-l1", "S-WUTON", "T-WUTON", "the student preserves hands / arms"),
    ("4.5-fid", "000 Table 4.5", "unpaired", "proxy-fid", "S-WUTON", "S-WUTON λadv=0", "FID 7.927 < 12.620"),
    ("4.5-ssim-unpaired", "000 Table 4.5 (text)", "unpaired", "ssim", "S-WUTON", "S-WUTON λadv=0",
     "the adversarial loss keeps the student close to real data (no SSIM in the seed)"),
)
HIGHER_IS_BETTER = {"ssim": True, "proxy-lpips": False, "proxy-fid": False, "arms-l1": False, "l1": False}
# 000 Table E.1: the four SSIMs are .799-.800; "SSIM does not separate the variants" holds when ours span ≤ this
SSIM_TIE = 0.01


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
NAME = "wuton-quality"
BUDGETS = {
    # < 1 min: checks every branch runs, the numbers mean nothing
    "tiny": {"n": 40, "size": "64x48", "seeds": "0", "parser_steps": 2, "steps": 2, "student_steps": 2, "batch": 2,
             "eval_pairs": 4, "proxy_steps": 2, "strengths": "0,2", "distill_multiples": "1,2"},
    # 18.9 min on 2 idle cores (AMD EPYC with avx512_bf16, precision auto)
    "default": {"n": 800, "size": "96x72", "seeds": "0,1", "parser_steps": 150, "steps": 200, "student_steps": 140, "batch": 8,
                "eval_pairs": 48, "proxy_steps": 200, "strengths": "0,2,4,6", "distill_multiples": "1,2,4"},
}


def _int_list(text: str) -> str:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    return str(text)


def _kinds(text: str) -> str:
    kinds = [k.strip() for k in str(text).split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"expected parser-error kinds among {', '.join(KINDS)}, got {text!r}")
    return ",".join(kinds)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.add_argument("--smoke", dest="budget", action="store_const", const="tiny", help="same as --budget tiny")
    ap.add_argument("--data", default=None, help="an existing synthetic dataset (default: generate OUT/data)")
    ap.add_argument("--n", type=int, default=None, help="synthetic samples to generate (10%% test; budget: 800)")
    ap.add_argument("--size", default=None, help="HxW of data and models (budget: 96x72)")
    ap.add_argument("--seeds", type=_int_list, default=None, help="comma-separated training seeds (budget: 0,1)")
    ap.add_argument("--parser-steps", type=int, default=None, help="budget: 150")
    ap.add_argument("--steps", type=int, default=None, help="steps of each teacher (budget: 200)")
    ap.add_argument("--student-steps", type=int, default=None, help="steps of each student (budget: 140)")
    ap.add_argument("--batch", type=int, default=None, help="budget: 8")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                    help="training precision (default auto, as the demo: bf16 where the CPU has it, else fp32)")
    ap.add_argument("--eval-pairs", type=int, default=None, help="test pairs scored, all of them if fewer (budget: 48)")
    ap.add_argument("--proxy-steps", type=int, default=None, help="training steps of the proxy feature net (budget: 200)")
    ap.add_argument("--proxy", default=None, help="reuse a trained proxy feature net (folder with proxy.safetensors)")
    ap.add_argument("--strengths", type=_int_list, default=None, help="parser-error strengths in pixels at --size (budget: 0,2,4,6)")
    ap.add_argument("--distill-multiples", type=_int_list, default=None,
                    help="distillation budgets, in multiples of the teacher's steps, read from the checkpoints of one longer "
                         "S-WUTON run per seed (budget: 1,2,4; 0 skips the curve)")
    ap.add_argument("--kinds", type=_kinds, default=",".join(KINDS), help=f"parser errors among {', '.join(KINDS)}")
    ap.add_argument("--vgg-weights", default=None, help="local VGG19 weights for the perceptual loss (optional)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")


# ------------------------------------------------------------------------------------------------
# training (all through the plugin's public training functions)
# ------------------------------------------------------------------------------------------------
def train_all(study: Study, args: argparse.Namespace, size: tuple[int, int],
              seeds: list[int]) -> tuple[Path, dict[int, dict[str, Path]]]:
    """Train (or reuse) the shared parser and, per seed, the four teachers and the two students (``args``: the options
    with the budget's values filled in); every stage run here is timed as a section of ``study``."""
    from tryon.train import TrainConfig
    from tryon_wuton.data.synth import generate
    from tryon_wuton.training.parser import PARSER_LOOP, ParserTaskConfig, train_parser
    from tryon_wuton.training.student import STUDENT_LOOP, StudentTaskConfig, distill_student
    from tryon_wuton.training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

    out = study.out
    data = Path(args.data) if args.data else out / "data"
    if not (data / "synth_meta.json").is_file():
        with study.section("synthetic data"):
            generate(data, args.n, size=size, seed=0, test_fraction=0.1, progress=not args.quiet)
    parser_run = out / "parser"
    common = {"log_every": 5, "ckpt_every": 50, "progress": not args.quiet, "precision": args.precision,
              "batch_size": args.batch}

    def loop(defaults: dict[str, Any], run: Path, steps: int, seed: int, **extra: Any) -> TrainConfig:
        return TrainConfig(**{**defaults, **common, "out_dir": str(run), "max_steps": steps, "seed": seed, **extra})

    if not (parser_run / "config.json").is_file():
        with study.section("parser"):
            train_parser(loop(PARSER_LOOP, parser_run, args.parser_steps, 0), ParserTaskConfig(data=data, size=size))
    runs: dict[int, dict[str, Path]] = {}
    for seed in seeds:
        sdir = out / f"seed{seed}"
        runs[seed] = {}
        for name, (folder, opts) in TEACHERS.items():
            run = sdir / folder
            runs[seed][name] = run
            if not (run / "config.json").is_file():
                with study.section(f"seed {seed} {name}"):
                    train_teacher(loop(TEACHER_LOOP, run, args.steps, seed),
                                  TeacherTaskConfig(data=data, size=size, parser_run=parser_run, vgg_weights=args.vgg_weights, **opts))
        for name, (folder, lam) in STUDENTS.items():
            run = sdir / folder
            runs[seed][name] = run
            if not (run / "config.json").is_file():
                with study.section(f"seed {seed} {name}"):
                    distill_student(loop(STUDENT_LOOP, run, args.student_steps, seed),
                                    StudentTaskConfig(teacher_run=runs[seed]["T-WUTON"], data=data, lambda_adv=lam,
                                                      vgg_weights=args.vgg_weights, cache_teacher=sdir / "teacher_cache"))
        multiples = distill_multiples(args)
        if multiples:
            # The loop's learning rate is constant and its batch order fixed by the seed, so the checkpoint after k steps
            # of one long run is the run of k steps: one run per seed gives the whole budget curve.
            run = sdir / BUDGET_RUN
            runs[seed][BUDGET_RUN] = run
            if not (run / "config.json").is_file():
                with study.section(f"seed {seed} S-WUTON budget curve"):
                    distill_student(loop(STUDENT_LOOP, run, args.steps * max(multiples), seed, ckpt_every=args.steps,
                                         keep_last=0),
                                    StudentTaskConfig(teacher_run=runs[seed]["T-WUTON"], data=data, lambda_adv=1.0,
                                                      vgg_weights=args.vgg_weights, cache_teacher=sdir / "teacher_cache"))
    return data, runs


#: the run folder of the long S-WUTON run whose checkpoints give the distillation-budget curve
BUDGET_RUN = "student_budget"


def distill_multiples(args: argparse.Namespace) -> list[int]:
    """The distillation budgets of the curve, in multiples of the teacher's steps ([] when the curve is skipped)."""
    return sorted({int(v) for v in str(getattr(args, "distill_multiples", "") or "0").split(",") if v.strip() and int(v) > 0})


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------
def shift_parse(parse: torch.Tensor, px: int) -> torch.Tensor:
    """A misaligned parser: the ``B×H×W`` label map translated ``px`` pixels to the right (background fills)."""
    from tryon_wuton.data.labels import BACKGROUND

    if px <= 0:
        return parse.clone()
    out = torch.full_like(parse, BACKGROUND)
    out[..., px:] = parse[..., :-px]
    return out


def corrupted(parse: torch.Tensor, kind: str, px: int) -> torch.Tensor:
    from tryon_wuton.experiments.evaluate import corrupt_parse

    if px <= 0:
        return parse.clone()
    if kind == "shift":
        return shift_parse(parse, px)
    return corrupt_parse(parse, kind, k=px)


def _load_test(data: Path, size: tuple[int, int], pairs: str, n: int) -> dict[str, torch.Tensor]:
    from tryon_wuton.data import TryOnDataset

    ds = TryOnDataset(data, split="test", pairs=pairs, size=size)
    items = [ds[i] for i in range(min(len(ds), n))]
    keys = ["person", "garment", "parse"] + (["unpaired_gt"] if pairs == "unpaired" else [])
    return {k: torch.stack([it[k] for it in items]) for k in keys}


def _batched(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor, batch: int = 16) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([fn(*(t[i:i + batch] for t in tensors)) for i in range(0, len(tensors[0]), batch)])


def scores(out: torch.Tensor, gt: torch.Tensor, extractor: Any, parse: torch.Tensor | None = None,
           gt_feats: torch.Tensor | None = None) -> dict[str, float]:
    """SSIM, proxy-LPIPS, L1 (means over images), proxy-FID (outputs vs ground truths) and arms L1."""
    from tryon.metrics import fid, proxy_lpips, ssim
    from tryon_wuton.data.labels import LEFT_ARM, RIGHT_ARM

    with torch.inference_mode():
        res = {"ssim": float(ssim(out, gt, reduction="none").mean()),
               "proxy-lpips": float(proxy_lpips(out, gt, extractor, reduction="none").mean()),
               "l1": float((out - gt).abs().mean())}
        if gt_feats is not None:
            feats = _batched(extractor, out)
            res["proxy-fid"] = float(fid(gt_feats.numpy(), feats.numpy())) if len(out) > 2 else float("nan")
    if parse is not None:  # synthetic persons keep their pose in the unpaired ground truth
        arms = ((parse == LEFT_ARM) | (parse == RIGHT_ARM))[:, None].float()
        res["arms-l1"] = float(((out - gt).abs().mean(1, keepdim=True) * arms).sum() / arms.sum().clamp_min(1.0))
    return res


def evaluate_seed(runs: dict[str, Path], paired: dict[str, torch.Tensor], unpaired: dict[str, torch.Tensor],
                  extractor: Any, gt_feats: torch.Tensor, kinds: list[str], strengths: list[int],
                  keep: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """All numbers of one seed, and the first ``keep`` outputs of each model (for the grids)."""
    import tryon
    from tryon_wuton.agnostic import make_agnostic

    res: dict[str, Any] = {"paired": {}, "unpaired": {}, "robustness": {}}
    shown: dict[str, torch.Tensor] = {}
    p_star = make_agnostic(paired["person"], paired["parse"])
    u_star = make_agnostic(unpaired["person"], unpaired["parse"])
    for name in TEACHERS:
        pipe = tryon.load("wuton-teacher", weights=runs[name], device="cpu")
        gen = lambda a, g, pipe=pipe: pipe.generator(a, g)[0]  # noqa: E731
        out = _batched(gen, p_star, paired["garment"])
        res["paired"][name] = scores(out, paired["person"], extractor)
        shown[f"paired {name}"] = out[:keep]
        out = _batched(gen, u_star, unpaired["garment"])
        res["unpaired"][name] = scores(out, unpaired["unpaired_gt"], extractor, unpaired["parse"], gt_feats)
        shown[name] = out[:keep]
        if name == "T-WUTON":
            for kind in kinds:
                curve = []
                for px in strengths:
                    if px == 0:  # no parser error: the unpaired output above
                        o = out
                    else:
                        a = make_agnostic(unpaired["person"], corrupted(unpaired["parse"], kind, px))
                        o = _batched(gen, a, unpaired["garment"])
                    curve.append({"px": px, **scores(o, unpaired["unpaired_gt"], extractor)})
                    if kind == kinds[0]:
                        shown[f"T-WUTON {kind} {px}px"] = o[:keep]
                res["robustness"][kind] = curve
    for name in STUDENTS:
        pipe = tryon.load("wuton-student", weights=runs[name], device="cpu")
        out = _batched(lambda p, g, pipe=pipe: pipe.generator(p, g)[0], unpaired["person"], unpaired["garment"])
        res["unpaired"][name] = scores(out, unpaired["unpaired_gt"], extractor, unpaired["parse"], gt_feats)
        shown[name] = out[:keep]
    return res, shown


def evaluate_budget(run: Path, multiples: list[int], teacher_steps: int, unpaired: dict[str, torch.Tensor],
                    extractor: Any, gt_feats: torch.Tensor) -> list[dict[str, Any]]:
    """Unpaired scores of the long S-WUTON run after ``m × teacher_steps`` steps, for each ``m`` (000 §4.3.5: how the
    student's edge over its teacher depends on the distillation budget)."""
    import tryon
    from tryon.train.checkpoint import load_checkpoint_file

    pipe = tryon.load("wuton-student", weights=run, device="cpu")
    curve = []
    for m in multiples:
        ckpt = run / "checkpoints" / f"step_{m * teacher_steps:08d}.pt"
        pipe.generator.load_state_dict(load_checkpoint_file(ckpt)["modules"]["student"])
        pipe.generator.eval()
        out = _batched(lambda p, g: pipe.generator(p, g)[0], unpaired["person"], unpaired["garment"])
        curve.append({"multiple": m, "steps": m * teacher_steps,
                      **scores(out, unpaired["unpaired_gt"], extractor, unpaired["parse"], gt_feats)})
    return curve


# ------------------------------------------------------------------------------------------------
# aggregation over seeds and the orderings
# ------------------------------------------------------------------------------------------------
def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and half range over seeds (0 for one seed)."""
    return sum(values) / len(values), (max(values) - min(values)) / 2


def check_ordering(per_seed: list[float], higher_is_better: bool) -> str:
    """``per_seed`` = better − worse in each seed; "held" / "mixed" / "not held" (:func:`tryon.study.seed_verdict`)."""
    from tryon.study import seed_verdict

    return seed_verdict(per_seed, higher_is_better)


def orderings(by_seed: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    seeds = sorted(by_seed)
    rows = []
    for oid, source, setting, metric, better, worse, seed_says in ORDERINGS:
        diffs = [by_seed[s][setting][better][metric] - by_seed[s][setting][worse][metric] for s in seeds]
        m, sp = mean_spread(diffs)
        rows.append({"id": oid, "source": source, "setting": setting, "metric": metric, "claim": f"{better} beats {worse}",
                     "seed_reports": seed_says, "difference": m, "difference_spread": sp, "per_seed": diffs,
                     "verdict": check_ordering(diffs, HIGHER_IS_BETTER[metric])})
    spans = [max(v["ssim"] for v in by_seed[s]["paired"].values()) - min(v["ssim"] for v in by_seed[s]["paired"].values())
             for s in seeds]
    m, sp = mean_spread(spans)
    rows.append({"id": "E1-ssim-tie", "source": "000 Table E.1", "setting": "paired", "metric": "ssim",
                 "claim": f"SSIM does not separate the four teachers (span ≤ {SSIM_TIE})", "seed_reports": "SSIM .799-.800",
                 "difference": m, "difference_spread": sp, "per_seed": spans,
                 "verdict": "held" if all(v <= SSIM_TIE for v in spans) else ("mixed" if m <= SSIM_TIE else "not held")})
    # Fig. 4.10: the teacher degrades with the parser error; the parser-free student beats it at the largest one
    kinds = list(by_seed[seeds[0]]["robustness"])
    for kind in kinds:
        drops = [by_seed[s]["robustness"][kind][0]["ssim"] - by_seed[s]["robustness"][kind][-1]["ssim"] for s in seeds]
        m, sp = mean_spread(drops)
        px = by_seed[seeds[0]]["robustness"][kind][-1]["px"]
        rows.append({"id": f"4.10-{kind}-degrades", "source": "000 Fig. 4.10", "setting": "unpaired", "metric": "ssim",
                     "claim": f"T-WUTON's SSIM falls with a {kind} {px}px parser error",
                     "seed_reports": "the teacher is not robust to a bad parsing", "difference": m, "difference_spread": sp,
                     "per_seed": drops, "verdict": check_ordering(drops, True)})
        gaps = [by_seed[s]["unpaired"]["S-WUTON"]["ssim"] - by_seed[s]["robustness"][kind][-1]["ssim"] for s in seeds]
        m, sp = mean_spread(gaps)
        rows.append({"id": f"4.10-{kind}-student", "source": "000 Fig. 4.10", "setting": "unpaired", "metric": "ssim",
                     "claim": f"S-WUTON beats T-WUTON with a {kind} {px}px parser error",
                     "seed_reports": "S-WUTON is robust to a bad parsing", "difference": m, "difference_spread": sp,
                     "per_seed": gaps, "verdict": check_ordering(gaps, True)})
    # 000 Table 4.3 / §4.3.5 against the distillation budget: S-WUTON after m × the teacher's steps vs its teacher
    for i, point in enumerate(by_seed[seeds[0]].get("distill", [])):
        for metric in ("proxy-fid", "ssim", "arms-l1"):
            diffs = [by_seed[s]["distill"][i][metric] - by_seed[s]["unpaired"]["T-WUTON"][metric] for s in seeds]
            m, sp = mean_spread(diffs)
            rows.append({"id": f"4.3-budget-{point['multiple']}x-{metric}", "source": "000 Table 4.3 / §4.3.5",
                         "setting": "unpaired", "metric": metric,
                         "claim": f"S-WUTON after {point['multiple']}× the teacher's steps beats T-WUTON",
                         "seed_reports": "S-WUTON beats T-WUTON (FID 7.927 < 9.877)", "difference": m,
                         "difference_spread": sp, "per_seed": diffs, "verdict": check_ordering(diffs, HIGHER_IS_BETTER[metric])})
    return rows


def budget_rows(by_seed: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The distillation-budget curve: one row per budget, T-WUTON last for reference (mean ± spread over seeds)."""
    seeds = sorted(by_seed)
    rows = []
    for i, point in enumerate(by_seed[seeds[0]].get("distill", [])):
        row: dict[str, Any] = {"model": f"S-WUTON {point['multiple']}× ({point['steps']} steps)"}
        for m in BUDGET_COLS[1:]:
            mean, sp = mean_spread([by_seed[s]["distill"][i][m] for s in seeds])
            row[m] = f"{mean:.4f} ± {sp:.4f}"
        rows.append(row)
    if rows:
        row = {"model": "T-WUTON (teacher)"}
        for m in BUDGET_COLS[1:]:
            mean, sp = mean_spread([by_seed[s]["unpaired"]["T-WUTON"][m] for s in seeds])
            row[m] = f"{mean:.4f} ± {sp:.4f}"
        rows.append(row)
    return rows


def table_rows(by_seed: dict[int, dict[str, Any]], setting: str, metrics: list[str]) -> list[dict[str, Any]]:
    seeds = sorted(by_seed)
    rows = []
    for model in by_seed[seeds[0]][setting]:
        row: dict[str, Any] = {"model": model}
        for m in metrics:
            mean, sp = mean_spread([by_seed[s][setting][model][m] for s in seeds])
            row[m] = f"{mean:.4f} ± {sp:.4f}"
            row[m + "_mean"], row[m + "_spread"] = mean, sp
        rows.append(row)
    return rows


def robustness_rows(by_seed: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    seeds = sorted(by_seed)
    rows = []
    student = mean_spread([by_seed[s]["unpaired"]["S-WUTON"]["ssim"] for s in seeds])
    for kind, curve in by_seed[seeds[0]]["robustness"].items():
        for i, point in enumerate(curve):
            mean, sp = mean_spread([by_seed[s]["robustness"][kind][i]["ssim"] for s in seeds])
            lp, lsp = mean_spread([by_seed[s]["robustness"][kind][i]["proxy-lpips"] for s in seeds])
            rows.append({"error": kind, "px": point["px"], "T-WUTON ssim": f"{mean:.4f} ± {sp:.4f}",
                         "T-WUTON proxy-lpips": f"{lp:.4f} ± {lsp:.4f}", "S-WUTON ssim": f"{student[0]:.4f} ± {student[1]:.4f}"})
    return rows


# ------------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------------
PAIRED_COLS = ["model", "ssim", "proxy-lpips", "l1"]
UNPAIRED_COLS = ["model", "ssim", "proxy-lpips", "proxy-fid", "arms-l1"]
ORDER_COLS = ["source", "claim", "metric", "setting", "seed_reports", "difference", "verdict"]
ROBUST_COLS = ["error", "px", "T-WUTON ssim", "T-WUTON proxy-lpips", "S-WUTON ssim"]
BUDGET_COLS = ["model", "proxy-fid", "ssim", "proxy-lpips", "arms-l1"]


#: small images are enlarged so that the grids' titles fit
GRID_SCALE_HEIGHT = 160


def save_grids(study: Study, result: dict[str, Any], shown: dict[str, torch.Tensor],
               inputs: dict[str, dict[str, torch.Tensor]]) -> None:
    """The three grids of the first seed (unpaired, paired, robustness) as artifacts of ``study``."""
    from tryon.report import grid_image

    u, p = inputs["unpaired"], inputs["paired"]
    k = len(shown["T-WUTON"])
    kind0 = result["settings"]["kinds"][0]
    strengths = result["settings"]["strengths"]
    grids = {
        "grid_unpaired.png": (["person", "garment", "T-WUTON", "S-WUTON", "S λadv=0", "truth"],
                              [u["person"], u["garment"], shown["T-WUTON"], shown["S-WUTON"], shown["S-WUTON λadv=0"], u["unpaired_gt"]]),
        "grid_paired.png": (["person", "garment", *TEACHERS, "ground truth"],
                            [p["person"], p["garment"], *(shown[f"paired {n}"] for n in TEACHERS), p["person"]]),
        "grid_robustness.png": (["person", "garment", *(f"T {kind0} {px}px" for px in strengths), "S-WUTON", "truth"],
                                [u["person"], u["garment"], *(shown[f"T-WUTON {kind0} {px}px"] for px in strengths),
                                 shown["S-WUTON"], u["unpaired_gt"]]),
    }
    scale = max(1, round(GRID_SCALE_HEIGHT / int(u["person"].shape[-2])))
    for fname, (titles, cols) in grids.items():
        study.save_image(fname, grid_image([[c[i] for c in cols] for i in range(k)], titles, scale=scale))


def compute(study: Study, args: argparse.Namespace) -> None:
    import tryon
    from tryon.metrics.proxy import ProxyFeatures, train_proxy
    from tryon.report import read_curves
    from tryon_wuton.data import TryOnDataset
    from tryon_wuton.data.synth import parse_size

    cfg = argparse.Namespace(**{**vars(args), **study.settings(args)})
    t_start = time.perf_counter()
    size = parse_size(cfg.size)
    seeds = [int(v) for v in str(cfg.seeds).split(",") if v.strip()]
    strengths = sorted({int(v) for v in str(cfg.strengths).split(",") if v.strip()})
    kinds = cfg.kinds.split(",")
    if not seeds or not strengths:
        raise tryon.InputError("--seeds/--strengths", "non-empty lists", f"seeds={cfg.seeds!r} strengths={cfg.strengths!r}")
    out = study.out
    torch.manual_seed(0)
    data, runs = train_all(study, cfg, size, seeds)

    proxy_dir = Path(cfg.proxy) if cfg.proxy else out / "proxy"
    if not (proxy_dir / "proxy.safetensors").is_file():
        train = TryOnDataset(data, split="train", pairs="paired", size=size)
        imgs = torch.stack([train[i]["person"] for i in range(min(len(train), 512))])
        with study.section("proxy features"):
            train_proxy(imgs, proxy_dir, steps=cfg.proxy_steps, seed=0)
    with study.section("evaluation"):
        extractor = ProxyFeatures.from_file(proxy_dir).eval()
        paired = _load_test(data, size, "paired", cfg.eval_pairs)
        unpaired = _load_test(data, size, "unpaired", cfg.eval_pairs)
        with torch.inference_mode():
            gt_feats = _batched(extractor, unpaired["unpaired_gt"])
        keep = min(6, len(unpaired["person"]))
        by_seed: dict[int, dict[str, Any]] = {}
        shown: dict[str, torch.Tensor] = {}
        for seed in seeds:
            res, imgs = evaluate_seed(runs[seed], paired, unpaired, extractor, gt_feats, kinds, strengths, keep)
            if BUDGET_RUN in runs[seed]:
                res["distill"] = evaluate_budget(runs[seed][BUDGET_RUN], distill_multiples(cfg), cfg.steps, unpaired,
                                                 extractor, gt_feats)
            by_seed[seed] = res
            shown = shown or imgs

    first = min(by_seed)
    curves = {name: read_curves(runs[first][name] / "metrics.csv") for name in ("T-WUTON", "S-WUTON")
              if (runs[first][name] / "metrics.csv").is_file()}
    study.results.update({
        "settings": {"size": f"{size[0]}x{size[1]}", "n": cfg.n, "seeds": seeds, "parser_steps": cfg.parser_steps,
                     "steps": cfg.steps, "student_steps": cfg.student_steps, "batch": cfg.batch, "precision": cfg.precision,
                     "kinds": kinds, "strengths": strengths, "eval_pairs": cfg.eval_pairs, "proxy_steps": cfg.proxy_steps,
                     "distill_multiples": distill_multiples(cfg),
                     "data": str(cfg.data) if cfg.data else None, "proxy": str(cfg.proxy) if cfg.proxy else None},
        "torch_threads": torch.get_num_threads(),
        "n_pairs": {"paired": len(paired["person"]), "unpaired": len(unpaired["person"])},
        "protocol": {"ssim": "RGB in [0,1], Gaussian 11 / sigma 1.5 (tryon.metrics.ssim)",
                     "proxy": extractor.describe() if hasattr(extractor, "describe") else "proxy",
                     "spread": "half the range over seeds", "arms-l1": "mean |out - gt| on the person's arm labels (14, 15)",
                     "teacher agnostic": "from the ground-truth parse map (corrupted in the robustness rows)",
                     "proxy_trained": (extractor.describe().get("config") or {}).get("trained")},
        "per_seed": {str(k): v for k, v in by_seed.items()},
        "orderings": orderings(by_seed),
        "loss_curves": {name: {"seed": first, "curves": c} for name, c in curves.items()},
        "total_minutes": round((time.perf_counter() - t_start) / 60, 2),
    })
    save_grids(study, study.results, shown, {"paired": paired, "unpaired": unpaired})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.fs import atomic_write_text
    from tryon.report import Report, markdown_table
    from tryon.study import add_figure

    by_seed = {int(k): v for k, v in results["per_seed"].items()}
    paired_rows = table_rows(by_seed, "paired", PAIRED_COLS[1:])
    unpaired_rows = table_rows(by_seed, "unpaired", UNPAIRED_COLS[1:])
    robust = robustness_rows(by_seed)
    order = [{**o, "difference": f"{o['difference']:+.4f} ± {o['difference_spread']:.4f}"} for o in results["orderings"]]
    seeds = ", ".join(str(k) for k in sorted(by_seed))
    b = results["settings"]
    head = (f"Seeds {seeds}; size {b['size']}; teacher steps {b['steps']}, student steps {b['student_steps']}, parser steps "
            f"{b['parser_steps']}, batch {b['batch']}, precision {b.get('precision', 'fp32')}; "
            f"{results['n_pairs']['unpaired']} test pairs; {machine_summary(results)}; torch threads {results['torch_threads']}; "
            f"wall time {results['total_minutes']:.1f} min. Values: mean ± spread over seeds (spread = half the range).")
    if results["protocol"]["proxy_trained"] is False:
        head += (" **The proxy feature net did not train (NT-Xent at chance): the proxy-LPIPS / proxy-FID columns and the "
                 "orderings read on them are not informative; rerun with more --proxy-steps.**")
    md = [f"# WUTON quality benchmark\n\n{head}\n",
          "## Orderings of the seeds (held = in every seed; mixed = on the mean only)\n",
          markdown_table(ORDER_COLS, order), "",
          "## Paired setting (000 Table E.1: LPIPS / SSIM columns)\n", markdown_table(PAIRED_COLS, paired_rows), "",
          "## Unpaired setting vs the synthetic ground truth (000 Tables 4.3, 4.5; Table E.1 FID column)\n",
          markdown_table(UNPAIRED_COLS, unpaired_rows), "",
          "## Parser-error robustness (000 Fig. 4.10), unpaired SSIM / proxy-LPIPS\n", markdown_table(ROBUST_COLS, robust), ""]
    budget = budget_rows(by_seed)
    if budget:
        md += ["## S-WUTON against the distillation budget (000 Table 4.3 / §4.3.5), unpaired, vs the synthetic truth\n",
               f"One S-WUTON run per seed (λadv = 1), read at {', '.join(f'{m}×' for m in b['distill_multiples'])} the teacher's "
               f"{b['steps']} steps; constant learning rate, so each checkpoint is the run of that length.\n",
               markdown_table(BUDGET_COLS, budget), ""]
    text = "\n".join(md) + "\n"
    atomic_write_text(out / "table.md", text)

    first = min(by_seed)
    rep = Report(out, title="WUTON quality benchmark: the seeds' orderings on synthetic data")
    rep.add_text(head + "\n\nproxy-* metrics use a small feature network trained on the training persons (no ImageNet "
                 "backbone offline): compare rows with each other, never with published LPIPS / FID. Unpaired scores use the "
                 "synthetic ground truth (person a rendered in garment b), which real datasets do not have.")
    rep.add_table("Orderings of the seeds", ORDER_COLS, order)
    rep.add_table("Paired setting (000 Table E.1)", PAIRED_COLS, paired_rows)
    rep.add_table("Unpaired setting vs synthetic ground truth (000 Tables 4.3, 4.5)", UNPAIRED_COLS, unpaired_rows)
    rep.add_table("Parser-error robustness (000 Fig. 4.10)", ROBUST_COLS, robust)
    if budget:
        rep.add_table("S-WUTON against the distillation budget (000 Table 4.3 / §4.3.5)", BUDGET_COLS, budget)
        rep.add_curves("Unpaired proxy-FID vs distillation budget (multiples of the teacher's steps), mean over seeds",
                       {"S-WUTON": [(p["multiple"], sum(by_seed[s]["distill"][i]["proxy-fid"] for s in by_seed) / len(by_seed))
                                    for i, p in enumerate(by_seed[first]["distill"])],
                        "T-WUTON": [(m, sum(by_seed[s]["unpaired"]["T-WUTON"]["proxy-fid"] for s in by_seed) / len(by_seed))
                                    for m in (b["distill_multiples"][0], b["distill_multiples"][-1])]}, separate=False)
    curves: dict[str, list[tuple[float, float]]] = {}
    for kind in b["kinds"]:
        curves[f"T-WUTON {kind}"] = [(pt["px"], pt["ssim"]) for pt in by_seed[first]["robustness"][kind]]
    s_ssim = by_seed[first]["unpaired"]["S-WUTON"]["ssim"]
    curves["S-WUTON (no parser)"] = [(b["strengths"][0], s_ssim), (b["strengths"][-1], s_ssim)]
    rep.add_curves(f"Unpaired SSIM vs parser-error strength (px), seed {first}", curves, separate=False)
    for fname in ("grid_unpaired.png", "grid_paired.png", "grid_robustness.png"):
        add_figure(rep, out, fname, f"{fname[5:-4]} (seed {first})")
    for name, c in results["loss_curves"].items():
        rep.add_curves(f"losses — {name} (seed {c['seed']})", {k: [tuple(pt) for pt in v] for k, v in c["curves"].items()},
                       smooth=5)
    rep.add_table("Wall time (s)", ["stage", "seconds"], [[key, v] for key, v in results["timings"].items()])
    rep.write()
    return text


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/wuton_quality", table=None)


if __name__ == "__main__":
    sys.exit(main())
