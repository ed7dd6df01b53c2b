"""The β-VAE of 003 Table 4.2 (dSprites, 003 §4.4) and its loss: Bernoulli reconstruction + β·KL.

Networks (``C×H×W`` binary images, ``H = W = 4·2^k``; 003 Table 4.2 is the 64×64 case, k = 4):

* :class:`BetaVaeEncoder` — k × [Conv(32, 4×4, stride 2, 'SAME') + ReLU] → flatten (4·4·32 = 512) → Dense 256 +
  ReLU → Dense 256 + ReLU → μ: Dense(d) (identity), σ: exp(Dense(d)); d = 10. At 32×32 the encoder has **3**
  stride-2 convolutions (32 → 16 → 8 → 4), so that the last map is 4×4×32 as at 64×64 with 4.
* :class:`BetaVaeDecoder` — Dense 256 + ReLU → **Dense 512** + ReLU → reshape 32×4×4 → (k − 1) × [ConvT(32, 4×4,
  stride 2, 'SAME') + ReLU] → ConvT(C, 4×4, stride 2, 'SAME'); it returns **logits**, the sigmoid of which is the
  Bernoulli mean. Table 4.2 prints Dense 256 before the reshape to 4×4×32 = 512, which cannot be; the extract's fix
  (a 512-wide second Dense) is used.

'SAME' for a 4×4 kernel of stride 2 on an even size pads one pixel on each side (``padding=1``), and the transposed
convolution doubles the size exactly (``padding=1``). Images are in [−1, 1]; the Bernoulli targets are ``(x + 1)/2``.

Loss (:func:`betavae_loss`): ``BCE(logits, (x + 1)/2)`` summed over pixels + ``β · KL(N(μ, σ²) ‖ N(0, I))`` summed over
latent coordinates, both averaged over the batch (003 §4.4: β ∈ {1, 5, 10, 20}).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.errors import InputError

#: Table 4.2's widths: conv filters, the two Dense layers, the latent dimension
FILTERS, HIDDEN, LATENT_DIM = 32, 256, 10


def stride2_layers(size: int) -> int:
    """How many stride-2 layers take ``size`` to 4 (64 → 4, 32 → 3); refuses sizes that are not ``4·2^k``, k ≥ 1."""
    k = int(round(math.log2(max(int(size), 1) / 4)))
    if k < 1 or 4 << k != int(size):
        raise InputError("β-VAE image size", "4·2^k pixels, k ≥ 1 (8, 16, 32, 64, 128)", str(size))
    return k


class BetaVaeEncoder(nn.Module):
    """``x (B×C×H×W in [−1, 1]) ↦ (μ, log σ)``, each ``B×d`` (003 Table 4.2, left column)."""

    def __init__(self, size: int = 32, channels: int = 1, latent_dim: int = LATENT_DIM):
        super().__init__()
        layers: list[nn.Module] = []
        c = int(channels)
        for _ in range(stride2_layers(size)):
            layers += [nn.Conv2d(c, FILTERS, 4, 2, padding=1), nn.ReLU()]
            c = FILTERS
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(FILTERS * 16, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
        self.mu = nn.Linear(HIDDEN, int(latent_dim))
        self.log_sigma = nn.Linear(HIDDEN, int(latent_dim))  # σ = exp(Dense): Table 4.2's "Exponential" activation

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.dense(self.convs(x))
        return self.mu(h), self.log_sigma(h)


class BetaVaeDecoder(nn.Module):
    """``z (B×d) ↦ logits (B×C×H×W)``; :meth:`image` is the Bernoulli mean mapped to [−1, 1] (003 Table 4.2, right)."""

    def __init__(self, size: int = 32, channels: int = 1, latent_dim: int = LATENT_DIM):
        super().__init__()
        k = stride2_layers(size)
        self.latent_dim = int(latent_dim)
        self.dense = nn.Sequential(nn.Linear(int(latent_dim), HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, FILTERS * 16), nn.ReLU())
        ups: list[nn.Module] = []
        for _ in range(k - 1):
            ups += [nn.ConvTranspose2d(FILTERS, FILTERS, 4, 2, padding=1), nn.ReLU()]
        self.ups = nn.Sequential(*ups, nn.ConvTranspose2d(FILTERS, int(channels), 4, 2, padding=1))

    def forward(self, z: Tensor) -> Tensor:
        return self.ups(self.dense(z).view(z.shape[0], FILTERS, 4, 4))

    def image(self, z: Tensor) -> Tensor:
        """``2·sigmoid(logits) − 1``: the decoded image in [−1, 1]."""
        return torch.sigmoid(self(z)) * 2 - 1


class DecoderImage(nn.Module):
    """The generator ``G(z) = 2·sigmoid(decoder(z)) − 1`` in [−1, 1], the form 003 Alg. 1 inverts."""

    def __init__(self, decoder: BetaVaeDecoder):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = decoder.latent_dim

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder.image(z)


def gaussian_kl(mu: Tensor, log_sigma: Tensor) -> Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − 2 log σ_j)`` per sample (``B``)."""
    return 0.5 * (torch.exp(2 * log_sigma.float()) + mu.float() ** 2 - 1.0 - 2 * log_sigma.float()).sum(-1)


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """``−log p(x | z)`` for Bernoulli pixels of mean ``sigmoid(logits)``, ``x`` in [−1, 1] (targets ``(x + 1)/2``),
    summed over pixels, per sample (``B``)."""
    if logits.shape != x.shape:
        raise InputError("β-VAE reconstruction", f"logits of the input's shape {list(x.shape)}", str(list(logits.shape)))
    target = (x.float() + 1) / 2
    return F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none").flatten(1).sum(1)


def betavae_loss(logits: Tensor, x: Tensor, mu: Tensor, log_sigma: Tensor, beta: float) -> tuple[Tensor, dict[str, float]]:
    """``mean_B [BCE + β KL]`` (module doc) → ``(total, {"bce", "kl"})``, the logs being batch means per image."""
    bce, kl = bernoulli_nll(logits, x).mean(), gaussian_kl(mu, log_sigma).mean()
    return bce + float(beta) * kl, {"bce": float(bce.detach()), "kl": float(kl.detach())}


__all__ = ["BetaVaeDecoder", "BetaVaeEncoder", "DecoderImage", "FILTERS", "HIDDEN", "LATENT_DIM", "bernoulli_nll",
           "betavae_loss", "gaussian_kl", "stride2_layers"]
