"""``tryon demo control``: the three contributions of 003 end to end on built-in data, in one report (5.3 min on a
2-core AVX2-only CPU at the default budget, 2 torch threads; the goal is ≤ 8 min).

A study (:mod:`tryon.study`), three sections:

1. **AVAE** (003 ch. 3): a VAE, an AVAE (L_Z^b) and a GAN on the same networks, trained on scikit-learn digits;
   held-out MSE and proxy-FID (:func:`.table31.table31` on one seed), reconstructions and samples side by side;
2. **directions on a β-VAE** (003 ch. 4): a Table 4.2 β-VAE on procedural sprites, the x direction learned from
   003 Alg. 1 trajectories, the barycentre protocol (mean and spread of the measured position against t) and a
   reshaped factor (003 Eq. 4.14–4.15) (:mod:`.betavae`);
3. **multi-object scenes** (003 ch. 5): the grid × K proposer with its learned prior, decomposition of held-out
   scenes (boxes drawn), the Table 5.1 protocol (AP@0.5, AP@[.5:.95], count error) and a geometric edit
   (:mod:`.scenes`).

:func:`compute` trains and measures, saving grids and curves; :func:`render` writes ``report.html`` / ``report.md``
from ``results.json`` and the saved images alone (``--render-only``). Import-light: torch is imported when it runs.
The default budget's steps are what fits 8 minutes on a 2-core AVX2-only CPU; the numbers are a demonstration, the
2-seed tables of the seeds' claims come from the benchmarks (``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "demo-control"
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"avae_steps": 3, "avae_width": 4, "avae_latent": 4, "n_fid": 64, "proxy_steps": 2,
             "betavae": {"betas": [1.0, 10.0], "steps": 5, "batch_size": 16, "data": "sprites:n=128", "trajectories": 4,
                         "inversion_steps": 2, "protocol_n": 16, "reshape_n": 32, "held_out": 32},
             "scenes": {"steps": 3, "object_steps": 1, "n_train": 16, "n_test": 6, "batch_size": 4, "width": 4}},
    "default": {"avae_steps": 300, "avae_width": 8, "avae_latent": 16, "n_fid": 500, "proxy_steps": 60,
                "betavae": {"betas": [1.0, 10.0], "steps": 1500, "batch_size": 64, "data": "sprites:n=20000",
                            "trajectories": 32, "inversion_steps": 30, "protocol_n": 100, "reshape_n": 500, "held_out": 300},
                "scenes": {"steps": 1000, "object_steps": 100, "n_train": 2000, "n_test": 200, "batch_size": 16, "width": 8}},
}
#: the AVAE section's models (names of :data:`.table31.MODELS`)
AVAE_MODELS = ("VAE", "AVAE (L_Z^b)", "GAN")
GRIDS = {"avae": "grids/avae-digits.png", "betavae": "grids/betavae-traversals.png", "scenes": "grids/scenes.png",
         "edit": "grids/scene-edit.png"}
CHARTS = {"betavae": "betavae-spread.svg"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's own options (``--out``, ``--budget``, ``--render-only``: the study's)."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")


def _avae(study: Any, s: dict[str, Any], seed: int) -> dict[str, Any]:
    from tryon.report import grid_image

    from .table31 import grid_rows, table31

    res = table31(study.out / "runs" / "avae", seeds=(seed,), steps=int(s["avae_steps"]), size=16,
                  latent_dim=int(s["avae_latent"]), width=int(s["avae_width"]), batch_size=64, lr=5e-4, beta=0.1,
                  n_fid=int(s["n_fid"]), proxy_steps=int(s["proxy_steps"]), classifier_steps=max(5, int(s["proxy_steps"])),
                  models=AVAE_MODELS)
    rows, titles = grid_rows(res.pop("shown"))
    study.save_image(GRIDS["avae"], grid_image(rows, None, titles, scale=3))
    return {"summary": res["summary"], "settings": res["settings"], "steps_done": res["steps_done"]}


def _betavae(study: Any, s: dict[str, Any], seed: int) -> dict[str, Any]:
    from tryon.fs import atomic_write_text
    from tryon.report import band_chart, grid_image

    from .betavae import betavae_study, spread_curves, traversal_grid

    b = s["betavae"]
    res = betavae_study(study.out / "runs" / "betavae", betas=tuple(b["betas"]), seeds=(seed,), steps=int(b["steps"]),
                        batch_size=int(b["batch_size"]), data=b["data"], trajectories=int(b["trajectories"]),
                        inversion_steps=int(b["inversion_steps"]), protocol_n=int(b["protocol_n"]),
                        reshape_n=int(b["reshape_n"]), held_out=int(b["held_out"]))
    rows, ts, titles = traversal_grid(res.pop("shown"))
    study.save_image(GRIDS["betavae"], grid_image(rows, ts, titles, scale=2))
    atomic_write_text(study.path(CHARTS["betavae"]), band_chart("x barycentre against t: mean ± std", spread_curves(res),
                                                                  "t (coordinate along the learned u)", (-0.5, 0.5)))
    return res


def _scenes(study: Any, s: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train the 4×4 × K = 4 model (003 ch. 5) briefly, measure the Table 5.1 protocol on held-out scenes, decompose
    and edit (move, rotate, remove object 0)."""
    from PIL import Image

    import tryon
    from tryon.report import grid_image
    from tryon.train import TrainConfig

    from ..scenes.config import SceneTaskConfig
    from ..scenes.data import ControlScenes
    from ..training.scenes import train_scenes
    from .scenes import OURS, evaluate, grid_rows

    c = s["scenes"]
    train = ControlScenes(int(c["n_train"]), size=48, split="train", seed=0)
    test = ControlScenes(int(c["n_test"]), size=48, split="test", seed=0)
    loop = TrainConfig(out_dir=str(study.out / "runs" / "scenes"), max_steps=int(c["steps"]), batch_size=int(c["batch_size"]),
                       lr=1e-3, seed=seed, log_every=max(1, int(c["steps"]) // 20), ckpt_every=10 ** 9, progress=False,
                       tensorboard=False, resume=False)
    task = SceneTaskConfig(data=train, size=48, grid=4, k=4, width=int(c["width"]), object_steps=int(c["object_steps"]))
    pipe, summary = train_scenes(loop, task)
    metrics = evaluate(pipe, test)
    shown = {"images": test.images[:6], "truth": [test.boxes(i) for i in range(6)]}
    dec = pipe(test.images[:6])
    shown[OURS] = {"recon": dec.reconstruction, "boxes": dec.boxes}
    rows, titles = grid_rows(shown)
    study.save_image(GRIDS["scenes"], grid_image(rows, None, titles, scale=1))
    editor = tryon.load("scene-edit", weights=loop.out_dir)  # the run folder serves every task of the family
    found = [i for i, b in enumerate(dec.boxes[:4]) if len(b) > 0]
    result = {"metrics": metrics, "steps": int(summary["steps"]), "settings": dict(c), "edits": {}}
    if not found:  # a model this short may detect nothing: no object to edit
        return result
    images = test.images[found]
    edits: dict[str, Any] = result["edits"]
    edit_rows: list[list[Any]] = []
    for name, options in (("move 6 px right", {"move": (6.0, 0.0)}), ("rotate 0.6 rad", {"rotate": 0.6}),
                          ("remove", {"remove": True})):
        out = editor(images, obj=0, **options)
        moved = (out.box_after[:, :2] - out.box_before[:, :2]).norm(dim=1)
        turned = (out.box_after[:, 4] - out.box_before[:, 4]).abs()
        edits[name] = {"centre_shift_px": float(moved.mean()), "angle_change_rad": float(turned.mean())}
        if not edit_rows:
            edit_rows.append(list(out.original))
        edit_rows.append(list(out.image))
    cells = [[Image.fromarray(x.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()).resize((144, 144), Image.NEAREST)
              for x in row] for row in edit_rows]
    study.save_image(GRIDS["edit"], grid_image(cells, None, ["decomposed and re-rendered", *edits], scale=1))
    return result


def compute(study: Any, args: argparse.Namespace) -> None:
    """Run the three sections (module doc) with ``--threads`` torch threads."""
    import torch

    s = study.settings(args)
    seed = int(getattr(args, "seed", 0) or 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(getattr(args, "threads", 2) or 2)))
    res = study.results
    res["settings"] = {"seed": seed, "torch_threads": torch.get_num_threads()}
    try:
        with study.section("AVAE"):
            res["avae"] = _avae(study, s, seed)
        with study.section("beta-VAE directions"):
            res["betavae"] = _betavae(study, s, seed)
        with study.section("multi-object scenes"):
            res["scenes"] = _scenes(study, s, seed)
    finally:
        torch.set_num_threads(threads)


