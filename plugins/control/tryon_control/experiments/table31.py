"""003 Table 3.1 at small scale (R3): VAE, AVAE (L_Z^a, L_Z^b, without ξ) and GAN on scikit-learn digits.

Every model is trained by :func:`tryon_control.training.train_avae` on the same networks (003 Fig. 3.5, conv, width
``w``) and the same budget: ``objective="vae"`` (encoder + decoder), ``"avae"`` (003 Fig. 3.4) and ``"gan"``
(generator + critic on ``logit C(fake)``, the GAN row). Measured per model and seed:

* ``mse`` — mean squared error per pixel, in [−1, 1], of reconstructions of the **held-out** digits (the 20 % test
  split): the decoder's ``μ_d(μ_e(x))`` for the VAE, the generator's ``G(μ_e(x))`` for AVAE (003 §3.4.3: "MSE … between
  validation images and their reconstructions"); the AVAE run's own decoder is reported as ``mse_decoder``;
* ``proxy_fid`` — FID of ``n_fid`` samples (VAE: ``μ_d(z)``; AVAE and GAN: ``G(z)``) against the training digits, in
  the features of the core's proxy CNN (:func:`tryon.metrics.train_proxy`, self-supervised on the training digits);
* ``classifier_fid`` — the same in the 64-d penultimate features of a small digit classifier trained here on the
  training labels (the "dataset-specific classifier" FID of the seeds: no Inception weights offline);
* ``proxy_lpips`` — the core's proxy-LPIPS (:func:`tryon.metrics.lpips.proxy_lpips`) of the reconstructions;
* ``kl`` — the encoder's KL per image on the test split (003 §3.4 matches KLs across models with β).

Neither the numbers nor the feature spaces are comparable with the thesis's (Inception FID on 50k samples, LPIPS,
5e4 iterations at w = 128 and latent 100): only the orderings are. VAE/GAN and BiGAN are not built here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tryon.train import TrainConfig

from ..data import DigitsImages
from ..losses import kl_divergence
from ..training.avae import train_avae
from ..training.config import AVAE_LOOP, AvaeTaskConfig

#: model name → the task settings that make it (all on the same networks)
MODELS: dict[str, dict[str, Any]] = {
    "VAE": {"objective": "vae"},
    "AVAE (L_Z^a)": {"objective": "avae", "latent_loss": "a", "xi": False},
    "AVAE (L_Z^b)": {"objective": "avae", "latent_loss": "b", "xi": False},
    "GAN": {"objective": "gan", "xi": False},
}
#: 003 Table 3.1 (CelebA column, 64×64): the orderings reproduced here are read off the full table (seeds extract)
SEED_CELEBA = {"VAE": {"mse": 0.03, "fid": 60.04}, "GAN": {"fid": 14.54}, "AVAE (L_Z^a)": {"mse": 0.05, "fid": 16.23},
               "AVAE (L_Z^b)": {"mse": 0.05, "fid": 15.01}}


class DigitClassifier(nn.Module):
    """A small CNN classifier of grey digits (any size ≥ 8, resized to 16×16); ``features`` → 64-d."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(32 * 4 * 4, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)
        self.dims = 64

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)
        if tuple(x.shape[-2:]) != (16, 16):
            x = nn.functional.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, steps: int = 300, seed: int = 0) -> tuple[Any, float]:
    """Fit :class:`DigitClassifier` full-batch (Adam 3e-3); returns the core extractor wrapping its features and its
    training accuracy."""
    from tryon.metrics.proxy import ProxyFeatures

    torch.manual_seed(seed)
    net = DigitClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(int(steps)):
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net.head(net.features(images)), labels).backward()
        opt.step()
    with torch.no_grad():
        acc = float((net.head(net.features(images)).argmax(1) == labels).float().mean())
    return ProxyFeatures(net, name="digits-classifier-cnn"), acc


