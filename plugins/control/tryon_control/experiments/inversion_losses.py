"""003 Table 4.1 at small scale (R5): inverting held-out images into a trained generator with MSE, DSSIM and blurred MSE,
each with and without the ``‖z‖ ≤ √d`` projection (003 §4.2, Eq. 4.1–4.5; seeds-control §3.2(a–b)).

The generator ``G(z)`` is the one an AVAE run of :func:`tryon_control.training.train_avae` learns (``objective="avae"``,
no ξ; ``"gan"`` also works), trained on ``data`` (``"digits"`` or a folder, :func:`~.table31.load_sets`). Its **held-out**
images (never seen in training, like the seed's ILSVRC images) are inverted by :func:`tryon.latent.invert` (method
``"optimisation"``, Adam without a ramp, the same seeded ``N(0, I)`` start, steps and lr for every loss) with each loss
of :func:`loss_grid` and each projection. Every reconstruction is judged by what it was not optimised for:

* ``proxy_lpips`` — the core's proxy-LPIPS (:func:`tryon.metrics.lpips.proxy_lpips`) in a proxy CNN trained on the
  training images (:func:`tryon.metrics.train_proxy`), the stand-in for the seed's LPIPS;
* ``ssim`` — the core's SSIM (:func:`tryon.metrics.ssim.ssim`, 11-px Gaussian window, valid padding; the DSSIM rows
  optimised a reflect-padded version of it, so their SSIM is their own objective);
* ``z_norm`` — ``‖z‖/√d`` per image, averaged (1 on the ball's surface);
* ``proxy_fid`` — FID of the set of reconstructions against the training images in the proxy CNN's features: how
  realistic the reconstructions are (003 Fig. 4.3: "artifacts when using our loss without constraining z");
* ``critic`` — the AVAE critic's mean probability that a reconstruction is fake (R5's "lower critic score");
* ``mse`` — pixel MSE (in [−1, 1]) on the targets, the quantity the MSE rows optimise.

Verdicts per seed (:func:`verdicts`): held (every seed), not held (none) or mixed. Numbers are not comparable with the
thesis's (BigGAN 128 px, LPIPS, 1000 ILSVRC images, 3000 steps): only the directions are.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from tryon.train import TrainConfig

from ..training.avae import train_avae
from ..training.config import AVAE_LOOP, AvaeTaskConfig
from .table31 import features_of, load_sets

#: 003 Table 4.1 (LPIPS, mean ± std over 1000 ILSVRC images, BigGAN 128 px, 3000 iterations)
SEED_TABLE41 = {"MSE": (0.57, 0.14), "DSSIM": (0.58, 0.12), "blurred MSE (σ = 3 px at 128 px)": (0.52, 0.12)}
BALL, FREE = "‖z‖ ≤ √d", "none"
METRICS = ("proxy_lpips", "ssim", "z_norm", "proxy_fid", "critic", "mse")


def loss_grid(sigmas: tuple[float, ...]) -> list[tuple[str, str, float]]:
    """``(label, loss name for invert, σ)``: MSE, DSSIM, then blurred MSE at each σ (px)."""
    return [("MSE", "mse", 0.0), ("DSSIM", "dssim", 0.0)] + [(f"blurred MSE σ={s:g}", "blurred-mse", float(s)) for s in sigmas]


class _Fixed(nn.Module):
    """``G(z)`` of an AVAE pipeline as a plain module with ``latent_dim`` (what ``invert`` takes)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator, self.latent_dim = generator, int(generator.latent_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, None)


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


@torch.no_grad()
def judge(rec: torch.Tensor, target: torch.Tensor, z: torch.Tensor, proxy: Any, real_feats: Any,
          critic: nn.Module | None) -> dict[str, float]:
    """The module doc's metrics of one set of reconstructions."""
    from tryon.metrics.fid import fid
    from tryon.metrics.lpips import proxy_lpips
    from tryon.metrics.ssim import ssim

    rec = rec.clamp(-1, 1)
    out = {"proxy_lpips": float(proxy_lpips(_rgb(rec), _rgb(target), proxy)),
           "ssim": float(ssim(_rgb(rec), _rgb(target))),
           "z_norm": float((z.norm(dim=1) / math.sqrt(z.shape[1])).mean()),
           "proxy_fid": fid(real_feats, features_of(proxy, rec)),
           "mse": float(((rec - target) ** 2).mean())}
    if critic is not None:
        out["critic"] = float(torch.sigmoid(critic(rec)).mean())
    return out


