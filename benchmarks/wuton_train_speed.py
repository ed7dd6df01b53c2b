"""WUTON training throughput: the old training step vs the new one, side by side in one process.

    .venv/bin/python benchmarks/wuton_train_speed.py [--out runs/bench-train-speed] [--size 128x96] [--batch 8]
        [--rounds 3] [--loss-steps 50] [--loss-size 64x48] [--budget tiny]

* **Speed** — T-WUTON and S-WUTON steps at ``--size`` (the demo's 128x96, batch 8) for each variant, on the
  same batches, interleaved round by round (old, new, …) so that other jobs on the machine slow every
  variant alike; a round runs ``GP_EVERY`` steps (one lazy-penalty period) per variant. Each step is timed
  as data (reading the items and collating them; the new path reads them from the in-memory cache, warmed
  beforehand) + compute (``step_fn`` through a real :class:`tryon.train.Trainer`). samples/s = batch /
  seconds per step, median over rounds; ratio = new / old.
  Variants: ``old`` = the path before these speed options (gradient penalty every step, critic weight gradients
  computed in the generator update, fp32, NCHW, items decoded per
  use); ``new`` = the defaults of ``train_teacher`` / ``distill_student`` now; ``new-<precision>`` = the new
  path with the other precision (fp32 <-> bf16), to show what autocast alone does.
* **Losses** — the first ``--loss-steps`` steps at ``--loss-size`` (smaller, to fit the budget) from the same
  seed, old vs new (and the other precision), plus the old path with a second seed: the new path trains "as
  well" when the mean of each loss over the steps (and over the last 10) lies within the band spanned by the
  two old seeds widened by their difference.

The perceptual features are those of the demo (the encoder of a human parser, randomly initialised here;
speed does not depend on the weights). The student's teacher targets come from a frozen random teacher,
computed once (the demo reads them from its on-disk cache: the same for both paths). Writes ``results.json``
(machine, versions, date, torch threads; saved after each part, so a killed run keeps what it measured) and
``table.md`` (printed) under ``--out``. Default run: about 5 minutes on 2 idle cores. ``--budget tiny`` (or
``--smoke``): tiny sizes and 2 steps (the test of this script).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from tryon.study import Study, machine_summary, script


def variants(precision: str) -> dict[str, dict[str, Any]]:
    """The step settings compared: the old path, today's defaults and today's defaults in the other precision."""
    from tryon_wuton.training.teacher import CACHE_DATA, CHANNELS_LAST, GP_EVERY

    other = "bf16" if precision == "fp32" else "fp32"
    new = {"gp_every": GP_EVERY, "precision": precision, "channels_last": CHANNELS_LAST, "cache": CACHE_DATA,
           "frozen_critic": True}
    return {
        "old": {"gp_every": 1, "precision": "fp32", "channels_last": False, "cache": False, "frozen_critic": False},
        "new": new,
        f"new-{other}": {**new, "precision": other},
    }


class Harness:
    """One variant of one step function: its modules, optimisers, Trainer and data source."""

    def __init__(self, kind: str, setting: dict[str, Any], data: str, size: tuple[int, int], batch: int, seed: int,
                 out: Path, teacher: Any = None):
        import torch

        from tryon.cached_dataset import CachedDataset
        from tryon.train import TrainConfig, Trainer
        from tryon_wuton.models import WUTON, build_discriminator
        from tryon_wuton.parsing import HumanParser
        from tryon_wuton.training.batches import UnpairedDataset, open_split
        from tryon_wuton.training.objectives import build_perceptual
        from tryon_wuton.training.student import StudentConfig, StudentStep
        from tryon_wuton.training.teacher import ADAM_BETAS, TEACHER_LR, TeacherConfig, TeacherStep

        torch.manual_seed(seed)
        base = open_split(data, "train", size)
        self.dataset = UnpairedDataset(CachedDataset(base) if setting["cache"] else base, pairs_per_person=4, seed=0)
        perceptual, _ = build_perceptual(None, HumanParser(num_classes=20))
        name = "generator" if kind == "teacher" else "student"
        net = WUTON(size=size)
        disc = build_discriminator()
        lr = TEACHER_LR
        modules = {name: net, "discriminator": disc}
        opts = {k: torch.optim.Adam(m.parameters(), lr=lr, betas=ADAM_BETAS) for k, m in modules.items()}
        if kind == "teacher":
            step = TeacherStep(TeacherConfig(gp_every=setting["gp_every"], frozen_critic=setting["frozen_critic"]), perceptual)
        else:
            step = StudentStep(StudentConfig(gp_every=setting["gp_every"], frozen_critic=setting["frozen_critic"]), perceptual,
                               teacher)
        cfg = TrainConfig(out_dir=str(out), max_steps=1, batch_size=batch, seed=seed, device="cpu", progress=False,
                          tensorboard=False, precision=setting["precision"], channels_last=setting["channels_last"])
        self.trainer = Trainer(cfg, modules=modules, optimizers=opts, dataset=self.dataset, step_fn=step)
        self.step_fn = step
        self.batch = batch

    def fetch(self, indices: list[int]) -> Any:
        from torch.utils.data import default_collate

        return default_collate([self.dataset[i] for i in indices])

    def run_step(self, step: int, indices: list[int]) -> tuple[float, float, dict[str, float]]:
        """(data seconds, compute seconds, losses) of one training step at trainer step ``step``."""
        t0 = time.perf_counter()
        batch = self.fetch(indices)
        t1 = time.perf_counter()
        self.trainer.step = step
        logs = self.step_fn(self.trainer, batch)
        return t1 - t0, time.perf_counter() - t1, dict(logs)


class FrozenTargets:
    """Teacher targets computed once per (person, garment) pair by a frozen random teacher (stand-in for the
    demo's on-disk teacher cache, identical for every variant)."""

    def __init__(self, size: tuple[int, int], seed: int):
        import torch

        from tryon_wuton.models import WUTON

        torch.manual_seed(seed + 1000)
        self.generator = WUTON(size=size).eval()
        for p in self.generator.parameters():
            p.requires_grad_(False)
        self.memo: dict[tuple[int, int], tuple[Any, Any]] = {}

    def to(self, device: Any) -> "FrozenTargets":
        return self

    def __call__(self, person: Any, garment_b: Any, parse: Any = None, index: Any = None, garment_index: Any = None,
                 category: Any = None):
        import torch

        from tryon_wuton.agnostic import make_agnostic

        keys = list(zip([int(i) for i in index], [int(g) for g in garment_index]))
        todo = [k for k, key in enumerate(keys) if key not in self.memo]
        if todo:
            sel = torch.tensor(todo)
            with torch.no_grad():
                cats = None if category is None else [category[k] for k in todo] if not isinstance(category, str) else category
                img, th = self.generator(make_agnostic(person[sel], parse[sel], category=cats), garment_b[sel])
            for j, k in enumerate(todo):
                self.memo[keys[k]] = (img[j].clone(), th[j].clone())
        return torch.stack([self.memo[k][0] for k in keys]), torch.stack([self.memo[k][1] for k in keys])


def batches_for(n_items: int, batch: int, count: int, seed: int) -> list[list[int]]:
    from tryon.train import SeededSampler

    sampler, out, epoch = SeededSampler(n_items, seed=seed), [], 0
    while len(out) < count:
        out += sampler.batches(epoch, batch)
        epoch += 1
    return out[:count]


def speed(kind: str, settings: dict[str, dict[str, Any]], data: str, size: tuple[int, int], batch: int, rounds: int,
          per_round: int, tmp: Path, seed: int = 0) -> dict[str, Any]:
    """Interleaved timing of every variant on the same batches; medians over rounds."""
    targets = FrozenTargets(size, seed) if kind == "student" else None
    harnesses = {name: Harness(kind, s, data, size, batch, seed, tmp / f"{kind}-{name}", targets) for name, s in settings.items()}
    n_items = len(next(iter(harnesses.values())).dataset)
    plan = batches_for(n_items, batch, per_round * (rounds + 1), seed)
    for h in harnesses.values():  # warm-up: caches (data, teacher targets), allocator, oneDNN kernels
        for i in range(per_round):
            h.run_step(i, plan[i])
        if hasattr(h.dataset.base, "hits"):
            for idx in {i for b in plan for i in b}:  # the cache is warm for every batch timed
                h.dataset[idx]
    rows: dict[str, dict[str, list[float]]] = {name: {"data": [], "compute": []} for name in harnesses}
    for r in range(rounds):
        chunk = plan[per_round * (r + 1): per_round * (r + 2)]
        for name, h in harnesses.items():
            d = c = 0.0
            for i, idx in enumerate(chunk):
                dd, cc, _ = h.run_step(i, idx)
                d, c = d + dd, c + cc
            rows[name]["data"].append(d / len(chunk))
            rows[name]["compute"].append(c / len(chunk))
    out: dict[str, Any] = {}
    for name, t in rows.items():
        step_s = [a + b for a, b in zip(t["data"], t["compute"])]
        out[name] = {"data_s": statistics.median(t["data"]), "compute_s": statistics.median(t["compute"]),
                     "step_s": statistics.median(step_s), "samples_per_s": batch / statistics.median(step_s),
                     "step_s_all": step_s}
    old = out["old"]["samples_per_s"]
    for name in out:
        out[name]["ratio"] = out[name]["samples_per_s"] / old
    return out


def breakdown(kind: str, data: str, size: tuple[int, int], batch: int, tmp: Path, reps: int = 2) -> dict[str, float]:
    """Seconds per part of one old-path step (fp32, NCHW, gradient penalty every step), minimum over ``reps``."""
    import torch

    from tryon.losses import gradient_penalty, relativistic_d_loss, relativistic_g_loss

    h = Harness(kind, variants("fp32")["old"], data, size, batch, 0, tmp / f"bd-{kind}",
                FrozenTargets(size, 0) if kind == "student" else None)
    from tryon_wuton.training.batches import batch_tensors

    idx = batches_for(len(h.dataset), batch, 1, 0)[0]
    net = h.trainer.modules["generator" if kind == "teacher" else "student"]
    disc = h.trainer.modules["discriminator"]
    perc = h.step_fn.perceptual
    parts: dict[str, Callable[[], Any]] = {}
    state: dict[str, Any] = {}

    def data_part() -> None:
        state["batch"] = h.fetch(idx)

    def tensors() -> None:
        state["t"] = batch_tensors(state["batch"], "cpu")

    parts["data: decode + collate"] = data_part
    parts["data: agnostic p*, c_a,p"] = tensors
    n_in = 2 if kind == "teacher" else 1

    def gen_fwd_bwd() -> None:
        t = state["t"]
        person = torch.cat([t["agnostic"]] * n_in) if kind == "teacher" else t["person"]
        garment = torch.cat([t["garment"], t["garment_b"]][:n_in]) if kind == "teacher" else t["garment_b"]
        img, th = net(person, garment)
        (img.mean() + th.mean()).backward()
        state["fake"] = img[-batch:].detach()

    def d_loss() -> None:
        relativistic_d_loss(disc(state["t"]["person"]), disc(state["fake"])).backward()

    def gp() -> None:
        gradient_penalty(disc, state["t"]["person"], state["fake"]).backward()

    def g_adv() -> None:
        with torch.no_grad():
            real = disc(state["t"]["person"])
        relativistic_g_loss(real, disc(state["fake"].requires_grad_(True))).backward()

    def perceptual() -> None:
        perc(state["fake"].detach().requires_grad_(True), state["t"]["person"]).backward()

    def adam() -> None:
        for opt in h.trainer.optimizers.values():
            for g in opt.param_groups:
                for p in g["params"]:
                    p.grad = torch.zeros_like(p)
            opt.step()

    parts[f"generator fwd+bwd (x{n_in} batch)"] = gen_fwd_bwd
    parts["discriminator loss fwd+bwd"] = d_loss
    parts["gradient penalty (double bwd)"] = gp
    parts["generator adversarial term"] = g_adv
    parts["perceptual features fwd+bwd"] = perceptual
    parts["Adam steps (G + D)"] = adam
    out = {name: float("inf") for name in parts}
    for _ in range(reps + 1):  # first pass is a warm-up
        for name, fn in parts.items():
            t0 = time.perf_counter()
            fn()
            out[name] = min(out[name], time.perf_counter() - t0)
    return out


def losses(kind: str, settings: dict[str, dict[str, Any]], data: str, size: tuple[int, int], batch: int, steps: int,
           tmp: Path) -> dict[str, Any]:
    """``steps`` steps of each variant from seed 0 (and the old path from seed 1); per-step losses."""
    runs = {name: (s, 0) for name, s in settings.items()}
    runs["old-seed1"] = (settings["old"], 1)
    curves: dict[str, list[dict[str, float]]] = {}
    for name, (s, seed) in runs.items():
        targets = FrozenTargets(size, 0) if kind == "student" else None
        h = Harness(kind, s, data, size, batch, seed, tmp / f"loss-{kind}-{name}", targets)
        plan = batches_for(len(h.dataset), batch, steps, seed)
        curves[name] = [h.run_step(i, idx)[2] for i, idx in enumerate(plan)]
    keys = [k for k in curves["old"][0] if k != "gp"]
    summary: dict[str, Any] = {}
    for name, rows in curves.items():
        tail = rows[-min(10, len(rows)):]
        summary[name] = {k: {"mean": statistics.fmean(r[k] for r in rows), "last10": statistics.fmean(r[k] for r in tail)}
                         for k in keys}
    verdict: dict[str, dict[str, bool]] = {}
    for name in settings:
        if name == "old":
            continue
        verdict[name] = {}
        for k in keys:
            for stat in ("mean", "last10"):
                a, b = summary["old"][k][stat], summary["old-seed1"][k][stat]
                spread = abs(a - b)
                lo, hi = min(a, b) - spread, max(a, b) + spread
                verdict[name][f"{k}.{stat}"] = lo <= summary[name][k][stat] <= hi
    return {"summary": summary, "within_noise": verdict, "curves": curves}


def nyquist_energy(images: Any) -> float:
    """Share of the (non-DC) spectral power of ``B x C x H x W`` images on the Nyquist row and column — the
    frequencies of a 2-pixel checkerboard (0 for a smooth image, 1 for a pure checkerboard)."""
    import torch

    x = images.float() - images.float().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2)
    h, w = x.shape[-2:]
    nyq = power[..., h // 2, :].sum() + power[..., :, w // 2].sum() - power[..., h // 2, w // 2].sum()
    return float(nyq / power.sum().clamp_min(1e-12))


def _output_energy(net: Any, batch: Any) -> float:
    """Nyquist energy of the unpaired teacher outputs ``net(p*, c_b)`` for a collated batch (eval mode)."""
    import torch

    from tryon_wuton.training.batches import batch_tensors

    t = batch_tensors(batch, "cpu")
    net.eval()
    with torch.no_grad():
        img, _ = net(t["agnostic"], t["garment_b"])
    net.train()
    return nyquist_energy(img)


def checkerboard(data: str, size: tuple[int, int], batch: int, steps: int, tmp: Path) -> dict[str, Any]:
    """Teacher trained ``steps`` steps (new path) with each transposed-conv initialisation, same seed and
    batches: Nyquist energy of the unpaired outputs at step 0 and at the end, and the last-10 mean losses."""
    import torch

    from tryon.nn.blocks import UP_INITS

    out: dict[str, Any] = {}
    for init in UP_INITS:
        h = Harness("teacher", variants("fp32")["new"] | {"precision": "fp32"}, data, size, batch, 0, tmp / f"cb-{init}")
        net = h.trainer.modules["generator"]  # built with the core default init (PyTorch's)
        if init == "nearest-conv":  # derived from the same random draw, so the two runs differ only by it
            for level in net.decoder.levels:
                level.init_nearest_conv()
        torch.manual_seed(0)

        plan = batches_for(len(h.dataset), batch, steps + 1, 0)
        probe = h.fetch(plan[0])

        e0 = _output_energy(net, probe)
        rows = [h.run_step(i, idx)[2] for i, idx in enumerate(plan[1:])]
        tail = rows[-min(10, len(rows)):]
        out[init] = {"nyquist_energy_step0": e0, f"nyquist_energy_step{steps}": _output_energy(net, probe),
                     "last10": {k: statistics.fmean(r[k] for r in tail) for k in ("l1", "perceptual", "warp", "total")}}
    return out


NAME = "wuton-train-speed"
#: ``steps_per_round`` None: one lazy-penalty period (GP_EVERY) per variant and round
BUDGETS = {
    "tiny": {"size": "64x48", "batch": 2, "rounds": 1, "loss_steps": 2, "loss_size": "64x48", "samples": 8,
             "checkerboard_steps": 2, "steps_per_round": 2, "breakdown_reps": 1},
    "default": {"size": "128x96", "batch": 8, "rounds": 3, "loss_steps": 50, "loss_size": "64x48", "samples": 48,
                "checkerboard_steps": 40, "steps_per_round": None, "breakdown_reps": 2},
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--smoke", dest="budget", action="store_const", const="tiny", help="same as --budget tiny: 64x48, batch 2, 2 steps")
    ap.add_argument("--size", default=None, help="budget: 128x96")
    ap.add_argument("--batch", type=int, default=None, help="budget: 8")
    ap.add_argument("--rounds", type=int, default=None, help="budget: 3")
    ap.add_argument("--loss-steps", type=int, default=None, help="budget: 50")
    ap.add_argument("--loss-size", default=None, help="budget: 64x48")
    ap.add_argument("--samples", type=int, default=None, help="synthetic persons generated for the run (budget: 48)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-losses", action="store_true")
    ap.add_argument("--checkerboard-steps", type=int, default=None,
                    help="teacher steps (at --loss-size) per transposed-conv initialisation for the checkerboard "
                         "measurement (0: skip; budget: 40)")
    ap.add_argument("--only", choices=("teacher", "student", "checkerboard"), default=None)


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch

    from tryon.cli import parse_size
    from tryon_wuton.data.synth import generate
    from tryon_wuton.training.teacher import GP_EVERY, PRECISION

    if args.threads:
        torch.set_num_threads(args.threads)
    s = study.settings(args)
    size, loss_size = parse_size(s["size"], minimum=32), parse_size(s["loss_size"], minimum=32)
    settings = variants(PRECISION)
    per_round = s["steps_per_round"] or GP_EVERY
    skip_losses = args.skip_losses or args.only == "checkerboard"
    result = study.results
    result.update({"variants": settings, "size": list(size), "batch": s["batch"], "rounds": s["rounds"],
                   "steps_per_round": per_round, "loss_size": list(loss_size), "loss_steps": s["loss_steps"],
                   "torch_threads": torch.get_num_threads(),
                   "mkldnn_bf16": bool(getattr(torch.backends.mkldnn, "is_available", lambda: False)())})
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = {}
        with study.section("data"):
            for sz in {size, loss_size}:
                data[sz] = str(tmp / f"data-{sz[0]}x{sz[1]}")
                generate(data[sz], s["samples"], size=sz, seed=0, test_fraction=0.1, progress=False)
        if s["checkerboard_steps"] > 0 and args.only in (None, "checkerboard"):
            with study.section("checkerboard"):
                result["checkerboard"] = checkerboard(data[loss_size], loss_size, s["batch"], s["checkerboard_steps"], tmp)
        for kind in ("teacher", "student"):
            if args.only not in (None, kind):
                continue
            with study.section(f"{kind} breakdown"):
                result[f"{kind}_breakdown"] = breakdown(kind, data[size], size, s["batch"], tmp, reps=s["breakdown_reps"])
            study.save()  # a killed run keeps what it measured
            with study.section(f"{kind} speed"):
                result[f"{kind}_speed"] = speed(kind, settings, data[size], size, s["batch"], s["rounds"], per_round, tmp)
            study.save()
            if not skip_losses:
                with study.section(f"{kind} losses"):
                    result[f"{kind}_losses"] = losses(kind, settings, data[loss_size], loss_size, s["batch"], s["loss_steps"], tmp)
    result["wall_s"] = time.perf_counter() - t_start


def render(out: Path, results: dict[str, Any]) -> str:

    lines = [f"# WUTON training speed ({results['size'][0]}x{results['size'][1]}, batch {results['batch']}) — "
             f"{machine_summary(results)}; torch threads {results['torch_threads']}"]
    if "checkerboard" in results:
        cb = results["checkerboard"]
        lines += ["", "## transposed-conv initialisation: checkerboard (Nyquist) energy of teacher outputs", "",
                  "| init | " + " | ".join(k for k in next(iter(cb.values())) if k != "last10") + " | last-10 losses |",
                  "|---|---:|---:|---|"]
        for init, v in cb.items():
            lines.append(f"| {init} | " + " | ".join(f"{x:.4f}" for k, x in v.items() if k != "last10") + " | "
                         + ", ".join(f"{k} {x:.4f}" for k, x in v["last10"].items()) + " |")
    for kind in ("teacher", "student"):
        if f"{kind}_breakdown" not in results:
            continue
        bd = results[f"{kind}_breakdown"]
        total = sum(bd.values())
        lines += ["", f"## {kind}: one old-path step, by part", "", "| part | ms | share |", "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1000:.0f} | {v / total:.0%} |" for k, v in bd.items()]
        sp = results[f"{kind}_speed"]
        lines += ["", f"## {kind}: old vs new step (same batches, interleaved, median of {results['rounds']} rounds)", "",
                  "| variant | data ms/step | compute ms/step | samples/s | × old |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {k} | {v['data_s'] * 1000:.0f} | {v['compute_s'] * 1000:.0f} | {v['samples_per_s']:.2f} | "
                  f"{v['ratio']:.2f} |" for k, v in sp.items()]
        if f"{kind}_losses" in results:
            ls = results[f"{kind}_losses"]
            names = list(ls["summary"])
            keys = list(ls["summary"]["old"])
            lines += ["", f"## {kind}: losses, first {results['loss_steps']} steps at {results['loss_size'][0]}x"
                      f"{results['loss_size'][1]} (mean / mean of last 10)", "",
                      "| loss | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for k in keys:
                lines.append(f"| {k} | " + " | ".join(f"{ls['summary'][n][k]['mean']:.4f} / {ls['summary'][n][k]['last10']:.4f}"
                                                      for n in names) + " |")
            for n, v in ls["within_noise"].items():
                bad = [k for k, ok in v.items() if not ok]
                lines.append(f"\n{n}: {'within the two-seed band of the old path' if not bad else 'OUTSIDE the band: ' + ', '.join(bad)}")
    return "\n".join(lines) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/bench-train-speed")


if __name__ == "__main__":
    sys.exit(main())
