"""Training losses: perceptual (000 eq. 4.3.5), adversarial (relativistic average, non-saturating, hinge,
WGAN, SAN) and gradient penalties, plus a small helper that sums weighted loss terms (000 eq. 4.3.6).

Conventions: ``d_real`` / ``d_fake`` are raw discriminator outputs (logits, any shape: per image ``B`` or per
patch ``B x 1 x h x w``); every loss is a mean over all of their elements. ``*_d_loss`` is minimised by the
discriminator, ``*_g_loss`` by the generator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tryon.errors import UnknownNameError
from tryon.nn.discriminator import SANHead, SANOutput

__all__ = [
    "PerceptualLoss",
    "relativistic_d_loss",
    "relativistic_g_loss",
    "nonsaturating_d_loss",
    "nonsaturating_g_loss",
    "hinge_d_loss",
    "hinge_g_loss",
    "wgan_d_loss",
    "wgan_g_loss",
    "wgan_gp_d_loss",
    "gradient_penalty",
    "GRADIENT_PENALTY_KINDS",
    "lazy_weight",
    "SANHead",
    "SANOutput",
    "san_d_loss",
    "san_g_loss",
    "AdversarialLoss",
    "ADVERSARIAL_LOSSES",
    "get_adversarial_loss",
    "WeightedSum",
]


# --------------------------------------------------------------------------------------------- perceptual
class PerceptualLoss(nn.Module):
    """``L_perceptual = Σ_i ‖φ_i(x) − φ_i(y)‖_1`` over the maps of a feature extractor (000 eq. 4.3.5, 4.3.8).

    Each layer's L1 distance is mean-reduced (over batch, channels and positions) and the layers are summed
    (optionally weighted). ``extractor`` is any module returning a list of feature maps, typically a frozen
    :class:`tryon.nn.VGG19Features`. When ``y`` needs no gradient (a ground truth or a teacher output) its
    features are computed under ``no_grad``.

    Args:
        extractor: module mapping a (B, 3, H, W) image to a list of feature maps.
        layer_weights: one weight per feature map (default: all 1).

    Shape:
        - ``x``, ``y``: (B, 3, H, W) images of the same shape, in the extractor's range ([-1, 1] for
          :class:`tryon.nn.VGG19Features`).
        - output: () scalar ``>= 0`` (reduced in float32); 0 when ``x == y``.

    >>> from tryon.nn import ConvEncoder
    >>> loss = PerceptualLoss(ConvEncoder(3, depths=(4, 8)))  # any module returning a list of maps
    >>> x = torch.rand(2, 3, 16, 16) * 2 - 1
    >>> loss(x, x).detach()
    tensor(0.)
    """

    def __init__(self, extractor: nn.Module, layer_weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.extractor = extractor
        self.layer_weights = tuple(float(w) for w in layer_weights) if layer_weights is not None else None

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape != y.shape:
            raise ValueError(f"PerceptualLoss: x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        fx = self.extractor(x)
        if y.requires_grad:
            fy = self.extractor(y)
        else:
            with torch.no_grad():
                fy = self.extractor(y)
        weights = self.layer_weights or (1.0,) * len(fx)
        if len(weights) != len(fx):
            raise ValueError(f"PerceptualLoss: {len(weights)} layer weights for {len(fx)} feature maps")
        total = x.new_zeros(())
        for w, a, b in zip(weights, fx, fy):
            total = total + w * F.l1_loss(a.float(), b.float())  # fp32 reduction under bf16 autocast
        return total


# ------------------------------------------------------------------------------------------- adversarial
def _bce(logits: Tensor, target: float) -> Tensor:
    logits = logits.float()  # discriminator outputs may be bf16 under autocast: the loss is taken in fp32
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def relativistic_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Relativistic average discriminator loss (Jolicoeur-Martineau, 2019; 000 §4.3.3.2, App. E).

    ``−E_r[log σ(C(x_r) − E_f C(x_f))] − E_f[log(1 − σ(C(x_f) − E_r C(x_r)))]``: real images should look
    *more real than the average fake* and fakes less real than the average real. The averages are over all
    elements (batch and patches). Equals ``2 log 2`` when ``d_real == d_fake``.

    Args:
        d_real: (*) discriminator logits on real images (per image (B,) or per patch (B, 1, h, w)).
        d_fake: (*) logits on generated images (any number of elements).

    Returns:
        () float32 scalar ``>= 0``.

    >>> z = torch.zeros(4, 1, 2, 2)
    >>> relativistic_d_loss(z, z)  # 2 log 2: the critic cannot tell real from fake
    tensor(1.3863)
    """
    return _bce(d_real - d_fake.mean(), 1.0) + _bce(d_fake - d_real.mean(), 0.0)