def _fmt(v: Any) -> Any:
    if isinstance(v, dict) and "mean" in v:
        return round(float(v["mean"]), 4)
    return v


def _render_betavae(rep: Any, out: Path, bv: dict[str, Any]) -> None:
    from tryon.study import add_figure

    st = bv["settings"]
    rep.add_text(f"**Directions on β-VAEs (003 ch. 4).** Procedural sprites {st['size']}×{st['size']} ({st['data']}), the "
                 f"003 Table 4.2 β-VAE (latent 10), {st['steps']} steps per β; the x direction from 003 Alg. 1 on the decoder "
                 f"({st['trajectories']} trajectories, shifts ±0.1…0.5, blurred MSE, ‖z‖ ≤ √10, worst 10 % rejected) and the "
                 "monotone g of Eq. 4.13. Barycentre protocol (003 §4.4.1): images of z − ⟨z, u⟩u + t u, the x barycentre of "
                 "white pixels per t; the seed expects an erf-shaped mean and a spread at fixed t that falls as β grows. "
                 "Reshaping (Eq. 4.14–4.15): the x factor pushed to N(−0.15, 0.05²), W1 of the measured positions to it.")
    cols = ["β", "mean std over t", "erf fit RMS", "straight-line fit RMS", "monotone", "held-out BCE", "KL",
            "reshape W1 before → after"]
    rows = []
    for r in bv["summary"]:
        run = next(iter(bv["per_seed"].values()))[f"{r['beta']:g}"]
        rs = run["reshape"]
        rows.append([f"{r['beta']:g}", round(r["mean_std"]["mean"], 4), round(r["erf_rmse"]["mean"], 4),
                     round(r["line_rmse"]["mean"], 4), "yes" if all(r["monotone"]) else "no", round(r["bce"]["mean"], 1),
                     round(r["kl"]["mean"], 2), f"{rs['before']['w1_to_target']:.3f} → {rs['after']['w1_to_target']:.3f}"])
    rep.add_table(f"x direction per β (claim: the spread falls as β grows — {bv['claim']['verdict']} in this one seed)", cols, rows)
    rep.add_text(f"![x barycentre: mean ± std against t]({CHARTS['betavae']})")
    add_figure(rep, out, GRIDS["betavae"], "traversals along the learned x direction, t = −5 … 5")