def _half_range(values: list[float]) -> dict[str, float]:
    return {"mean": sum(values) / len(values), "half_range": (max(values) - min(values)) / 2}


def _verdict(held: list[bool]) -> str:
    return "held" if all(held) else "not held" if not any(held) else "mixed"


def verdicts(per_seed: dict[str, dict[str, dict[str, float]]], sigmas: tuple[float, ...]) -> list[dict[str, Any]]:
    """The R5 directions per seed, each ``metric(a) < metric(b)`` (``≤`` for "does not worsen").
    ``per_seed[seed][f"{loss label} | {projection}"]`` holds a run's metrics."""
    checks: list[tuple[str, str, str, str, bool]] = []  # (text, metric, a, b, strict)
    for proj in (BALL, FREE):
        for s in sigmas:
            b = f"blurred MSE σ={s:g} | {proj}"
            checks.append((f"proxy-LPIPS: blurred MSE σ={s:g} < MSE ({proj})", "proxy_lpips", b, f"MSE | {proj}", True))
            checks.append((f"proxy-LPIPS: blurred MSE σ={s:g} < DSSIM ({proj})", "proxy_lpips", b, f"DSSIM | {proj}", True))
    for label, _, _ in loss_grid(sigmas):
        ball, free = f"{label} | {BALL}", f"{label} | {FREE}"
        checks.append((f"projection lowers ‖z‖: {label}", "z_norm", ball, free, True))
        checks.append((f"projection does not worsen proxy-FID: {label}", "proxy_fid", ball, free, False))
    if len(sigmas) > 1:
        big, prev = max(sigmas), sorted(sigmas)[-2]
        for proj in (BALL, FREE):
            checks.append((f"σ too large loses accuracy: SSIM at σ={big:g} < at σ={prev:g} ({proj})", "ssim",
                           f"blurred MSE σ={big:g} | {proj}", f"blurred MSE σ={prev:g} | {proj}", True))
    out = []
    for text, metric, a, b, strict in checks:
        held = [bool(r[a][metric] < r[b][metric] if strict else r[a][metric] <= r[b][metric]) for r in per_seed.values()]
        out.append({"direction": text, "metric": metric, "per_seed": held, "verdict": _verdict(held)})
    return out