def relativistic_g_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Relativistic average generator loss: the symmetric of :func:`relativistic_d_loss` (labels swapped).

    Args:
        d_real: (*) discriminator logits on real images (per image (B,) or per patch (B, 1, h, w)).
        d_fake: (*) logits on generated images (any number of elements).

    Returns:
        () float32 scalar ``>= 0``.
    """
    return _bce(d_fake - d_real.mean(), 1.0) + _bce(d_real - d_fake.mean(), 0.0)


def nonsaturating_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Logistic GAN (004 §1.1): ``E_r[softplus(−D)] + E_f[softplus(D)]`` = BCE with labels 1 / 0.

    Args:
        d_real: (*) discriminator logits on real images (per image (B,) or per patch (B, 1, h, w)).
        d_fake: (*) logits on generated images (any number of elements).

    Returns:
        () scalar ``>= 0``.
    """
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def nonsaturating_g_loss(d_fake: Tensor) -> Tensor:
    """Non-saturating generator loss ``E_f[softplus(−D)] = −E_f[log σ(D)]`` (Goodfellow et al., 2014).

    Args:
        d_fake: (*) discriminator logits on generated images.

    Returns:
        () scalar ``>= 0``.
    """
    return F.softplus(-d_fake).mean()


def hinge_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Hinge loss (004 §2.2): ``E_r[max(0, 1 − D)] + E_f[max(0, 1 + D)]``.

    (004 prints the two hinges with swapped signs; this is the standard form, in which the discriminator
    scores real data high, matching its Wasserstein and SAN sections.)

    Args:
        d_real: (*) discriminator logits on real images (per image (B,) or per patch (B, 1, h, w)).
        d_fake: (*) logits on generated images (any number of elements).

    Returns:
        () scalar ``>= 0``; 0 once real logits are ``>= 1`` and fake ones ``<= −1``.

    >>> hinge_d_loss(torch.ones(4), -torch.ones(4))  # both margins met
    tensor(0.)
    """
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def hinge_g_loss(d_fake: Tensor) -> Tensor:
    """Generator side of the hinge GAN: ``−E_f[D]``.

    Args:
        d_fake: (*) discriminator logits on generated images.

    Returns:
        () unbounded scalar.
    """
    return -d_fake.mean()


def wgan_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Wasserstein critic loss (004 §2.1, Kantorovich-Rubinstein): ``E_f[D] − E_r[D]`` (needs a Lipschitz
    constraint, e.g. :func:`gradient_penalty`).

    Args:
        d_real: (*) discriminator scores on real images (per image (B,) or per patch (B, 1, h, w)).
        d_fake: (*) scores on generated images (any number of elements).

    Returns:
        () unbounded scalar.
    """
    return d_fake.mean() - d_real.mean()


def wgan_g_loss(d_fake: Tensor) -> Tensor:
    """WGAN generator loss ``J_W = −E_f[D]`` (004 §3.2.2).

    Args:
        d_fake: (*) discriminator scores on generated images.

    Returns:
        () unbounded scalar.
    """
    return -d_fake.mean()


#: The forms :func:`gradient_penalty` computes (one-centred on interpolates, zero-centred on real data).
GRADIENT_PENALTY_KINDS = ("wgan-gp", "r1")


