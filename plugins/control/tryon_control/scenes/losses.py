"""The losses of the chapter-5 model (003 §5.5): reconstruction (003 Eq. 5.1), foreground KL with the learned prior
(003 Eq. 5.4), the object-prior loss (003 Eq. 5.6) and the rotation loss (003 §5.5.2).

* :func:`reconstruction_nll` — 003 Eq. 5.1 in SPACE's per-pixel form ``−Σ_p log(m_p N(x_p; x̂fg_p, σ²) + (1 − m_p)
  N(x_p; x̂bg_p, σ²))`` (the extract: "as printed, the sum over pixels sits inside the log"; SPACE uses this form),
  with one uniform background component (``K = 1`` in Eq. 5.2) and σ = 0.15 (SPACE's value) for both;
* :func:`foreground_kl` — 003 Eq. 5.4: ``Σ_{ijk} w_pres [β_box KL_box + β_what KL_what] + β_pres KL_pres``, the
  box / presence KLs against the **learned** prior's Normals, ``KL_what`` against ``N(0, I)`` (the extract's prior
  RNN also emits ``z_what``; here its prior is fixed, a simplification);
* :func:`object_prior_loss` — 003 Eq. 5.6: barycentre ``shift`` and standard deviation ``scale`` of each decoded
  glimpse alpha (glimpse coordinates), the target box ``ŵ_shift = w_shift + R(θ)(shift ⊙ w_scale)``,
  ``ŵ_scale = w_scale ⊙ scale / σ`` under stop-gradient, and ``KL(N(w_shift, w_scale²) ‖ N(ŵ_shift, ŵ_scale²))``
  per box axis. σ = :data:`OBJECT_SIGMA` = 0.45 (not given by 003): at the fixed point the box's half-size is
  ``std / σ``, i.e. 1.11 × the half-axis of a uniform ellipse (std = a / 2) and 1.28 × the half-side of a square
  (std = a / √3), so the object fits its glimpse with a small margin. No assumption on sizes or positions;
* :func:`rotation_loss` — our design for 003 §5.5.2 (details not given): a histogram of the alpha mass over the
  *doubled* orientation ``2φ`` of each glimpse pixel around the alpha barycentre (measured in the image frame, weight
  ``alpha · r²``, :data:`ROTATION_BINS` bins), and its first cosine coefficient re-centred at the box angle,
  ``C(θ) = Σ_b h_b cos(ψ_b − 2θ) / Σ_b h_b`` — a cosine transform of the histogram that is a smooth, differentiable
  function of θ. The loss is ``1 − C(θ)`` (histogram under stop-gradient): its minimum is the object's principal
  axis (mod π: the r²-weighted first harmonic *is* the orientation of the second-moment tensor), and it is flat
  for isotropic objects (squares, disks), whose angle is free.

Every box term is weighted by the box's detached ``w_pres`` and summed over boxes, then averaged over images.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .glimpse import glimpse_coordinates, rotation

#: σ of the Normal pixel likelihoods of 003 Eq. 5.1 (SPACE's 0.15)
PIXEL_SIGMA = 0.15
#: the target-normalised std σ of 003 Eq. 5.6 (not given by 003; module doc)
OBJECT_SIGMA = 0.45
#: bins of the rotation loss's histogram over the doubled angle 2φ ∈ [−π, π)
ROTATION_BINS = 36


def normal_log_prob(x: Tensor, mean: Tensor, sigma: float) -> Tensor:
    """log N(x; mean, σ²) summed over the channel dimension 1 (``B×C×H×W`` → ``B×H×W``)."""
    return (-0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))).sum(1)


def reconstruction_nll(x: Tensor, foreground: Tensor, fg_mask: Tensor, background: Tensor, sigma: float = PIXEL_SIGMA) -> Tensor:
    """003 Eq. 5.1, per-pixel form: ``−Σ_p log(m_p L_fg + (1 − m_p) L_bg)`` per image (``B``); ``background`` ``B×3``."""
    m = fg_mask.squeeze(1).clamp(1e-5, 1 - 1e-5)
    log_fg = normal_log_prob(x, foreground, sigma) + m.log()
    log_bg = normal_log_prob(x, background.view(-1, 3, 1, 1).expand_as(x), sigma) + (1 - m).log()
    return -torch.logaddexp(log_fg, log_bg).flatten(1).sum(1)


def normal_kl(mu_q: Tensor, log_sigma_q: Tensor, mu_p: Tensor, log_sigma_p: Tensor) -> Tensor:
    """KL(N(μq, σq²) ‖ N(μp, σp²)) elementwise."""
    return log_sigma_p - log_sigma_q + ((2 * log_sigma_q).exp() + (mu_q - mu_p) ** 2) / (2 * (2 * log_sigma_p).exp()) - 0.5


def foreground_kl(out: object, beta_box: float = 1.0, beta_pres: float = 1.0, beta_what: float = 1.0) -> dict[str, Tensor]:
    """003 Eq. 5.4 on a :class:`~.model.SceneOutput`; returns per-image means of ``kl`` and its parts."""
    b = out.w_pres.shape[0]
    kl = normal_kl(out.q_mu, out.q_log_sigma, out.p_mu, out.p_log_sigma)  # B×P×(box_dim+1)
    kl_box, kl_pres = kl[..., :-1].sum(-1), kl[..., -1]
    kl_what = normal_kl(out.what_mu, out.what_log_sigma, torch.zeros_like(out.what_mu), torch.zeros_like(out.what_mu)).sum(-1)
    w_kept = out.w_pres[out.index, out.slot]
    box = (out.w_pres * kl_box).sum() / b
    what = (w_kept * kl_what).sum() / b
    pres = kl_pres.sum() / b
    return {"kl": beta_box * box + beta_what * what + beta_pres * pres, "kl_box": box, "kl_what": what, "kl_pres": pres}


def alpha_moments(alpha: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor]:
    """Barycentre ``N×2`` and per-axis std ``N×2`` of ``N×1×g×g`` alphas in glimpse coordinates, and their mass ``N``."""
    u = glimpse_coordinates(alpha.shape[-1], alpha.device)  # g×g×2
    a = alpha.squeeze(1)
    mass = a.flatten(1).sum(1)
    w = a / mass.clamp_min(eps).view(-1, 1, 1)
    bary = torch.einsum("nhw,hwc->nc", w, u)
    var = torch.einsum("nhw,nhwc->nc", w, (u.unsqueeze(0) - bary.view(-1, 1, 1, 2)) ** 2)
    return bary, var.clamp_min(eps).sqrt(), mass


def object_prior_targets(alpha: Tensor, shift: Tensor, scale: Tensor, angle: Tensor,
                         sigma: float = OBJECT_SIGMA) -> tuple[Tensor, Tensor]:
    """003 Eq. 5.6: the target box ``(ŵ_shift N×2, ŵ_scale N×2)`` of each glimpse (no gradient)."""
    with torch.no_grad():
        bary, std, _ = alpha_moments(alpha.detach())
        offset = (rotation(angle.detach()) @ (bary * scale.detach()).unsqueeze(-1)).squeeze(-1)
        return shift.detach() + offset, scale.detach() * std / float(sigma)


def object_prior_kl(shift: Tensor, scale: Tensor, angle: Tensor, target_shift: Tensor, target_scale: Tensor) -> Tensor:
    """``KL(N(w_shift, diag(w_scale)²) ‖ N(ŵ_shift, diag(ŵ_scale)²))`` per box (``N``), axes of the box frame."""
    diff = (rotation(angle.detach()).transpose(-1, -2) @ (shift - target_shift).unsqueeze(-1)).squeeze(-1)
    s, t = scale.clamp_min(1e-4), target_scale.clamp_min(1e-4)
    return (torch.log(t / s) + (s ** 2 + diff ** 2) / (2 * t ** 2) - 0.5).sum(-1)


def object_prior_loss(out: object, sigma: float = OBJECT_SIGMA) -> Tensor:
    """003 Eq. 5.6 on the kept boxes of a :class:`~.model.SceneOutput`, weighted by ``w_pres`` (per-image mean)."""
    b = out.w_pres.shape[0]
    i, j = out.index, out.slot
    shift, scale, angle = out.shift[i, j], out.scale[i, j], out.angle[i, j]
    t_shift, t_scale = object_prior_targets(out.glimpse_alpha, shift, scale, angle, sigma)
    return (out.w_pres[i, j].detach() * object_prior_kl(shift, scale, angle, t_shift, t_scale)).sum() / b


def orientation_histogram(alpha: Tensor, scale: Tensor, angle: Tensor, bins: int = ROTATION_BINS) -> Tensor:
    """``N×bins`` histogram of alpha mass (weight ``alpha · r²``) over the doubled image-frame orientation ``2φ`` of each
    glimpse pixel around the alpha barycentre (no gradient)."""
    with torch.no_grad():
        u = glimpse_coordinates(alpha.shape[-1], alpha.device).view(1, -1, 2)
        bary, _, _ = alpha_moments(alpha)
        d = (u - bary.unsqueeze(1)) * scale.unsqueeze(1)  # box-frame metric offsets, N×g²×2
        d = d @ rotation(angle).transpose(-1, -2)  # to the image frame
        weight = alpha.flatten(1) * (d ** 2).sum(-1)
        psi = 2 * torch.atan2(d[..., 1], d[..., 0])  # (−2π, 2π]
        b = (torch.remainder(psi + math.pi, 2 * math.pi) / (2 * math.pi) * bins).long().clamp(0, bins - 1)
        return torch.zeros(alpha.shape[0], bins, device=alpha.device).scatter_add_(1, b, weight)


def rotation_alignment(hist: Tensor, angle: Tensor) -> Tensor:
    """``C(θ) = Σ_b h_b cos(ψ_b − 2θ) / Σ_b h_b`` (``N``): the histogram's first cosine coefficient re-centred at 2θ."""
    bins = hist.shape[-1]
    psi = (torch.arange(bins, device=hist.device, dtype=hist.dtype) + 0.5) / bins * 2 * math.pi - math.pi
    return (hist * torch.cos(psi.unsqueeze(0) - 2 * angle.unsqueeze(-1))).sum(-1) / hist.sum(-1).clamp_min(1e-6)


def rotation_loss(out: object, bins: int = ROTATION_BINS) -> Tensor:
    """``1 − C(θ)`` on the kept boxes (module doc), weighted by ``w_pres`` (per-image mean)."""
    b = out.w_pres.shape[0]
    i, j = out.index, out.slot
    hist = orientation_histogram(out.glimpse_alpha, out.scale[i, j], out.angle[i, j], bins)
    return (out.w_pres[i, j].detach() * (1 - rotation_alignment(hist, out.angle[i, j]))).sum() / b


__all__ = ["OBJECT_SIGMA", "PIXEL_SIGMA", "ROTATION_BINS", "alpha_moments", "foreground_kl", "normal_kl", "object_prior_kl",
           "object_prior_loss", "object_prior_targets", "orientation_histogram", "reconstruction_nll", "rotation_alignment",
           "rotation_loss"]
