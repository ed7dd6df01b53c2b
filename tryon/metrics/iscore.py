"""Inception Score (Salimans et al. 2016), used for unpaired try-on in 000 §4 and HR-VITON's evaluate.py.

``IS = exp(E_x KL(p(y|x) ‖ p(y)))`` over the 1008-way softmax of the FID Inception-v3 (logits without the
classifier bias, as in the original OpenAI code and torch-fidelity), computed on ``splits`` contiguous
chunks; mean and std over chunks. Weights follow the FID rule: a local file only
(:class:`~tryon.metrics.inception.InceptionFeatures`). The thesis (000 §2.1.2) says IS is "minimized" for
diverse, peaked samples: a typo (seeds-gan §1.4); higher is better. There is no proxy IS: a proxy
extractor has no class posterior.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputError


def inception_score_from_logits(logits: Any, splits: int = 10) -> dict[str, float]:
    """IS from ``N×K`` class logits: ``{"is", "is_std", "splits"}``."""
    if isinstance(logits, torch.Tensor):
        logits = logits.detach().double().cpu().numpy()
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1:
        raise InputError("logits", "an N×K matrix", f"shape {z.shape}")
    splits = int(splits)
    if not 1 <= splits <= z.shape[0]:
        raise InputError("splits", f"an integer in 1..{z.shape[0]} (the number of images)", repr(splits))
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    scores = []
    for chunk_p, chunk_logp in zip(np.array_split(p, splits), np.array_split(logp, splits)):
        log_py = np.log(chunk_p.mean(axis=0) + 1e-30)
        kl = (chunk_p * (chunk_logp - log_py[None, :])).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores)), "splits": splits}


@torch.no_grad()
def inception_score(images: Any, extractor: Any, splits: int = 10, batch_size: int = 50) -> dict[str, float]:
    """Inception Score of ``images`` (``N×3×H×W`` in [-1, 1] or an iterable of batches) with an
    :class:`~tryon.metrics.inception.InceptionFeatures` extractor (needs its ``logits``)."""
    if not hasattr(extractor, "logits") or getattr(extractor, "label", "") == "proxy":
        raise InputError("extractor", "InceptionFeatures (a local FID Inception weights file)", type(extractor).__name__,
                         hint="the Inception Score needs Inception class logits; a proxy extractor has none")
    dev = next(extractor.parameters()).device
    out = []
    if isinstance(images, torch.Tensor):
        batches = [images[i : i + batch_size] for i in range(0, images.shape[0], batch_size)]
    else:
        batches = images
    for b in batches:
        out.append(extractor.logits(b.to(dev).float()).double().cpu())
    return inception_score_from_logits(torch.cat(out), splits=splits)
