"""003 Table 3.1 at small scale (R3): the seven models of the table on scikit-learn digits or a user's image folder.

Every model is trained by :func:`tryon_control.training.train_avae` on the same networks (003 Fig. 3.5, conv, width
``w``) and the same budget (:data:`MODELS`): ``objective="vae"`` (encoder + decoder), ``"avae"`` (003 Fig. 3.4, with
``L_Z^a`` or ``L_Z^b``, without ξ, and ``L_Z^b`` with ξ), ``"gan"`` (generator + critic on ``logit C(fake)``),
``"vaegan"`` (Larsen 2016) and ``"bigan"`` (Donahue 2017). Measured per model and seed:

* ``mse`` — mean squared error per pixel, in [−1, 1], of reconstructions of **held-out** images (003 §3.4.3: "MSE …
  between validation images and their reconstructions"): the decoder's ``μ_d(μ_e(x))`` for the VAE and VAE/GAN, the
  generator's ``G(μ_e(x), ξ)`` for AVAE and ``G(E(x))`` for BiGAN; an AVAE run's own decoder is ``mse_decoder``;
* ``proxy_fid`` — FID of ``n_fid`` samples (VAE, VAE/GAN: ``μ_d(z)``; the others: ``G(z, ξ)``) against the training
  images, in the features of the core's proxy CNN (:func:`tryon.metrics.train_proxy`, self-supervised on them);
* ``classifier_fid`` — digits only (it needs labels): the same in the 64-d penultimate features of a small digit
  classifier trained here (the "dataset-specific classifier" FID of the seeds: no Inception weights offline);
* ``proxy_lpips`` — the core's proxy-LPIPS (:func:`tryon.metrics.lpips.proxy_lpips`) of the reconstructions;
* ``kl`` — the encoder's KL per image on the held-out images (not for BiGAN, whose encoder is deterministic).

Data (:func:`load_sets`): ``"digits"`` (the fixed 80/20 split) or a folder of images read through the core's
:class:`tryon.data.ImageFolderDataset` (RGB, resized to ``size``): its ``train/`` and ``test/`` subfolders when it
has both (the layout of :func:`tryon.data.photos.write_photo_crops`, split by source photo), else a fixed 80/20
split of every image under it. Neither the numbers nor the feature spaces are comparable with the thesis's
(Inception FID on 50k samples, LPIPS, 5e4 iterations at w = 128 and latent 100): only the orderings are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tryon.errors import InputError
from tryon.train import TrainConfig

from ..data import DigitsImages, FolderImages
from ..losses import kl_divergence
from ..training.avae import train_avae
from ..training.config import AVAE_LOOP, AvaeTaskConfig

#: VAE/GAN's KL weight is this × the study's β: the authors give VAE/GAN alone a larger β (4–20, 1 for the others; 003
#: §3.4 "to get similar KL divergences"); measured here (digits, 300 steps, seed 0): KL 74 nats per image at β = 0.1,
#: 20 at β = 1.0, against the VAE's 19.6 at β = 0.1
VAEGAN_BETA_FACTOR = 10.0
#: model name → the task settings that make it (all on the same networks; ``beta_factor`` scales the study's β)
MODELS: dict[str, dict[str, Any]] = {
    "VAE": {"objective": "vae"},
    "AVAE (L_Z^a)": {"objective": "avae", "latent_loss": "a", "xi": False},
    "AVAE (L_Z^b)": {"objective": "avae", "latent_loss": "b", "xi": False},
    "AVAE (L_Z^b) + ξ": {"objective": "avae", "latent_loss": "b", "xi": True},
    "GAN": {"objective": "gan", "xi": False},
    "VAE/GAN": {"objective": "vaegan", "beta_factor": VAEGAN_BETA_FACTOR},
    "BiGAN": {"objective": "bigan", "xi": False},
}
#: 003 Table 3.1 (CelebA column, 64×64): the orderings reproduced here are read off the full table (seeds extract);
#: the seed's only row with ξ is L_Z^a (with ξ 16.99 vs without 16.23: "no consistent gain" over the 5 sets)
SEED_CELEBA = {"VAE": {"mse": 0.03, "lpips": 0.18, "fid": 60.04}, "GAN": {"fid": 14.54},
               "AVAE (L_Z^a)": {"mse": 0.05, "lpips": 0.11, "fid": 16.23}, "AVAE (L_Z^b)": {"mse": 0.05, "lpips": 0.11, "fid": 15.01},
               "AVAE (L_Z^a) + ξ": {"mse": 0.05, "lpips": 0.11, "fid": 16.99}, "VAE/GAN": {"mse": 0.07, "lpips": 0.09, "fid": 26.45},
               "BiGAN": {"mse": 0.18, "lpips": 0.16, "fid": 18.49}}
#: the objectives whose reconstructions and samples come from the decoder μ_d
DECODED = ("vae", "vaegan")


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
    samples = (pipe.decode(z) if objective in DECODED else pipe.generate(z, seed=seed)).clamp(-1, 1)
    for name, ex in extractors.items():
        out[f"{name}_fid"] = fid(real_feats[name], features_of(ex, samples))
    shown["samples"] = samples
    if objective != "gan":
        mu = pipe.encode(test)
        if objective != "bigan":
            out["kl"] = float(kl_divergence(mu, pipe.encoder.log_sigma.detach()))
        rec = (pipe.decode(mu) if objective in DECODED else pipe.generate(mu, seed=seed)).clamp(-1, 1)
        out["mse"] = float(((rec - test) ** 2).mean())
        rgb = (lambda t: t.repeat(1, 3, 1, 1)) if test.shape[1] == 1 else (lambda t: t)
        out["proxy_lpips"] = float(proxy_lpips(rgb(rec), rgb(test), extractors["proxy"]))
        if objective == "avae":
            out["mse_decoder"] = float(((pipe.decode(mu).clamp(-1, 1) - test) ** 2).mean())
        shown["reconstructions"] = rec
    return out, shown


def _mean_std(values: list[float]) -> dict[str, float]:
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": m, "std": sd}


A, B, XI = "AVAE (L_Z^a)", "AVAE (L_Z^b)", "AVAE (L_Z^b) + ξ"


def _near(x: float, y: float, near: float) -> bool:
    return 1 / near <= x / y <= near


def _checks(fid: str, near: float) -> list[tuple[str, str, tuple[str, ...], Callable[[dict[str, dict[str, float]]], bool]]]:
    """``(ordering, metric key, models needed, test on one seed's {model: metrics})`` for MSE, FID in ``fid`` and
    proxy-LPIPS."""
    mse, lp = "mse", "proxy_lpips"
    return [
        ("MSE: VAE < AVAE (L_Z^a)", mse, ("VAE", A), lambda r: r["VAE"][mse] < r[A][mse]),
        ("MSE: VAE < AVAE (L_Z^b)", mse, ("VAE", B), lambda r: r["VAE"][mse] < r[B][mse]),
        ("MSE: AVAE (L_Z^b) < VAE/GAN", mse, (B, "VAE/GAN"), lambda r: r[B][mse] < r["VAE/GAN"][mse]),
        ("MSE: VAE/GAN < BiGAN", mse, ("VAE/GAN", "BiGAN"), lambda r: r["VAE/GAN"][mse] < r["BiGAN"][mse]),
        (f"MSE: L_Z^b ≈ L_Z^a (ratio within {near}x)", mse, (A, B), lambda r: _near(r[B][mse], r[A][mse], near)),
        (f"MSE: with ξ ≈ without ξ (L_Z^b, ratio within {near}x)", mse, (B, XI), lambda r: _near(r[XI][mse], r[B][mse], near)),
        (f"FID: AVAE (L_Z^b) ≈ GAN (ratio within {near}x)", fid, (B, "GAN"), lambda r: _near(r[B][fid], r["GAN"][fid], near)),
        (f"FID: AVAE (L_Z^b) ≪ VAE (VAE > {near}x)", fid, ("VAE", B), lambda r: r["VAE"][fid] > near * r[B][fid]),
        (f"FID: GAN ≪ VAE (VAE > {near}x)", fid, ("VAE", "GAN"), lambda r: r["VAE"][fid] > near * r["GAN"][fid]),
        (f"FID: VAE/GAN ≪ VAE (VAE > {near}x)", fid, ("VAE", "VAE/GAN"), lambda r: r["VAE"][fid] > near * r["VAE/GAN"][fid]),
        (f"FID: BiGAN ≪ VAE (VAE > {near}x)", fid, ("VAE", "BiGAN"), lambda r: r["VAE"][fid] > near * r["BiGAN"][fid]),
        ("FID: L_Z^b ≤ L_Z^a", fid, (A, B), lambda r: r[B][fid] <= r[A][fid]),
        (f"FID: with ξ ≈ without ξ (L_Z^b, ratio within {near}x)", fid, (B, XI), lambda r: _near(r[XI][fid], r[B][fid], near)),
        ("LPIPS: VAE/GAN < AVAE (L_Z^b)", lp, (B, "VAE/GAN"), lambda r: r["VAE/GAN"][lp] < r[B][lp]),
        ("LPIPS: AVAE (L_Z^b) < VAE", lp, ("VAE", B), lambda r: r[B][lp] < r["VAE"][lp]),
    ]


def orderings(per_seed: dict[str, dict[str, dict[str, float]]], fid_keys: tuple[str, ...] = ("classifier_fid",),
              near: float = 1.5) -> list[dict[str, Any]]:
    """The Table 3.1 orderings checked per seed: ``held`` (every seed), ``not held`` (none) or ``mixed``.

    ``per_seed[seed][model]`` holds a model's metrics. MSE and LPIPS orderings come once (``features`` ``"pixels"``
    / ``"proxy"``), FID orderings once per key of ``fid_keys``; an ordering whose models or metric a seed lacks is
    left out. "≈" is read as: the ratio within [1/``near``, ``near``]; "X ≪ VAE" as: the VAE's FID above ``near`` × X's."""
    rows, seen = [], set()
    for fid_key in fid_keys:
        for text, key, models, check in _checks(fid_key, near):
            features = fid_key if text.startswith("FID") else "pixels" if key == "mse" else "proxy"
            if (text, features) in seen or not all(all(key in runs.get(m, {}) for m in models) for runs in per_seed.values()):
                continue
            seen.add((text, features))
            held = [bool(check(runs)) for runs in per_seed.values()]
            rows.append({"ordering": text, "features": features, "per_seed": held,
                         "verdict": "held" if all(held) else "not held" if not any(held) else "mixed"})
    return rows


class ImageSet(torch.utils.data.Dataset):
    """Images held in memory (``N×C×H×W`` in [−1, 1]) with a ``name``: what :func:`train_avae` trains on."""

    kind = "images"

    def __init__(self, images: torch.Tensor, name: str):
        self.images, self.name = images, str(name)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def load_sets(data: str | Path, size: int) -> tuple[Any, torch.Tensor, torch.Tensor | None, str]:
    """``(train set, held-out images, train labels or None, description)`` of ``"digits"`` or a folder (module doc)."""
    if str(data) == "digits":
        train = DigitsImages((size, size), 1, "train", seed=0)
        return train, DigitsImages((size, size), 1, "test", seed=0).images, train.labels, "scikit-learn digits (fixed 80/20 split)"
    root = Path(data)

    def read(folder: Path) -> torch.Tensor:
        ds = FolderImages(folder, (size, size), 3)
        return torch.stack([ds[i] for i in range(len(ds))])

    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test, how = read(root / "train"), read(root / "test"), "its train/ and test/ subfolders"
    else:
        everything = read(root)
        order = torch.randperm(len(everything), generator=torch.Generator().manual_seed(0))
        cut = max(1, int(round(0.8 * len(everything))))
        train, test, how = everything[order[:cut]], everything[order[cut:]], "a fixed 80/20 split"
    if len(test) == 0:
        raise InputError(f"image folder {root}", "at least 2 images (or train/ and test/ subfolders)", f"{len(train)} image(s)")
    return ImageSet(train, str(root)), test, None, f"image folder ({how})"


def table31(out: str | Path, *, data: str | Path = "digits", seeds: tuple[int, ...] = (0, 1), steps: int = 1000,
            size: int = 16, latent_dim: int = 16, width: int = 8, batch_size: int = 64, lr: float = 2e-4, beta: float = 1.0,
            gamma: float = 1e-2, n_fid: int = 1000, proxy_steps: int = 200, classifier_steps: int = 300,
            models: tuple[str, ...] = tuple(MODELS), section: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Train and evaluate every model of ``models`` for every seed on ``data`` (``"digits"`` or a folder; module
    doc); returns the results (JSON values) and, under ``"shown"``, seed 0's held-out images, reconstructions and
    samples (tensors, for a grid). ``out``: where the runs and the feature extractors go. ``section(name)`` is a
    context manager timing each part (e.g. ``tryon.study.Study.section``); section names start with ``data``."""
    import contextlib

    from tryon.metrics import train_proxy

    timed = section or (lambda name: contextlib.nullcontext())
    out = Path(out)
    tag = "digits" if str(data) == "digits" else "folder"
    train, test, labels, described = load_sets(data, size)
    images = train.images
    rgb = images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images
    with timed(f"{tag}: features"):
        proxy = train_proxy(rgb, out / "proxy", steps=int(proxy_steps), batch_size=64, input_size=(max(size, 16), max(size, 16)),
                            widths=(16, 32, 64, 64), seed=0)
        extractors: dict[str, Any] = {"proxy": proxy}
        accuracy = None
        if labels is not None:
            extractors["classifier"], accuracy = train_classifier(images, labels, steps=classifier_steps)
    real = {k: features_of(ex, images) for k, ex in extractors.items()}
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
            settings = dict(MODELS[model])
            model_beta = float(beta) * float(settings.pop("beta_factor", 1.0))
            task = AvaeTaskConfig(data=train, size=(size, size), channels=int(images.shape[1]), latent_dim=latent_dim, width=width,
                                  beta=model_beta, gamma=gamma, **settings)
            with timed(f"{tag}: train {model} seed {seed}"):
                pipe, summary = train_avae(loop, task)
            steps_done[f"{model} seed {seed}"] = int(summary["steps"])
            with timed(f"{tag}: evaluate {model} seed {seed}"):
                metrics, shown_images = evaluate(pipe, model, test, real, extractors, n_fid, seed)
            per_seed[str(seed)][model] = metrics
            if seed == seeds[0]:
                shown[model] = {k: v[:8] for k, v in shown_images.items()}
    keys = sorted({k for runs in per_seed.values() for m in runs.values() for k in m})
    summary_rows = []
    for model in models:
        row: dict[str, Any] = {"model": model}
        for k in keys:
            values = [per_seed[s][model][k] for s in per_seed if k in per_seed[s][model]]
            if values:
                row[k] = _mean_std(values)
        summary_rows.append(row)
    fid_keys = tuple(f"{k}_fid" for k in ("classifier", "proxy") if k in extractors)
    return {"settings": {"data": tag, "described": described, "seeds": list(seeds), "steps": int(steps), "size": [size, size],
                         "channels": int(images.shape[1]), "latent_dim": latent_dim, "width": width, "batch_size": batch_size,
                         "lr": lr, "beta": beta, "vaegan_beta": beta * VAEGAN_BETA_FACTOR, "gamma": gamma, "n_fid": n_fid,
                         "proxy_steps": proxy_steps,
                         "classifier_steps": classifier_steps if labels is not None else None, "models": list(models),
                         "train_images": len(train), "test_images": int(test.shape[0]), "torch_threads": torch.get_num_threads()},
            "classifier_train_accuracy": accuracy, "proxy": {k: proxy.config.get(k) for k in ("final_loss", "chance_loss", "trained")},
            "per_seed": per_seed, "summary": summary_rows, "orderings": orderings(per_seed, fid_keys), "steps_done": steps_done,
            "shown": shown}


