"""Evaluation that tests the seeds' claims on the synthetic benchmark (000 §4.3.4, Tables 4.3, 4.5, Fig. 4.10).

Real try-on datasets have no ground truth for *unpaired* pairs (person a wearing garment b); our synthetic
generator renders it (``test/unpaired_gt``). So the unpaired setting, the one the student is trained for,
can be scored with paired metrics here:

* ``ssim`` — SSIM against the unpaired ground truth (RGB, [0, 1], Gaussian 11 / σ 1.5, see
  ``tryon/metrics/PROTOCOL.md``);
* ``proxy-lpips`` — LPIPS-style distance on *proxy* features (a small network trained on the training
  persons: no ImageNet backbone exists offline; never comparable with published LPIPS);
* ``proxy-fid`` — Fréchet distance on the same proxy features between outputs and ground truths;
* ``arms-l1`` — mean |output − gt| on the arms/hands region of the ground truth (labels 14, 15): the
  region the teacher never sees (000 §4.3.4.2 on Fig. 4.13; Fig. 4.14: the student loses it without L_adv);
* ``accessory-l1`` — the same on the accessory mask (handbag, bracelet) for samples that have one
  (000 Fig. 4.10, third row).

Parser robustness (000 Fig. 4.10, App. E.2): the teacher is run on agnostic persons built from the
ground-truth parse map with *injected parser errors* — ``erode`` (garment and arms shrunk by k px,
the rim labelled background), ``dilate`` (grown by k px over the background), ``missing-arms`` (arm labels
dropped), ``bag-as-garment`` (the accessory labelled as upper clothes) — and with its own trained parser.
Students take the plain person and no parse map, so their rows are identical across conditions *by
construction*; they are computed once and repeated so the table reads per condition.

A study (:mod:`tryon.study`, name ``eval-wuton``): :func:`compute` runs :func:`evaluate_tryon` into ``results.json``
and the grids, :func:`render` writes ``report.html`` / ``report.md`` / ``eval.md`` from them; run it as
``python -m tryon_wuton.experiments.evaluate`` (``--out``, ``--budget``, ``--render-only``). ``tryon demo wuton``
runs :func:`evaluate_tryon` as one of its stages.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

log = logging.getLogger("tryon_wuton.experiments.evaluate")

CONDITIONS = ("gt-parse", "own-parser", "erode", "dilate", "missing-arms", "bag-as-garment")


def corrupt_parse(parse: torch.Tensor, kind: str, k: int = 5, accessory: torch.Tensor | None = None) -> torch.Tensor:
    """Inject a parser error into ``B×H×W`` canonical label maps (a new tensor; the input is untouched)."""
    from ..data.labels import BACKGROUND, LEFT_ARM, RIGHT_ARM, UPPER_CLOTHES, UPPER_GARMENT_LABELS

    out = parse.clone()
    masked_labels = (*UPPER_GARMENT_LABELS, LEFT_ARM, RIGHT_ARM)
    region = torch.zeros_like(parse, dtype=torch.bool)
    for lab in masked_labels:
        region |= parse == lab
    r = region[:, None].float()
    if kind in ("gt-parse", "own-parser"):
        return out
    if kind == "erode":
        eroded = -F.max_pool2d(-r, 2 * k + 1, stride=1, padding=k)
        rim = (r - eroded)[:, 0] > 0.5
        out[rim] = BACKGROUND
    elif kind == "dilate":
        grown = F.max_pool2d(r, 2 * k + 1, stride=1, padding=k)[:, 0] > 0.5
        out[grown & (parse == BACKGROUND)] = UPPER_CLOTHES
    elif kind == "missing-arms":
        out[(parse == LEFT_ARM) | (parse == RIGHT_ARM)] = BACKGROUND
    elif kind == "bag-as-garment":
        if accessory is not None:
            out[accessory[:, 0] > 0.5] = UPPER_CLOTHES
    else:
        raise ValueError(f"unknown parser corruption {kind!r}; known: {', '.join(CONDITIONS)}")
    return out


def _region_l1(out: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """(sum of mean-over-channels |out − gt| inside mask, number of mask pixels)."""
    diff = (out - gt).abs().mean(1, keepdim=True)
    return float((diff * mask).sum()), float(mask.sum())


def evaluate_tryon(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    teacher: str | os.PathLike | None = None,
    students: dict[str, str | os.PathLike] | None = None,
    max_pairs: int = 200,
    batch_size: int = 8,
    proxy: str | os.PathLike | None = None,
    proxy_steps: int = 200,
    corruption_px: int | None = None,
    conditions: Sequence[str] = CONDITIONS,
    grid_rows: int = 6,
    grid_rows_per_category: int = 2,
    device: Any = None,
    seed: int = 0,
    save: Callable[[str, Any], Any] | None = None,
) -> dict[str, Any]:
    """Score teacher and student runs on the synthetic test split (unpaired, with ground truth).

    Returns ``{"protocol", "runs", "table", "grids"}`` (JSON values: what a study records) and saves one image grid
    per condition, ``grid_<condition>.png``, through ``save(name, image)`` (default: atomically into ``out``; a study
    passes its :meth:`~tryon.study.Study.save_image`); with several garment categories in the test split, every row
    of the table is also computed per category and ``grid_categories.png`` shows ``grid_rows_per_category`` items of
    each. ``out`` also holds the proxy feature net trained here.
    ``students`` maps a display name (e.g. ``"S-WUTON"``, ``"S-WUTON λadv=0"``) to a run directory.
    """
    import tryon
    from tryon.io import save_image
    from tryon.report import grid_image
    from tryon.metrics import fid, proxy_lpips, ssim
    from tryon.metrics.proxy import ProxyFeatures, train_proxy

    from ..data import TryOnDataset
    from ..data.labels import LEFT_ARM, RIGHT_ARM
    from ..agnostic import make_agnostic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device or tryon.default_device())
    students = dict(students or {})
    pipes: dict[str, Any] = {}
    if teacher is not None:
        pipes["T-WUTON"] = tryon.load("wuton-teacher", weights=teacher, device=dev)
    for name, run in students.items():
        pipes[name] = tryon.load("wuton-student", weights=run, device=dev)
    if not pipes:
        raise tryon.InputError("evaluate_tryon", "a teacher and/or student run", "none")
    size = tuple(next(iter(pipes.values())).size)
    for name, p in pipes.items():
        if tuple(p.size) != size:
            raise tryon.InputError(name, f"a model at {size[0]}x{size[1]}", f"{p.size[0]}x{p.size[1]}")
    k = corruption_px if corruption_px is not None else max(2, round(size[0] / 64))

    test = TryOnDataset(data, split="test", pairs="unpaired", size=size)
    n = min(len(test), int(max_pairs))
    first = test[0]
    if "unpaired_gt" not in first:
        raise tryon.errors.DatasetError(str(data), "a synthetic dataset with test/unpaired_gt", "no unpaired ground truth")

    # proxy features: trained once on training persons (label "proxy" everywhere)
    if proxy is None:
        proxy_path = out / "proxy"
        if not (proxy_path / "proxy.safetensors").is_file():
            train = TryOnDataset(data, split="train", pairs="paired", size=size)
            m = min(len(train), 512)
            imgs = torch.stack([train[i]["person"] for i in range(m)])
            log.info("training proxy feature net on %d training persons (%d steps)", m, proxy_steps)
            train_proxy(imgs, proxy_path, steps=proxy_steps, seed=seed, device=dev)
        proxy = proxy_path
    extractor = ProxyFeatures.from_file(proxy).to(dev)

    has_parser = teacher is not None and bool(pipes["T-WUTON"].config.get("parser_trained"))
    conds = [c for c in conditions if c != "own-parser" or has_parser]
    rows: dict[tuple[str, str, str], dict[str, list]] = {}
    grids: dict[str, list[list[torch.Tensor]]] = {c: [] for c in conds}
    # several garment categories: every row is also computed per category ("all" = every pair)
    categories = sorted({test.records[i].category for i in range(n)}, key=_category_order)
    per_category = len(categories) > 1

    def acc(key: tuple[str, str], outp: torch.Tensor, batch: dict[str, Any]) -> None:
        cats = batch["category"]
        _acc_one((*key, "all"), outp, batch)
        if per_category:
            for c in sorted(set(cats), key=_category_order):
                sel = torch.tensor([i for i, x in enumerate(cats) if x == c])
                sub = {k2: v.index_select(0, sel) for k2, v in batch.items() if torch.is_tensor(v)}
                _acc_one((*key, c), outp.index_select(0, sel), sub)

    def _acc_one(key: tuple[str, str, str], outp: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        gt = batch["unpaired_gt"]
        r = rows.setdefault(key, {"ssim": [], "plpips": [], "feat": [], "gtfeat": [], "arms": [0.0, 0.0], "acc": [0.0, 0.0]})
        r["ssim"].append(ssim(outp, gt, reduction="none").cpu())
        r["plpips"].append(proxy_lpips(outp, gt, extractor, reduction="none").cpu())
        with torch.no_grad():
            r["feat"].append(extractor(outp.to(dev)).cpu())
            r["gtfeat"].append(extractor(gt.to(dev)).cpu())
        arms = ((batch["parse_gt"] == LEFT_ARM) | (batch["parse_gt"] == RIGHT_ARM))[:, None].float()
        s, c = _region_l1(outp, gt, arms)
        r["arms"][0] += s
        r["arms"][1] += c
        if "accessory_mask" in batch:
            s, c = _region_l1(outp, gt, batch["accessory_mask"])
            r["acc"][0] += s
            r["acc"][1] += c

    student_cache: dict[str, list[torch.Tensor]] = {}
    # several categories: the first test items of each, one row per item (a grid that shows every category)
    category_rows: dict[str, list[list[torch.Tensor]]] = {c: [] for c in categories} if per_category else {}
    category_titles: list[str] = []
    for start in range(0, n, batch_size):
        items = [test[i] for i in range(start, min(n, start + batch_size))]
        batch = {key: torch.stack([it[key] for it in items]) for key in ("person", "garment", "unpaired_gt", "parse")}
        if all("accessory_mask" in it for it in items):
            batch["accessory_mask"] = torch.stack([it["accessory_mask"] for it in items])
        # the unpaired ground truth shows person a in garment b: its own parse (arms) is not on disk,
        # so the arms region is taken from person a's parse (the synthetic people keep their pose).
        batch["parse_gt"] = batch["parse"]
        batch["category"] = [it.get("category", "upper") for it in items]
        person, garment = batch["person"].to(dev), batch["garment"].to(dev)
        shown: dict[str, torch.Tensor] = {}  # per model, the output the category grid shows (the teacher's first condition)
        for name, pipe in pipes.items():
            if name == "T-WUTON":
                for cond in conds:
                    if cond == "own-parser":
                        outp = pipe(person=person, garment=garment).cpu()
                    else:
                        parse = corrupt_parse(batch["parse"], cond, k, batch.get("accessory_mask"))
                        p_star = make_agnostic(batch["person"], parse, batch["category"])
                        outp = pipe(person=person, garment=garment, agnostic=p_star.to(dev)).cpu()
                    acc((name, cond), outp, batch)
                    if cond == conds[0]:
                        shown[f"T-WUTON ({cond})"] = outp
                    if start == 0:
                        grids[cond].append(outp[:grid_rows])
            else:
                outp = pipe(person=person, garment=garment).cpu()
                acc((name, "any"), outp, batch)
                shown[name] = outp
                if start == 0:
                    student_cache[name] = [outp[:grid_rows]]
        category_titles = ["category", "person", "garment", *shown, "ground truth"]
        for i, c in enumerate(batch["category"]):
            if per_category and len(category_rows[c]) < grid_rows_per_category:
                category_rows[c].append([batch["person"][i], batch["garment"][i], *[o[i] for o in shown.values()],
                                         batch["unpaired_gt"][i]])
        if start == 0:
            head = {key: batch[key][:grid_rows] for key in ("person", "garment", "unpaired_gt")}
            head["agnostic_gt"] = make_agnostic(batch["person"], batch["parse"], batch["category"])[:grid_rows]
    log.info("evaluated %d unpaired test pairs", n)

    def summarise(r: dict[str, list]) -> dict[str, float]:
        feats, gtf = torch.cat(r["feat"]).numpy(), torch.cat(r["gtfeat"]).numpy()
        res = {
            "ssim": float(torch.cat(r["ssim"]).mean()),
            "ssim_std": float(torch.cat(r["ssim"]).std()),
            "proxy-lpips": float(torch.cat(r["plpips"]).mean()),
            "proxy-fid": float(fid(gtf, feats)) if len(feats) > 2 else float("nan"),
            "arms-l1": r["arms"][0] / max(r["arms"][1], 1.0),
        }
        res["accessory-l1"] = r["acc"][0] / r["acc"][1] if r["acc"][1] > 0 else float("nan")
        return res

    table: list[dict[str, Any]] = []
    for (name, cond, cat), r in rows.items():
        s = summarise(r)
        tag = {"category": cat} if per_category else {}
        if cond == "any":
            for c in conds:
                table.append({"model": name, "condition": c, **tag, **s, "uses_parser": False})
        else:
            table.append({"model": name, "condition": cond, **tag, **s, "uses_parser": True})
    table.sort(key=lambda row: (conds.index(row["condition"]), row["model"], _category_order(row.get("category", "all"))))

    grid_files = []
    for cond in conds:
        cols = [head["person"], head["garment"]]
        titles = ["person", "garment"]
        if cond in ("gt-parse",):
            cols.append(head["agnostic_gt"])
            titles.append("agnostic (gt)")
        if grids[cond]:
            cols.append(grids[cond][0])
            titles.append("T-WUTON")
        for name, outs in student_cache.items():
            cols.append(outs[0])
            titles.append(name)
        cols.append(head["unpaired_gt"])
        titles.append("ground truth")
        rows_imgs = [[c[i] for c in cols] for i in range(cols[0].shape[0])]
        name = f"grid_{cond}.png"
        if save is None:
            save_image(grid_image(rows_imgs, titles), out / name)
        else:
            save(name, grid_image(rows_imgs, titles))
        grid_files.append({"condition": cond, "path": name, "columns": titles})

    if per_category:
        rows_imgs = [row for c in categories for row in category_rows[c]]
        labels = [c for c in categories for _ in category_rows[c]]
        image = grid_image(rows_imgs, category_titles[1:], row_titles=labels)
        name = "grid_categories.png"
        if save is None:
            save_image(image, out / name)
        else:
            save(name, image)
        grid_files.append({"condition": "per category", "path": name, "columns": category_titles,
                           "categories": list(categories)})

    result = {
        "protocol": {
            "data": str(data),
            "split": "test",
            "pairs": "unpaired (synthetic ground truth)",
            "n_pairs": n,
            "resolution": list(size),
            "value_range": [-1, 1],
            "ssim": "RGB in [0,1], Gaussian window 11, sigma 1.5 (tryon.metrics.ssim)",
            "features": extractor.describe() if hasattr(extractor, "describe") else "proxy",
            "corruption_px": k,
            "conditions": list(conds),
            "categories": list(categories),
            "note": "proxy-* metrics use a small network trained on the training persons; not comparable to Inception FID or LPIPS",
        },
        "runs": {"teacher": str(teacher) if teacher else None, **{k2: str(v) for k2, v in students.items()}},
        "table": table,
        "grids": grid_files,
    }
    return result


EVAL_COLUMNS = ("condition", "model", "ssim", "proxy-lpips", "proxy-fid", "arms-l1", "accessory-l1")


def _category_order(name: str) -> int:
    """``all`` first, then upper, lower, dress."""
    return ("all", "upper", "lower", "dress").index(name) if name in ("all", "upper", "lower", "dress") else 9


def table_columns(table: list[dict[str, Any]]) -> list[str]:
    """:data:`EVAL_COLUMNS`, with ``category`` after ``model`` when the table is per category."""
    cols = list(EVAL_COLUMNS)
    if any("category" in row for row in table):
        cols.insert(2, "category")
    return cols

# ------------------------------------------------------------------------------------------------ the study
NAME = "eval-wuton"
#: ``max_pairs`` unpaired test pairs, ``proxy_steps`` of the proxy feature net, ``batch_size``; ``tiny``: a smoke run
BUDGETS: dict[str, dict[str, int]] = {"tiny": {"max_pairs": 8, "proxy_steps": 3, "batch_size": 4},
                                      "default": {"max_pairs": 200, "proxy_steps": 200, "batch_size": 8}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The evaluation's own options (``--out``, ``--budget``, ``--render-only``: the study's)."""
    p.add_argument("--data", help="a synthetic try-on dataset with test/unpaired_gt (`tryon data synth`); required "
                   "unless --render-only")
    p.add_argument("--teacher", default=None, help="a T-WUTON run folder")
    p.add_argument("--student", action="append", default=[], metavar="NAME=RUN",
                   help="an S-WUTON run folder under a display name (repeatable)")
    p.add_argument("--max-pairs", type=int, default=None, help="unpaired test pairs (default: the budget's)")
    p.add_argument("--proxy-steps", type=int, default=None, help="proxy feature net steps (default: the budget's)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the budget's")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)