def _train(out: Path, train: Any, channels: int, size: int, seed: int, g: dict[str, Any]) -> Any:
    loop = TrainConfig(**{**AVAE_LOOP, "out_dir": str(out / f"generator-seed{seed}"), "max_steps": int(g["steps"]),
                          "batch_size": int(g["batch_size"]), "lr": float(g["lr"]), "seed": int(seed), "progress": False,
                          "device": "cpu", "log_every": max(1, int(g["steps"]) // 20), "ckpt_every": max(1, int(g["steps"])),
                          "keep_last": 1, "resume": False})
    task = AvaeTaskConfig(data=train, size=(size, size), channels=channels, latent_dim=int(g["latent_dim"]),
                          width=int(g["width"]), beta=float(g["beta"]), objective=str(g["objective"]),
                          latent_loss=str(g["latent_loss"]), xi=False)
    pipe, _ = train_avae(loop, task)
    return pipe


def inversion_losses(out: str | Path, *, data: str | Path = "digits", seeds: tuple[int, ...] = (0, 1), size: int = 16,
                     generator: dict[str, Any] | None = None, n_test: int = 64, steps: int = 300, lr: float = 0.05,
                     sigmas: tuple[float, ...] = (0.5, 1.0, 2.0), proxy_steps: int = 100, shown: int = 8,
                     section: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Train the generator per seed on ``data``, invert ``n_test`` held-out images with every loss × projection and
    judge them (module doc). ``generator``: ``objective`` (``"avae"``/``"gan"``), ``latent_loss``, ``steps``,
    ``batch_size``, ``lr``, ``latent_dim``, ``width``, ``beta``. Returns JSON values and, under ``"shown"``, seed 0's
    first ``shown`` targets and reconstructions (tensors, for a grid)."""
    from tryon.latent import invert
    from tryon.metrics import train_proxy

    g = {"objective": "avae", "latent_loss": "a", "steps": 300, "batch_size": 64, "lr": 5e-4, "latent_dim": 16, "width": 8,
         "beta": 0.1, **(generator or {})}
    timed = section or (lambda name: contextlib.nullcontext())
    out = Path(out)
    tag = "digits" if str(data) == "digits" else "folder"
    train, test, _, described = load_sets(data, size)
    images = train.images
    targets = test[: int(n_test)]
    with timed(f"{tag}: proxy CNN"):
        proxy = train_proxy(_rgb(images), out / "proxy", steps=int(proxy_steps), batch_size=64,
                            input_size=(max(size, 16), max(size, 16)), widths=(16, 32, 64, 64), seed=0)
        real = features_of(proxy, images)
    from tryon.metrics.fid import fid

    reference = {"held-out images themselves": fid(real, features_of(proxy, targets))}
    grid = loss_grid(tuple(sigmas))
    per_seed: dict[str, dict[str, dict[str, float]]] = {}
    pictures: dict[str, Any] = {"targets": targets[:shown]}
    for seed in seeds:
        with timed(f"{tag}: train generator seed {seed}"):
            pipe = _train(out / "runs", train, int(images.shape[1]), size, int(seed), g)
        gen = _Fixed(pipe.generator).eval()
        critic = pipe.critic.eval() if g["objective"] in ("avae", "gan") else None
        with torch.no_grad():
            z = torch.randn(len(targets), gen.latent_dim, generator=torch.Generator().manual_seed(10_000 + int(seed)))
            reference[f"samples G(z), z ~ N(0, I), seed {seed}"] = fid(real, features_of(proxy, gen(z).clamp(-1, 1)))
        init_seeds = [int(seed) * 100_003 + i for i in range(len(targets))]
        runs: dict[str, dict[str, float]] = {}
        for label, name, sigma in grid:
            for proj in (BALL, FREE):
                with timed(f"{tag}: invert seed {seed}"):
                    res = invert(gen, targets, None, method="optimisation", loss=name, sigma=sigma or 3.0,
                                 projection="ball" if proj == BALL else None, steps=int(steps), lr=float(lr), ramp=False,
                                 seed=init_seeds)
                runs[f"{label} | {proj}"] = judge(res.reconstructions, targets, res.latents, proxy, real, critic)
                if seed == seeds[0]:
                    pictures[f"{label} | {proj}"] = res.reconstructions[:shown].clamp(-1, 1)
        per_seed[str(seed)] = runs
    summary = []
    for label, _, _ in grid:
        for proj in (BALL, FREE):
            key = f"{label} | {proj}"
            row: dict[str, Any] = {"loss": label, "projection": proj}
            for m in METRICS:
                values = [per_seed[s][key][m] for s in per_seed if m in per_seed[s][key]]
                if values:
                    row[m] = _half_range(values)
            summary.append(row)
    return {"settings": {"data": tag, "described": described, "seeds": list(seeds), "size": [size, size],
                         "channels": int(images.shape[1]), "generator": g, "n_test": int(len(targets)), "steps": int(steps),
                         "lr": float(lr), "sigmas": [float(s) for s in sigmas], "proxy_steps": int(proxy_steps),
                         "train_images": len(train), "test_images": int(test.shape[0]), "torch_threads": torch.get_num_threads()},
            "proxy": {k: proxy.config.get(k) for k in ("final_loss", "chance_loss", "trained")}, "reference_fid": reference,
            "per_seed": per_seed, "summary": summary, "verdicts": verdicts(per_seed, tuple(sigmas)), "shown": pictures}


def grid_rows(shown: dict[str, Any]) -> tuple[list[list[Any]], list[str]]:
    """Rows of a grid: the held-out targets, then each loss × projection's reconstructions; and their titles."""
    def cells(t: torch.Tensor) -> list[Any]:
        return [_rgb(x[None])[0].permute(1, 2, 0).add(1).mul(127.5).clamp(0, 255).round().byte().numpy() for x in t]

    titles = ["held-out targets", *(k.replace(BALL, "|z| <= sqrt(d)") for k in shown if k != "targets")]  # the font has no ‖ ≤ √
    return [cells(shown["targets"]), *(cells(v) for k, v in shown.items() if k != "targets")], titles


__all__ = ["BALL", "FREE", "METRICS", "SEED_TABLE41", "grid_rows", "inversion_losses", "judge", "loss_grid", "verdicts"]