def gradient_penalty(
    disc: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor | None = None,
    kind: str = "wgan-gp",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gradient penalty on the discriminator (000 §4.3.3.2 "relativistic adversarial loss with gradient
    penalty", Gulrajani et al., 2017; Mescheder et al., 2018).

    * ``kind="wgan-gp"``: ``E[(‖∇D(x̂)‖₂ − 1)²]`` at ``x̂ = ε x_r + (1 − ε) x_f``, ``ε ~ U(0, 1)`` per sample.
    * ``kind="r1"``: ``E[‖∇D(x_r)‖₂²]`` on real data (multiply by ``γ / 2`` for the usual R1 term).

    The gradient norm is per sample over all input dimensions, of the sum of ``D``'s outputs for that
    sample (so patch discriminators work). ``create_graph=True``: the penalty can be back-propagated.

    Args:
        disc: the discriminator, applied to a (B, ...) batch (output of any shape, sample ``b``'s outputs
            depending on sample ``b`` only).
        real: (B, ...) real samples, e.g. (B, C, H, W) images.
        fake: (B, ...) generated samples of ``real``'s shape (``"wgan-gp"`` only).
        kind: ``"wgan-gp"`` or ``"r1"``.
        generator: torch generator (CPU) for the interpolation weights ε.

    Returns:
        () float32 scalar ``>= 0``.

    >>> real = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    >>> gradient_penalty(lambda x: x[:, 0], real, torch.zeros(4, 2))  # a critic with ‖∇D‖ = 1
    tensor(0.)
    >>> gradient_penalty(lambda x: 3 * x.sum(1), real, kind="r1")  # ‖∇D‖² = 3² · 2
    tensor(18.)
    """
    if kind == "wgan-gp":
        if fake is None:
            raise ValueError("gradient_penalty(kind='wgan-gp') needs fake samples")
        if fake.shape != real.shape:
            raise ValueError(f"gradient_penalty: real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(shape, generator=generator, dtype=real.dtype, device="cpu").to(real.device)
        x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    elif kind == "r1":
        x = real.detach().requires_grad_(True)
    else:
        raise ValueError(f"gradient_penalty: kind must be one of {GRADIENT_PENALTY_KINDS}, got {kind!r}")
    with torch.enable_grad():
        out = disc(x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    sq_norm = grad.float().flatten(1).pow(2).sum(1)
    if kind == "r1":
        return sq_norm.mean()
    return (sq_norm.add(1e-12).sqrt() - 1.0).pow(2).mean()


def lazy_weight(step: int, every: int, weight: float) -> float:
    """Weight of a *lazy* regulariser at ``step`` (0-based): ``weight * every`` on steps ``0, every, 2 every …``,
    else 0 (skip computing it). Karras et al. 2020 (StyleGAN2, §3.1 "lazy regularization") evaluate R1 every
    16 minibatches with the weight scaled by 16 so the expected penalty is unchanged; the same holds for the
    WGAN-GP penalty of 000 §4.3.3.2. ``every=1`` is the plain (every step) penalty.

    >>> [lazy_weight(step, every=4, weight=0.5) for step in range(6)]
    [2.0, 0.0, 0.0, 0.0, 2.0, 0.0]
    """
    every = int(every)
    if every < 1:
        raise ValueError(f"lazy_weight: every must be >= 1, got {every}")
    return float(weight) * every if int(step) % every == 0 else 0.0


def wgan_gp_d_loss(
    disc: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, gp_weight: float = 10.0
) -> Tensor:
    """WGAN-GP critic loss ``E_f[D] − E_r[D] + λ E[(‖∇D(x̂)‖ − 1)²]`` (Gulrajani et al., 2017; 004 §2).

    Args:
        disc: the critic, applied to a (B, ...) batch (scores of any shape).
        real: (B, ...) real samples.
        fake: (B, ...) generated samples of ``real``'s shape (detached for the critic terms).
        gp_weight: λ.

    Returns:
        () unbounded scalar.
    """
    return wgan_d_loss(disc(real), disc(fake.detach())) + gp_weight * gradient_penalty(disc, real, fake, "wgan-gp")


def san_d_loss(d_real: SANOutput, d_fake: SANOutput, direction_weight: float = 1.0) -> Tensor:
    """SAN discriminator loss (004 §3.3, Takida et al.): ``−V^SAN = L^h + λ L^ω`` to minimise, with

    * ``L^h`` — the hinge loss of ``f = <ω⁻, h>`` (gradients to ``h`` only): ``E_r[max(0, 1 − fun)] +
      E_f[max(0, 1 + fun)]``;
    * ``L^ω`` — minus the Wasserstein distance along the unit direction with ``h`` frozen,
      ``−(E_r[<ω, h⁻>] − E_f[<ω, h⁻>])`` (gradients to ``ω`` only, which stays on the sphere because
      :class:`SANHead` normalises it). ``λ = direction_weight`` (1 in 004 §3.5). The truncation of the
      measures in 004's definition is not used (as in 004's own code).

    ``d_real`` / ``d_fake`` come from :meth:`SANHead.split` (or ``PatchGANDiscriminator.san_outputs``).

    Args:
        d_real: :class:`SANOutput` on real images, each view (B, 1, h, w) (or any shape).
        d_fake: :class:`SANOutput` on generated images.
        direction_weight: λ.

    Returns:
        () unbounded scalar (the hinge part is ``>= 0``, the direction part signed).
    """
    hinge = F.relu(1.0 - d_real.fun).mean() + F.relu(1.0 + d_fake.fun).mean()
    direction = d_fake.dir.mean() - d_real.dir.mean()
    return hinge + direction_weight * direction


def san_g_loss(d_fake: Tensor) -> Tensor:
    """SAN generator loss ``J_W(θ, <ω, h>) = −E_{x∼μθ}[<ω, h(x)>]`` (004 §3.2.2), from ``SANHead.forward``.

    Args:
        d_fake: (*) :class:`SANHead` scores on generated images, e.g. (B, 1, h, w).

    Returns:
        () unbounded scalar.
    """
    return -d_fake.mean()


# --------------------------------------------------------------------------------- registry of GAN losses
@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of GAN losses with one signature: ``d(d_real, d_fake)`` and ``g(d_real, d_fake)``
    (``d_real`` is ignored by the non-relativistic generator losses and may be ``None`` for them)."""

    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor | None, Tensor], Tensor]
    needs_real_for_g: bool


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "relativistic": AdversarialLoss("relativistic", relativistic_d_loss, relativistic_g_loss, True),  # type: ignore[arg-type]
    "nonsaturating": AdversarialLoss("nonsaturating", nonsaturating_d_loss, lambda r, f: nonsaturating_g_loss(f), False),
    "hinge": AdversarialLoss("hinge", hinge_d_loss, lambda r, f: hinge_g_loss(f), False),
    "wgan": AdversarialLoss("wgan", wgan_d_loss, lambda r, f: wgan_g_loss(f), False),
    # SAN (004 §3.3): ``d`` takes the :class:`SANOutput` pairs of ``SANHead.split``; ``g`` the plain scores.
    "san": AdversarialLoss("san", san_d_loss, lambda r, f: san_g_loss(f), False),  # type: ignore[arg-type]
}