def compute(study: Any, args: argparse.Namespace) -> None:
    """:func:`evaluate_tryon` into the study: its numbers in ``results.json``, its grids as artifacts."""
    from tryon.errors import InputError

    if not getattr(args, "data", None):
        raise InputError("--data", "a dataset folder (required unless --render-only)", "nothing")
    students = {}
    for item in args.student or []:
        name, sep, run = item.partition("=")
        if not sep or not name or not run:
            raise InputError("--student", "NAME=RUN", repr(item))
        students[name] = run
    s = study.settings(args)
    with study.section("evaluation"):
        res = evaluate_tryon(args.data, study.out, teacher=args.teacher, students=students, max_pairs=s["max_pairs"],
                             batch_size=s["batch_size"], proxy_steps=s["proxy_steps"], device=args.device, seed=args.seed,
                             save=study.save_image)
    study.results.update({"settings": s, **res})


def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md`` (the table and one grid per condition) and ``eval.md`` from the record."""
    from tryon.fs import atomic_write_text
    from tryon.report import Report, markdown_table
    from tryon.study import add_figure, machine_summary

    p = results["protocol"]
    rep = Report(out, "WUTON evaluation on unpaired synthetic ground truth")
    rep.add_text(f"{p['n_pairs']} unpaired test pairs of `{p['data']}` at {p['resolution'][0]}×{p['resolution'][1]}, "
                 f"parser errors of {p['corruption_px']} px; {p['note']}. Budget **{results['budget']['name']}**; "
                 f"{machine_summary(results)}.")
    cols = table_columns(results["table"])
    rep.add_table("Unpaired try-on quality (↑ ssim, ↓ others)", cols, [[row[c] for c in cols] for row in results["table"]])
    for g in results["grids"]:
        add_figure(rep, out, g["path"], f"Grid, parse condition {g['condition']}", " | ".join(g["columns"]))
    path = rep.write()
    table = markdown_table(cols, results["table"])
    atomic_write_text(out / "eval.md", table + "\n")
    return f"{table}\nreport: {path}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tryon_wuton.experiments.evaluate --data DIR --teacher RUN --student S-WUTON=RUN [--budget tiny]``."""
    from tryon.study import main as study_main

    return study_main(NAME, compute, render, BUDGETS, argv=argv, add_arguments=add_arguments,
                      description="WUTON evaluation on unpaired synthetic ground truth (a study)",
                      default_out="runs/eval-wuton")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