def _render_scenes(rep: Any, out: Path, sc: dict[str, Any]) -> None:
    from tryon.study import add_figure

    c, m = sc["settings"], sc["metrics"]
    rep.add_text(f"**Multi-object scenes (003 ch. 5).** Procedural scenes 48×48 with 2–6 rotated sprites ({c['n_train']} "
                 f"for training, {c['n_test']} held out), the 4×4 cells × K = 4 model with its learned recurrent prior, "
                 f"{sc['steps']} steps (object VAE alone for the first {c['object_steps']}). The Table 5.1 protocol on the "
                 "tight boxes of the glimpse masks; the 2-seed comparison with a SPACE-like 8×8 × K = 1 model is "
                 "`benchmarks/scenes_table51.py`.")
    rep.add_table("003 Table 5.1 protocol, held-out scenes", ["AP@0.5", "AP@[.5:.95]", "count error rate",
                                                             "object-VAE calls / image (of 64)", "objects / image"],
                  [[round(m["ap50"], 3), round(m["ap"], 3), round(m["count_error"], 3), round(m["calls"], 1),
                    round(m["mean_objects"], 2)]])
    add_figure(rep, out, GRIDS["scenes"], "held-out scenes, reconstructions, boxes (red) over the truth (green)")
    if sc["edits"]:
        rep.add_table("Geometric edits of object 0 (change applied to its box)", ["edit", "centre shift (px)", "angle change (rad)"],
                      [[k, round(v["centre_shift_px"], 2), round(v["angle_change_rad"], 3)] for k, v in sc["edits"].items()])
        add_figure(rep, out, GRIDS["edit"], "decomposed and re-rendered, then object 0 moved, rotated, removed")
        rep.add_text("Where the model covers one object with two proposals, moving or removing one of them leaves a faint "
                     "copy behind (count error above); rotating a round sprite shows little.")
    else:
        rep.add_text("No object was detected in the first held-out scenes, so there is no edit to show.")


def render(out: Path, results: dict[str, Any]) -> str:
    """``report.html`` / ``report.md`` from the record and the saved images alone; returns the report's path line."""
    from tryon.report import Report
    from tryon.study import add_figure, machine_summary

    b, t = results["budget"], results["timings"]
    rep = Report(out, "Control demo: AVAE, β-VAE directions, multi-object scenes (003)")
    rep.add_text(f"Machine: {machine_summary(results)}; {results['settings']['torch_threads']} torch threads; "
                 + ", ".join(f"{k} {v:.0f} s" for k, v in t.items())
                 + (" — **tiny smoke run: the numbers are not meaningful**" if b["name"] == "tiny" else "") + ".")
    av = results["avae"]
    st = av["settings"]
    rep.add_text(f"**AVAE (003 ch. 3).** scikit-learn digits at {st['size'][0]}×{st['size'][1]}, latent {st['latent_dim']}, "
                 f"width {st['width']}, β = {st['beta']}, {st['steps']} steps of batch {st['batch_size']} per model, one "
                 "seed. MSE of held-out reconstructions (VAE: its decoder; AVAE: its generator) and FID of samples in the "
                 "features of a proxy CNN and a digit classifier trained in the run (not comparable with Inception FID).")
    cols = ["model", "mse", "proxy_fid", "classifier_fid", "kl"]
    rep.add_table("AVAE against a VAE and a GAN on the same networks (003 Table 3.1: MSE VAE < AVAE; FID AVAE ≈ GAN ≪ VAE)",
                  cols, [{c: _fmt(r.get(c, "–")) for c in cols} for r in av["summary"]])
    add_figure(rep, out, GRIDS["avae"], "held-out digits, reconstructions, samples")
    _render_betavae(rep, out, results["betavae"])
    _render_scenes(rep, out, results["scenes"])
    return f"report: {rep.write()}"


__all__ = ["AVAE_MODELS", "BUDGETS", "CHARTS", "GRIDS", "NAME", "add_arguments", "compute", "render"]