def get_adversarial_loss(name: str) -> AdversarialLoss:
    """Look up ``"relativistic"`` (000 App. E), ``"nonsaturating"``, ``"hinge"``, ``"wgan"`` or ``"san"``.

    For ``"san"`` (004 §3.3) the discriminator loss takes the split outputs of :class:`SANHead`
    (:class:`SANOutput` for real and fake) and the generator loss the plain head scores ``SANHead.forward``.
    """
    try:
        return ADVERSARIAL_LOSSES[name]
    except KeyError:
        raise UnknownNameError(
            f"adversarial loss {name!r}: expected one of {sorted(ADVERSARIAL_LOSSES)}"
        ) from None


# ------------------------------------------------------------------------------------ weighted loss terms
class WeightedSum:
    """``L = Σ_k λ_k L_k`` with named terms (000 eq. 4.3.6 / 4.3.10: λ_w L_warp + λ_p L_perceptual +
    λ_L1 L_1 + λ_adv L_adv).

    ``logs`` maps each term to its unweighted float value and ``"total"`` to the weighted sum. Terms with
    weight 0 are logged but do not enter the sum; a term passed without a weight, or a weighted term not
    passed, raises ``KeyError``. Each term is a () scalar tensor; the total is a () scalar (a CPU zero when
    every weight is 0).

    >>> total, logs = WeightedSum(l1=1.0, adv=0.5)(l1=torch.tensor(0.25), adv=torch.tensor(1.0))
    >>> total, logs
    (tensor(0.7500), {'l1': 0.25, 'adv': 1.0, 'total': 0.75})
    """

    def __init__(self, weights: Mapping[str, float] | None = None, **kw: float) -> None:
        self.weights: dict[str, float] = {**(dict(weights) if weights else {}), **kw}

    def __call__(self, **terms: Tensor) -> tuple[Tensor, dict[str, float]]:
        unknown = sorted(set(terms) - set(self.weights))
        missing = sorted(k for k, w in self.weights.items() if w != 0 and k not in terms)
        if unknown or missing:
            raise KeyError(f"WeightedSum: terms without weight {unknown}, weighted terms not given {missing}")
        total: Tensor | None = None
        logs: dict[str, float] = {}
        for name, value in terms.items():
            logs[name] = float(value.detach())
            w = self.weights[name]
            if w != 0:
                total = w * value if total is None else total + w * value
        if total is None:
            total = torch.zeros(())
        logs["total"] = float(total.detach())
        return total, logs
