"""Directions on β-VAEs (003 §4.4.3, Fig. 4.11; seeds-control R7–R8): the barycentre protocol, reshaping, the β study.

* :func:`barycentre` — the position of a sprite: the barycentre of its white pixels (``> 0`` in [−1, 1]),
  ``(column + ½)/W − ½`` ∈ [−0.5, 0.5] (003 §4.4.1 / [C4]); images with fewer than :data:`MIN_WHITE_FRACTION`
  white pixels (about half the smallest sprite) are discarded, as [C4] discards failed saliency maps;
* :func:`barycentre_protocol` — 003 §4.4.1: ``z ∼ N(0, I)``, images of ``z − ⟨z, u⟩u + t u`` for
  ``t ∈ linspace(−5, 5, 11)``, the measured position per t: mean, std (lower = more precise control), the count
  kept; the mean curve's monotonicity and its fit by ``a·erf(t/(b√2)) + c`` (003 Eq. 4.11: ``½ erf(t/√2)`` scaled
  to the position range) against a straight line;
* :func:`reshape_check` — 003 Eq. 4.14–4.15 (:func:`tryon.latent.reshape_factor`): the position of images of
  reshaped latents against a target φ = N(mean, std²), in barycentre units (``g``'s zero is placed at the
  protocol's mean position at t = 0);
* :func:`reconstruction_terms` — held-out BCE of ``D(μ_e(x))`` and KL per image;
* :func:`betavae_study` — trains β ∈ {1, 5, 10, 20} × seeds (:func:`tryon_control.training.train_betavae`), learns x,
  runs the above and gives the seed's claim "the spread at fixed t falls as β grows" a verdict per seed.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from tryon.errors import InputError
from tryon.train import TrainConfig

from ..betavae import bernoulli_nll, gaussian_kl
from ..sprites import SpriteDataset, position_to_barycentre
from ..training.betavae import train_betavae
from ..training.config import BETAVAE_LOOP, BetaVaeTaskConfig

#: images whose white pixels are fewer than this fraction are discarded (the smallest sprite at 32×32 covers 8 px)
MIN_WHITE_FRACTION = 0.004
#: the protocol's coordinates along u (003 §4.4.1 / [C4]: linspace(−5, 5, 11))
PROTOCOL_T = tuple(float(t) for t in np.linspace(-5, 5, 11))


def barycentre(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(x, y, white)``: the barycentre of the white pixels of ``B×C×H×W`` images in [−1, 1] (channels averaged),
    x and y in [−0.5, 0.5] (NaN without white pixels), and the fraction of white pixels."""
    if images.dim() != 4:
        raise InputError("images", "a B×C×H×W tensor", str(list(images.shape)))
    white = (images.float().mean(1) > 0).float()
    h, w = white.shape[-2:]
    count = white.flatten(1).sum(1)
    cols = (torch.arange(w, dtype=torch.float32) + 0.5) / w - 0.5
    rows = (torch.arange(h, dtype=torch.float32) + 0.5) / h - 0.5
    x = (white.sum(1) * cols).sum(1) / count
    y = (white.sum(2) * rows).sum(1) / count
    return x, y, count / (h * w)


