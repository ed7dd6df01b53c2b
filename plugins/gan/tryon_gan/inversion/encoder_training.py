"""Training of the inversion encoder (:class:`~tryon_gan.inversion.encoder.LatentEncoder`) on the frozen
generator's own samples, in-process: :func:`train_encoder` (tests, demos, benchmarks). The ``tryon train gan-invert``
run through the core training loop, with the same objective, is :func:`tryon_gan.training.invert.train_encoder_run`.

Pairs are drawn from the frozen generator (z ~ N(0, I), x = G(z)); half of each batch gets a random free-form or
rectangular mask (core ``tryon.geometry.masks``), and the loss is ``‖E(x, m) − z‖² + λ_img · mse_valid(G(E(x, m)), x)``
— the latent regression of Chai et al. plus the pixel term of In-Domain inversion's encoder (Zhu et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .encoder import LatentEncoder
from .losses import masked_mse


def random_masks(n: int, size: int, generator: torch.Generator, p_masked: float = 0.5) -> Tensor:
    """``n×1×size×size`` masks: each one empty with probability ``1 − p_masked``, else a free-form
    (core ``free_form_mask``) or rectangular (core ``random_rectangle_mask``) mask, half and half."""
    from tryon.geometry.masks import free_form_mask, random_rectangle_mask

    out = torch.zeros(n, 1, size, size)
    u = torch.rand(n, generator=generator)
    for i in range(n):
        if u[i] < 0.5 * p_masked:
            out[i, 0] = free_form_mask((size, size), grid=4, generator=generator)
        elif u[i] < p_masked:
            out[i, 0] = random_rectangle_mask((size, size), (0.25, 0.6), generator=generator)
    return out


def encoder_loss(encoder: nn.Module, generator: nn.Module, z: Tensor, masks: Tensor,
                 image_weight: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """The training loss of one batch (see the module doc); ``generator`` is frozen."""
    with torch.no_grad():
        x = generator(z)
    masks = masks.to(x.device, x.dtype)
    z_hat = encoder(x, masks)
    latent = F.mse_loss(z_hat, z)
    loss = latent
    logs = {"latent_mse": float(latent.detach())}
    if image_weight > 0:
        pix = masked_mse(generator(z_hat), x, 1 - masks).mean()
        loss = loss + image_weight * pix
        logs["image_mse"] = float(pix.detach())
    logs["loss"] = float(loss.detach())
    return loss, logs


def train_encoder(generator: nn.Module, *, latent_dim: int | None = None, steps: int = 500, batch_size: int = 32,
                  lr: float = 1e-3, image_weight: float = 1.0, p_masked: float = 0.5, width: int = 32,
                  seed: int = 0, encoder: LatentEncoder | None = None, log: list | None = None) -> LatentEncoder:
    """Fit a :class:`LatentEncoder` to a frozen generator in-process (tests, demos, benchmarks).

    ``tryon train gan-invert`` is the CLI path (checkpoints, resume, run folder)."""
    from .protocol import probe_generator

    d, shape = probe_generator(generator, latent_dim)
    c, h, _ = shape
    dev = next(generator.parameters()).device
    g = torch.Generator().manual_seed(int(seed))
    if encoder is None:
        torch.manual_seed(int(seed))
        encoder = LatentEncoder(d, h, c, width=width).to(dev)
    was_training = generator.training
    generator.eval().requires_grad_(False)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    encoder.train()
    for step in range(int(steps)):
        z = torch.randn(batch_size, d, generator=g).to(dev)
        m = random_masks(batch_size, h, g, p_masked)
        loss, logs = encoder_loss(encoder, generator, z, m, image_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None:
            log.append({"step": step + 1, **logs})
    generator.train(was_training)
    return encoder.eval()


__all__ = ["random_masks", "encoder_loss", "train_encoder"]