@torch.no_grad()
def features_of(extractor: Any, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """``N×D`` float64 features of grey or RGB images in [−1, 1] (grey repeated to RGB for the core extractors)."""
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return np.concatenate([extractor(images[i:i + batch]).double().cpu().numpy() for i in range(0, len(images), batch)])


def evaluate(pipe: Any, model: str, test: torch.Tensor, real_feats: dict[str, np.ndarray], extractors: dict[str, Any],
             n_fid: int, seed: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """The module doc's metrics of one trained model; also its reconstructions and samples (for the grid)."""
    from tryon.metrics.fid import fid
    from tryon.metrics.lpips import proxy_lpips

    out: dict[str, float] = {}
    shown: dict[str, torch.Tensor] = {}
    objective = MODELS[model]["objective"]
    z = torch.randn(int(n_fid), pipe.latent_dim, generator=torch.Generator().manual_seed(10_000 + seed))
    samples = (pipe.decode(z) if objective == "vae" else pipe.generate(z, seed=seed)).clamp(-1, 1)
    for name, ex in extractors.items():
        out[f"{name}_fid"] = fid(real_feats[name], features_of(ex, samples))
    shown["samples"] = samples
    if objective != "gan":
        mu = pipe.encode(test)
        out["kl"] = float(kl_divergence(mu, pipe.encoder.log_sigma.detach()))
        decoded = pipe.decode(mu).clamp(-1, 1)
        rec = decoded if objective == "vae" else pipe.generate(mu, seed=seed).clamp(-1, 1)
        out["mse"] = float(((rec - test) ** 2).mean())
        out["proxy_lpips"] = float(proxy_lpips(rec.repeat(1, 3, 1, 1), test.repeat(1, 3, 1, 1), extractors["proxy"]))
        if objective == "avae":
            out["mse_decoder"] = float(((decoded - test) ** 2).mean())
        shown["reconstructions"] = rec
    return out, shown


def _mean_std(values: list[float]) -> dict[str, float]:
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": m, "std": sd}


def orderings(per_seed: dict[str, dict[str, dict[str, float]]], fid_key: str = "classifier_fid",
              near: float = 1.5) -> list[dict[str, Any]]:
    """The Table 3.1 orderings checked per seed: ``held`` (every seed), ``not held`` (none) or ``mixed``.

    ``per_seed[seed][model]`` holds a model's metrics. "≈" (AVAE ≈ GAN) is read as: the ratio of their FIDs within
    [1/``near``, ``near``]; "≪" (X ≪ VAE) as: the VAE's FID above ``near`` × X's."""
    a, b = "AVAE (L_Z^a)", "AVAE (L_Z^b)"
    checks: list[tuple[str, Callable[[dict[str, dict[str, float]]], bool]]] = [
        ("MSE: VAE < AVAE (L_Z^a)", lambda r: r["VAE"]["mse"] < r[a]["mse"]),
        ("MSE: VAE < AVAE (L_Z^b)", lambda r: r["VAE"]["mse"] < r[b]["mse"]),
        (f"FID: AVAE (L_Z^b) ≈ GAN (ratio within {near}x)",
         lambda r: 1 / near <= r[b][fid_key] / r["GAN"][fid_key] <= near),
        (f"FID: AVAE (L_Z^b) ≪ VAE (VAE > {near}x)", lambda r: r["VAE"][fid_key] > near * r[b][fid_key]),
        (f"FID: GAN ≪ VAE (VAE > {near}x)", lambda r: r["VAE"][fid_key] > near * r["GAN"][fid_key]),
        ("FID: L_Z^b ≤ L_Z^a", lambda r: r[b][fid_key] <= r[a][fid_key]),
    ]
    rows = []
    for text, check in checks:
        held = [bool(check(runs)) for runs in per_seed.values()]
        rows.append({"ordering": text, "features": fid_key, "per_seed": held,
                     "verdict": "held" if all(held) else "not held" if not any(held) else "mixed"})
    return rows


def table31(out: str | Path, *, seeds: tuple[int, ...] = (0, 1), steps: int = 1000, size: int = 16, latent_dim: int = 16,
            width: int = 8, batch_size: int = 64, lr: float = 2e-4, beta: float = 1.0, n_fid: int = 1000,
            proxy_steps: int = 200, classifier_steps: int = 300, models: tuple[str, ...] = tuple(MODELS),
            section: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Train and evaluate every model of :data:`MODELS` for every seed (module doc); returns the results (JSON
    values) and, under ``"shown"``, seed 0's held-out digits, reconstructions and samples (tensors, for a grid).
    ``section(name)`` is a context manager timing each part (e.g. ``tryon.study.Study.section``)."""
    import contextlib

    from tryon.metrics import train_proxy

    timed = section or (lambda name: contextlib.nullcontext())
    out = Path(out)
    train = DigitsImages((size, size), 1, "train", seed=0)
    test = DigitsImages((size, size), 1, "test", seed=0).images
    with timed("features"):
        proxy = train_proxy(train.images.repeat(1, 3, 1, 1), out / "proxy", steps=int(proxy_steps), batch_size=64,
                            input_size=(max(size, 16), max(size, 16)), widths=(16, 32, 64, 64), seed=0)
        classifier, accuracy = train_classifier(train.images, train.labels, steps=classifier_steps)
    extractors = {"proxy": proxy, "classifier": classifier}
    real = {k: features_of(ex, train.images) for k, ex in extractors.items()}
    per_seed: dict[str, dict[str, dict[str, float]]] = {}
    shown: dict[str, Any] = {"test": test[:8]}
    steps_done: dict[str, int] = {}
    for seed in seeds:
        per_seed[str(seed)] = {}
        for model in models:
            loop = TrainConfig(**{**AVAE_LOOP, "out_dir": str(out / "runs" / f"{_slug(model)}-seed{seed}"), "max_steps": int(steps),
                                  "batch_size": int(batch_size), "lr": float(lr), "seed": int(seed), "progress": False,
                                  "device": "cpu", "log_every": max(1, int(steps) // 20), "ckpt_every": max(1, int(steps)),
                                  "keep_last": 1, "resume": False})
            task = AvaeTaskConfig(data=train, size=(size, size), latent_dim=latent_dim, width=width, beta=beta, **MODELS[model])
            with timed(f"train {model} seed {seed}"):
                pipe, summary = train_avae(loop, task)
            steps_done[f"{model} seed {seed}"] = int(summary["steps"])
            with timed(f"evaluate {model} seed {seed}"):
                metrics, images = evaluate(pipe, model, test, real, extractors, n_fid, seed)
            per_seed[str(seed)][model] = metrics
            if seed == seeds[0]:
                shown[model] = {k: v[:8] for k, v in images.items()}
    keys = sorted({k for runs in per_seed.values() for m in runs.values() for k in m})
    summary_rows = []
    for model in models:
        row: dict[str, Any] = {"model": model}
        for k in keys:
            values = [per_seed[s][model][k] for s in per_seed if k in per_seed[s][model]]
            if values:
                row[k] = _mean_std(values)
        summary_rows.append(row)
    checks = orderings(per_seed, "classifier_fid") + orderings(per_seed, "proxy_fid")[2:] if set(MODELS) <= set(models) else []
    return {"settings": {"seeds": list(seeds), "steps": int(steps), "size": [size, size], "latent_dim": latent_dim,
                         "width": width, "batch_size": batch_size, "lr": lr, "beta": beta, "n_fid": n_fid,
                         "proxy_steps": proxy_steps, "classifier_steps": classifier_steps, "xi": False,
                         "train_images": len(train), "test_images": int(test.shape[0]),
                         "torch_threads": torch.get_num_threads()},
            "classifier_train_accuracy": accuracy, "proxy": {k: proxy.config.get(k) for k in ("final_loss", "chance_loss", "trained")},
            "per_seed": per_seed, "summary": summary_rows, "orderings": checks, "steps_done": steps_done,
            "seed_celeba": SEED_CELEBA, "shown": shown}


def _slug(model: str) -> str:
    return model.lower().replace(" ", "-").replace("(", "").replace(")", "").replace("^", "")


def grid_rows(shown: dict[str, Any]) -> tuple[list[list[Any]], list[str]]:
    """Rows of a grid (held-out digits, each model's reconstructions, then each model's samples) and their titles."""
    def cells(t: torch.Tensor) -> list[Any]:
        return [((x.repeat(3, 1, 1) if x.shape[0] == 1 else x).permute(1, 2, 0).add(1).mul(127.5).clamp(0, 255)
                 .round().byte().numpy()) for x in t]

    rows, titles = [cells(shown["test"])], ["held-out digits"]
    for model, images in shown.items():
        if model != "test" and "reconstructions" in images:
            rows.append(cells(images["reconstructions"]))
            titles.append(f"{model} reconstruction")
    for model, images in shown.items():
        if model != "test":
            rows.append(cells(images["samples"]))
            titles.append(f"{model} samples")
    return rows, titles


__all__ = ["DigitClassifier", "MODELS", "SEED_CELEBA", "evaluate", "features_of", "grid_rows", "orderings", "table31",
           "train_classifier"]