def fit_erf(ts: np.ndarray, means: np.ndarray) -> dict[str, float]:
    """``a·erf(t/(b√2)) + c`` by least squares (scipy), its RMS residual, and a straight line's for contrast."""
    from scipy.optimize import curve_fit
    from scipy.special import erf

    def model(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a * erf(t / (b * math.sqrt(2))) + c

    span = float(means[-1] - means[0])
    try:
        (a, b, c), _ = curve_fit(model, ts, means, p0=(span / 2 or 0.1, 1.0, float(means.mean())), maxfev=20_000)
        rmse = float(np.sqrt(np.mean((model(ts, a, b, c) - means) ** 2)))
    except RuntimeError:  # no convergence: recorded, never raised
        a = b = c = rmse = float("nan")
    line = np.polyfit(ts, means, 1)
    line_rmse = float(np.sqrt(np.mean((np.polyval(line, ts) - means) ** 2)))
    return {"a": float(a), "b": float(abs(b)), "c": float(c), "rmse": rmse, "line_rmse": line_rmse}


@torch.no_grad()
def barycentre_protocol(pipe: Any, factor: str = "x", n: int = 200, ts: tuple[float, ...] = PROTOCOL_T, seed: int = 0,
                        min_white: float = MIN_WHITE_FRACTION) -> dict[str, Any]:
    """003 §4.4.1 on ``pipe`` (a β-VAE pipeline with the direction ``factor``): ``n`` latents, every ``t`` (module doc).
    Positions are the x barycentre (``factor`` ``x``) or the y barycentre (``y``)."""
    z = torch.randn(int(n), pipe.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    per_t, kept_total, dropped = [], 0, 0
    for t in ts:
        x, y, white = barycentre(pipe.decode(pipe.along(z, factor, t)).cpu())
        pos = (y if factor == "y" else x)[white >= min_white]
        kept_total += int(pos.numel())
        dropped += int(n) - int(pos.numel())
        m = float(pos.mean()) if pos.numel() else float("nan")
        sd = float(pos.std(unbiased=True)) if pos.numel() > 1 else float("nan")
        per_t.append({"t": float(t), "mean": m, "std": sd, "kept": int(pos.numel())})
    means = np.array([r["mean"] for r in per_t])
    flipped = bool(np.nan_to_num(means[-1]) < np.nan_to_num(means[0]))
    if flipped:  # [C4]: curves are flipped so that they increase
        means = -means
    size = int(pipe.size)
    steps = np.diff(means)
    out = {"factor": factor, "n": int(n), "per_t": per_t, "flipped": flipped, "discarded": dropped,
           "discarded_fraction": dropped / (int(n) * len(ts)),
           "monotone": bool(np.all(steps > -0.5 / size)), "decreasing_steps": int(np.sum(steps < 0)),
           "mean_std": float(np.nanmean([r["std"] for r in per_t])), "range": float(means[-1] - means[0])}
    ok = np.isfinite(means)
    out["erf_fit"] = fit_erf(np.array(ts)[ok], means[ok]) if ok.sum() >= 4 else {}
    return out


@torch.no_grad()
def reshape_check(pipe: Any, factor: str = "x", target_mean: float = -0.15, target_std: float = 0.05, n: int = 1000,
                  zero: float = 0.0, seed: int = 0, bins: int = 20) -> dict[str, Any]:
    """Reshape the factor to N(``target_mean``, ``target_std``²) (barycentre units; ``zero``: the position where
    ``⟨z, u⟩ = 0``) by 003 Eq. 4.14 and measure the positions of ``n`` generated images, before and after."""
    from scipy.stats import norm

    from tryon.latent import normal_icdf, reshape_factor

    z = torch.randn(int(n), pipe.latent_dim, generator=torch.Generator().manual_seed(int(seed) + 7))
    direction = pipe.direction(factor)
    reshaped = reshape_factor(z, direction, normal_icdf(float(target_mean) - float(zero), float(target_std)))
    out: dict[str, Any] = {"target": {"mean": float(target_mean), "std": float(target_std)}, "zero": float(zero), "n": int(n)}
    edges = np.linspace(-0.5, 0.5, int(bins) + 1)
    for name, latents in (("before", z), ("after", reshaped)):
        x, y, white = barycentre(pipe.decode(latents).cpu())
        pos = (y if factor == "y" else x)[white >= MIN_WHITE_FRACTION].numpy()
        # Wasserstein-1 to φ: sorted samples against φ's quantiles at the same probabilities
        quantiles = target_mean + target_std * norm.ppf((np.arange(len(pos)) + 0.5) / max(len(pos), 1))
        w1 = float(np.mean(np.abs(np.sort(pos) - quantiles)))
        out[name] = {"mean": float(pos.mean()), "std": float(pos.std(ddof=1)), "kept": int(len(pos)),
                     "w1_to_target": w1, "histogram": np.histogram(pos, edges)[0].tolist()}
    out["bin_edges"] = edges.tolist()
    return out


@torch.no_grad()
def reconstruction_terms(pipe: Any, images: Tensor) -> dict[str, float]:
    """Held-out ``BCE(D(μ_e(x)), x)`` and ``KL(q(z|x) ‖ N(0, I))`` per image (nats), batch means."""
    mu, log_sigma = pipe.encoder(images.to(pipe.device))
    return {"bce": float(bernoulli_nll(pipe.decoder(mu), images.to(pipe.device)).mean()),
            "kl": float(gaussian_kl(mu, log_sigma).mean())}


@torch.no_grad()
def traversal_rows(pipe: Any, factor: str = "x", n: int = 2, ts: tuple[float, ...] = PROTOCOL_T, seed: int = 0) -> list[Tensor]:
    """``n`` traversals (each ``len(ts)×1×H×W`` in [−1, 1]) of the protocol, for a grid."""
    z = torch.randn(int(n), pipe.latent_dim, generator=torch.Generator().manual_seed(int(seed) + 3))
    return [torch.cat([pipe.decode(pipe.along(z[i:i + 1], factor, t)) for t in ts]).cpu() for i in range(int(n))]


def traversal_grid(shown: dict[str, list[Tensor]], ts: tuple[float, ...] = PROTOCOL_T) -> tuple[list[list[Any]], list[str], list[str]]:
    """The rows (uint8 HWC cells), column titles and row titles of a grid of :func:`traversal_rows` per β."""
    rows, titles = [], []
    for beta, traversals in shown.items():
        for k, images in enumerate(traversals):
            rows.append([x.repeat(3, 1, 1).permute(1, 2, 0).add(1).mul(127.5).clamp(0, 255).round().byte().numpy() for x in images])
            titles.append(f"β = {beta}, z{k}")
    return rows, [f"t={t:g}" for t in ts], titles


def spread_curves(results: dict[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """``{"β = b": [(t, mean, std), ...]}`` averaged over the seeds of a :func:`betavae_study` result (for a chart)."""
    seeds = list(results["per_seed"])
    curves = {}
    for r in results["summary"]:
        beta = f"{r['beta']:g}"
        runs = [results["per_seed"][sd][beta]["protocol"] for sd in seeds]
        curves[f"β = {beta}"] = [(row["t"], sum(p["per_t"][i]["mean"] for p in runs) / len(runs),
                                  sum(p["per_t"][i]["std"] for p in runs) / len(runs)) for i, row in enumerate(runs[0]["per_t"])]
    return curves


def spread_verdicts(per_seed: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The claim "std at fixed t falls as β grows" per seed: ``strict`` (the mean std over t falls at every step of
    β), ``ends`` (largest β below smallest β), Spearman ρ(β, mean std); overall ``held`` / ``not held`` / ``mixed``
    over the seeds on ``strict``."""
    from scipy.stats import spearmanr

    rows = {}
    for seed, runs in per_seed.items():
        betas = sorted(runs, key=float)
        stds = [runs[b]["protocol"]["mean_std"] for b in betas]
        rho = float(spearmanr([float(b) for b in betas], stds)[0]) if len(betas) > 1 else float("nan")
        rows[seed] = {"betas": [float(b) for b in betas], "mean_std": stds,
                      "strict": bool(all(b < a for a, b in zip(stds, stds[1:]))), "ends": bool(stds[-1] < stds[0]),
                      "spearman": rho}
    strict = [r["strict"] for r in rows.values()]
    ends = [r["ends"] for r in rows.values()]

    def word(v: list[bool]) -> str:
        return "held" if all(v) else "not held" if not any(v) else "mixed"

    return {"per_seed": rows, "verdict": word(strict), "verdict_ends": word(ends)}


def betavae_study(out: str | Path, *, betas: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0), seeds: tuple[int, ...] = (0, 1),
                  steps: int = 2000, batch_size: int = 64, size: int = 32, data: str = "sprites:n=20000",
                  method: str = "trajectories", trajectories: int = 64, inversion_steps: int = 50, protocol_n: int = 200,
                  reshape_n: int = 1000, held_out: int = 1000, section: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Train every β × seed (module doc), learn x, measure; returns JSON results and, under ``"shown"``, the first
    seed's traversals per β (tensors, for a grid)."""
    timed = section or (lambda name: contextlib.nullcontext())
    out = Path(out)
    per_seed: dict[str, dict[str, dict[str, Any]]] = {}
    shown: dict[str, list[Tensor]] = {}
    for seed in seeds:
        per_seed[str(seed)] = {}
        test = SpriteDataset(int(held_out), int(size), seed=10_000 + int(seed)).images()
        for beta in betas:
            loop = TrainConfig(**{**BETAVAE_LOOP, "out_dir": str(out / f"beta{beta:g}-seed{seed}"), "max_steps": int(steps),
                                  "batch_size": int(batch_size), "seed": int(seed), "progress": False, "device": "cpu",
                                  "log_every": max(1, int(steps) // 20), "ckpt_every": max(1, int(steps)), "keep_last": 1,
                                  "resume": False})
            task = BetaVaeTaskConfig(data=data, size=int(size), beta=float(beta), directions="x", direction_method=method,
                                     trajectories=int(trajectories), inversion_steps=int(inversion_steps))
            with timed(f"train beta {beta:g} seed {seed}"):
                pipe, summary = train_betavae(loop, task)
            with timed(f"evaluate beta {beta:g} seed {seed}"):
                proto = barycentre_protocol(pipe, "x", n=int(protocol_n), seed=int(seed))
                zero = next(r["mean"] for r in proto["per_t"] if r["t"] == 0.0)
                res = {"protocol": proto, "direction": summary["directions"]["x"], "steps_done": int(summary["steps"]),
                       "last_train": summary["last"], **reconstruction_terms(pipe, test),
                       "reshape": reshape_check(pipe, "x", n=int(reshape_n), zero=zero if math.isfinite(zero) else 0.0,
                                                seed=int(seed))}
            per_seed[str(seed)][f"{beta:g}"] = res
            if seed == seeds[0]:
                shown[f"{beta:g}"] = traversal_rows(pipe, "x", n=2, seed=int(seed))
    summary_rows = []
    for beta in betas:
        runs = [per_seed[str(s)][f"{beta:g}"] for s in seeds]

        def stat(get: Callable[[dict[str, Any]], float], runs: list[dict[str, Any]] = runs) -> dict[str, float]:
            v = [get(r) for r in runs]
            return {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}

        summary_rows.append({"beta": float(beta), "mean_std": stat(lambda r: r["protocol"]["mean_std"]),
                             "erf_rmse": stat(lambda r: r["protocol"]["erf_fit"].get("rmse", float("nan"))),
                             "line_rmse": stat(lambda r: r["protocol"]["erf_fit"].get("line_rmse", float("nan"))),
                             "range": stat(lambda r: r["protocol"]["range"]), "bce": stat(lambda r: r["bce"]),
                             "kl": stat(lambda r: r["kl"]),
                             "reshape_w1": stat(lambda r: r["reshape"]["after"]["w1_to_target"]),
                             "monotone": [bool(r["protocol"]["monotone"]) for r in runs]})
    return {"settings": {"betas": list(betas), "seeds": list(seeds), "steps": int(steps), "batch_size": int(batch_size),
                         "size": int(size), "data": data, "method": method, "trajectories": int(trajectories),
                         "inversion_steps": int(inversion_steps), "protocol_n": int(protocol_n), "reshape_n": int(reshape_n),
                         "held_out": int(held_out), "lr": BETAVAE_LOOP["lr"],
                         "beta_reference_size": BetaVaeTaskConfig.beta_reference_size, "min_white_fraction": MIN_WHITE_FRACTION,
                         "position_range": [float(position_to_barycentre(0.0, size)), float(position_to_barycentre(1.0, size))],
                         "torch_threads": torch.get_num_threads()},
            "per_seed": per_seed, "summary": summary_rows, "claim": spread_verdicts(per_seed), "shown": shown}


__all__ = ["MIN_WHITE_FRACTION", "PROTOCOL_T", "barycentre", "barycentre_protocol", "betavae_study", "fit_erf",
           "spread_curves", "traversal_grid",
           "reconstruction_terms", "reshape_check", "spread_verdicts", "traversal_rows"]