def _slug(model: str) -> str:
    return model.lower().replace(" ", "-").replace("(", "").replace(")", "").replace("^", "")


def grid_rows(shown: dict[str, Any]) -> tuple[list[list[Any]], list[str]]:
    """Rows of a grid (held-out images, each model's reconstructions, then each model's samples) and their titles."""
    def cells(t: torch.Tensor) -> list[Any]:
        return [((x.repeat(3, 1, 1) if x.shape[0] == 1 else x).permute(1, 2, 0).add(1).mul(127.5).clamp(0, 255)
                 .round().byte().numpy()) for x in t]

    rows, titles = [cells(shown["test"])], ["held-out images"]
    for model, images in shown.items():
        if model != "test" and "reconstructions" in images:
            rows.append(cells(images["reconstructions"]))
            titles.append(f"{model.replace('ξ', 'xi')} reconstruction")
    for model, images in shown.items():
        if model != "test":
            rows.append(cells(images["samples"]))
            titles.append(f"{model.replace('ξ', 'xi')} samples")
    return rows, titles


__all__ = ["DECODED", "DigitClassifier", "ImageSet", "MODELS", "SEED_CELEBA", "VAEGAN_BETA_FACTOR", "evaluate", "features_of",
           "grid_rows", "load_sets", "orderings", "table31", "train_classifier"]
