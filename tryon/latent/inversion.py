"""Latent inversion of any differentiable generator: ``invert(generator, images, mask, method=...) -> InversionResult``.

Methods (000 §2.2, 003 ch. 2 and ch. 4; seeds-control §1.2, §3.2):

* ``"optimisation"`` — Image2StyleGAN-style: pixel MSE (+ a perceptual term when a feature extractor is
  given), Adam, the StyleGAN projector's learning-rate ramp (linear warm-up over 5 %, cosine ramp-down over
  the last 25 %), from a seeded start.
* ``"encoder"`` — one pass of a trained encoder ``E(x, m) -> B×d`` (any ``nn.Module`` called with the images
  and the ``B×1×H×W`` mask or ``None``).
* ``"hybrid"`` — In-Domain inversion (Zhu et al. 2020): start at ``E(x, m)``, then optimise MSE
  (+ perceptual) + ``domain_weight · ‖z − E(G(z))‖²`` (weight 2.0, Adam lr 1e-2, 100 steps).
* ``"plumerault"`` — 003 §4.2: blurred MSE (σ ≈ 3 px, 003 Eq. 4.5), ignored pixels masked out, projected
  gradient onto the ball ``‖z‖ ≤ √d`` after every Adam step (003 Eq. 4.1–4.2);
  :func:`tryon.latent.recursive.recursive_estimation` is its trajectory form (003 Eq. 4.9).

Conventions: ``generator`` is any ``nn.Module`` mapping ``B×d`` latents to ``B×C×H×W`` images in
``[-1, 1]`` (``d`` from ``latent_dim=`` or the module's ``latent_dim`` attribute); ``mask`` = 1 marks the
pixels to ignore (unknown / to be edited), the SDK's mask convention. The objective is the **sum** of
per-image losses and Adam is element-wise, so every image follows exactly the trajectory it would follow
alone (same seed); images stop early on their own (``tol`` / ``patience``) and are then frozen.

Layout: on the CPU, a convolutional generator (and encoder) runs in NHWC (``channels_last``) for the call and is
given its layout back after it; oneDNN's NHWC kernels make a batch-16 optimisation step 1.4–2× faster than NCHW
(measured per CPU class in ``docs/benchmarks.md``, GAN inversion), which is what lets batching pay on a CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from tryon.errors import ImageSizeError, InputError, MaskError

from .losses import blurred_mse, dssim, feature_distance, masked_mse

METHODS = ("optimisation", "encoder", "hybrid", "plumerault")
_ALIASES = {"optimization": "optimisation", "image2stylegan": "optimisation", "i2sg": "optimisation",
            "in-domain": "hybrid", "indomain": "hybrid", "blurred-mse": "plumerault"}
#: per-method defaults: steps, Adam lr, loss, projection, lr ramp, init
DEFAULTS: dict[str, dict[str, Any]] = {
    "optimisation": {"steps": 300, "lr": 0.1, "loss": "mse", "projection": None, "lr_ramp": True, "init": "random"},
    "encoder": {"steps": 0, "lr": 0.0, "loss": "mse", "projection": None, "lr_ramp": False, "init": "encoder"},
    "hybrid": {"steps": 100, "lr": 0.01, "loss": "mse", "projection": None, "lr_ramp": False, "init": "encoder"},
    "plumerault": {"steps": 300, "lr": 0.05, "loss": "blurred-mse", "projection": "ball", "lr_ramp": False,
                   "init": "random"},
}
LossFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


@dataclass
class InversionResult:
    """What :func:`invert` returns (all tensors detached, on the generator's device).

    ``losses``: ``S×B`` objective per step and image (NaN once an image has stopped; one row for the
    encoder method). ``final_losses``: the objective at the returned latents. ``mse``: pixel MSE of the
    reconstruction on the valid pixels (comparable across methods). ``steps``: steps each image ran.
    ``timings``: seconds (``total_s``, ``encoder_s``, ``optimise_s``) and ``images_per_s``.
    """

    latents: Tensor
    reconstructions: Tensor
    losses: Tensor
    final_losses: Tensor
    mse: Tensor
    steps: Tensor
    timings: dict[str, float]
    method: str
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.latents.shape[0])


@dataclass
class StepInfo:
    """Passed to each callback after every optimisation step (return ``True`` to stop every image)."""

    step: int
    latents: Tensor
    losses: Tensor
    active: Tensor
    lr: float


# ------------------------------------------------------------------------------------------------ checks
def probe_generator(generator: nn.Module, latent_dim: int | None = None) -> tuple[int, tuple[int, int, int]]:
    """``(d, (C, H, W))`` of a generator: ``d`` from the argument or ``generator.latent_dim``, the image shape
    from one forward pass on a zero latent."""
    d = latent_dim if latent_dim is not None else getattr(generator, "latent_dim", None)
    if d is None:
        raise InputError("generator", "a module with a 'latent_dim' attribute, or latent_dim=", type(generator).__name__)
    d = int(d)
    try:
        dev = next(generator.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")
    was = generator.training
    generator.eval()
    with torch.no_grad():
        x = generator(torch.zeros(2, d, device=dev))
    generator.train(was)
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise InputError("generator output", "B×C×H×W images", f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    return d, (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))


def check_images(images: Any, shape: tuple[int, int, int], name: str = "images") -> Tensor:
    """``images`` as a ``B×C×H×W`` float tensor the generator can produce, or one clear error."""
    if not isinstance(images, Tensor):
        raise InputError(name, "a B×C×H×W torch tensor in [-1, 1] (pipelines accept files)", type(images).__name__)
    x = images[None] if images.ndim == 3 else images
    if x.ndim != 4 or x.shape[0] == 0:
        raise InputError(name, "a non-empty B×C×H×W tensor", f"shape {tuple(images.shape)}")
    c, h, w = shape
    if x.shape[1] != c:
        raise InputError(name, f"{c} channel(s) (what the generator produces)", f"{x.shape[1]} channel(s)")
    if tuple(x.shape[2:]) != (h, w):
        raise ImageSizeError(name, f"{w}×{h} (W×H, the generator's output size)", f"{x.shape[3]}×{x.shape[2]}")
    x = x.float()
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        which = sorted({int(i) for i in bad.flatten(1).any(1).nonzero().flatten()})
        raise InputError(name, "finite pixel values", f"{int(bad.sum())} NaN/inf value(s) in image(s) {which[:8]}")
    return x


def check_mask(mask: Any, batch: int, hw: tuple[int, int], name: str = "mask") -> Tensor | None:
    """``mask`` (H×W, 1×H×W, B×H×W or B×1×H×W, 1 = ignore) as ``B×1×H×W`` float, or one clear error."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise MaskError(name, "a torch tensor H×W, B×1×H×W (1 = ignore/edit)", type(mask).__name__)
    m = mask.float()
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None]  # B×H×W or 1×H×W
    if m.ndim != 4 or m.shape[1] != 1 or m.shape[0] not in (1, batch) or tuple(m.shape[2:]) != tuple(hw):
        raise MaskError(name, f"{hw[1]}×{hw[0]} (W×H) single-channel, batch 1 or {batch}", f"shape {tuple(mask.shape)}")
    if not bool(torch.isfinite(m).all()) or float(m.min()) < 0 or float(m.max()) > 1:
        raise MaskError(name, "finite values in [0, 1] (1 = ignore/edit)", "NaN or out-of-range values")
    m = m.expand(batch, 1, *hw).contiguous()
    full = (m.flatten(1).min(1).values >= 1).nonzero().flatten()
    if len(full):
        raise MaskError(name, "some known pixels in every image", f"image(s) {full.tolist()[:8]} entirely masked")
    return m


def project(z: Tensor, mode: str | None, radius: float) -> Tensor:
    """``"ball"``: ``z · min(1, r/‖z‖)`` (003 Eq. 4.1, the official code's ``clip_by_norm``); ``"sphere"``:
    ``z · r/‖z‖``; ``None``: unchanged."""
    if mode is None:
        return z
    n = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    if mode == "ball":
        return z * torch.clamp(radius / n, max=1.0)
    if mode == "sphere":
        return z * (radius / n)
    raise InputError("projection", "'ball', 'sphere' or None", repr(mode))


def lr_ramp(t: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """The StyleGAN2 projector's schedule factor at progress ``t`` ∈ [0, 1)."""
    r = min(1.0, (1.0 - t) / rampdown)
    r = 0.5 - 0.5 * math.cos(r * math.pi)
    return r * min(1.0, t / rampup)


def resolve_loss(loss: Any, *, sigma: float, perceptual: Any, perceptual_weight: float) -> LossFn:
    """A per-image loss ``fn(recon, target, valid) -> B`` from a name or a callable."""
    if callable(loss) and not isinstance(loss, str):
        return loss
    names = str(loss).replace(" ", "").split("+")
    fns: list[tuple[float, LossFn]] = []
    for n in names:
        if n == "mse":
            fns.append((1.0, masked_mse))
        elif n in ("blurred-mse", "blurred_mse", "bmse"):
            fns.append((1.0, lambda x, y, v: blurred_mse(x, y, v, sigma)))
        elif n == "dssim":
            fns.append((1.0, dssim))
        elif n == "perceptual":
            if perceptual is None:
                raise InputError("loss 'perceptual'", "a feature extractor (perceptual=)", "None")
            fns.append((perceptual_weight, lambda x, y, v: feature_distance(perceptual, x, y, v)))
        else:
            raise InputError("loss", "'mse', 'blurred-mse', 'dssim', '...+perceptual' or a callable", repr(loss))
    if perceptual is not None and "perceptual" not in names:
        fns.append((perceptual_weight, lambda x, y, v: feature_distance(perceptual, x, y, v)))

    def total(x: Tensor, y: Tensor, v: Tensor | None) -> Tensor:
        out = x.new_zeros(x.shape[0])
        for w, fn in fns:
            out = out + w * fn(x, y, v)
        return out

    return total


def _initial(init: Any, b: int, d: int, seed: Any, dev: torch.device, encoder: Any, x: Tensor,
             mask: Tensor | None) -> Tensor:
    if isinstance(init, Tensor):
        z = init.detach().float().to(dev)
        z = z[None].expand(b, d) if z.ndim == 1 else z
        if tuple(z.shape) != (b, d):
            raise InputError("init", f"latents of shape {b}×{d} (or {d})", f"shape {tuple(init.shape)}")
        return z.clone()
    if init == "zeros":
        return torch.zeros(b, d, device=dev)
    if init == "random":
        seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed] * b
        if len(seeds) != b:
            raise InputError("seed", f"one int or {b} ints (one per image)", f"{len(seeds)} seeds")
        # each image's start depends only on its own seed: batched == one by one
        return torch.stack([torch.randn(d, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).to(dev)
    if init == "encoder":
        if encoder is None:
            raise InputError("encoder", "a trained encoder E(x, mask) (init 'encoder', methods 'encoder'/'hybrid')", "None")
        with torch.no_grad():
            return encoder(x, mask).float()
    raise InputError("init", "a tensor, 'random', 'zeros' or 'encoder'", repr(init))


@contextmanager
def cpu_channels_last(*modules: nn.Module | None, enabled: bool = True) -> Iterator[list[nn.Module]]:
    """Run ``modules`` in NHWC (``channels_last``) inside the block and give them their layout back after it.

    Only modules on the CPU whose 4-d weights are all in the default layout are converted (a module the caller put
    in NHWC already, or one on a GPU, is left alone); yields the converted ones."""
    changed: list[nn.Module] = []
    if enabled:
        for m in modules:
            if m is None:
                continue
            convs = [p for p in m.parameters() if p.dim() == 4]
            if convs and all(p.device.type == "cpu" and p.is_contiguous() for p in convs):
                m.to(memory_format=torch.channels_last)
                changed.append(m)
    try:
        yield changed
    finally:
        for m in changed:
            m.to(memory_format=torch.contiguous_format)


# ------------------------------------------------------------------------------------------------ invert
def invert(generator: nn.Module, images: Tensor, mask: Tensor | None = None, method: str = "optimisation",
           init: Any = None, steps: int | None = None, loss: Any = None, callbacks: Sequence[Callable] = (), *,
           latent_dim: int | None = None, encoder: nn.Module | None = None, lr: float | None = None,
           seed: Any = 0, sigma: float = 3.0, perceptual: Any = None, perceptual_weight: float = 1.0,
           domain_weight: float = 2.0, projection: str | None | bool = "default", radius: float | None = None,
           ramp: bool | None = None, tol: float = 0.0, patience: int = 0, min_delta: float = 1e-4,
           channels_last: bool = True) -> InversionResult:
    """Invert a batch of images into the generator's latent space (see the module doc).

    Args:
        images: ``B×C×H×W`` in ``[-1, 1]`` of the generator's channels and size.
        mask: 1 = pixels to ignore (H×W, B×1×H×W ...); ``None`` = all pixels count.
        method: one of :data:`METHODS`.
        init: a ``B×d`` (or ``d``) tensor, ``"random"`` (N(0, I) drawn from each image's ``seed``),
            ``"zeros"`` or ``"encoder"``; default per method.
        steps, lr, loss: default per method (:data:`DEFAULTS`); ``loss`` may be ``"mse"``, ``"blurred-mse"``,
            ``"mse+perceptual"`` or ``fn(recon, target, valid) -> B`` (per image).
        callbacks: ``fn(StepInfo)`` after every step; returning ``True`` stops.
        seed: an int (every image starts from the same seeded draw) or one int per image.
        perceptual: a feature extractor ``x -> [maps]`` added to the loss with ``perceptual_weight``.
        domain_weight: the hybrid method's ``‖z − E(G(z))‖²`` weight.
        projection / radius: ``"ball"``/``"sphere"``/``None`` onto ``‖z‖ = radius`` (default √d).
        tol / patience / min_delta: per-image early stop when its loss < ``tol`` or its best loss improved
            by less than ``min_delta`` (relative) in ``patience`` steps.
        channels_last: run a convolutional generator/encoder on the CPU in NHWC for the call (see the module doc);
            ``False`` keeps the modules' own layout.
    """
    t_start = time.perf_counter()
    method = _ALIASES.get(str(method).lower(), str(method).lower())
    if method not in METHODS:
        raise InputError("method", f"one of {', '.join(METHODS)}", repr(method))
    cfg = DEFAULTS[method]
    d, shape = probe_generator(generator, latent_dim)
    try:
        dev = next(generator.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")
    x = check_images(images, shape).to(dev)
    b = x.shape[0]
    m = check_mask(mask, b, shape[1:])
    m = m.to(dev) if m is not None else None
    valid = 1 - m if m is not None else None
    steps = int(cfg["steps"] if steps is None else steps)
    if steps < 0:
        raise InputError("steps", ">= 0", str(steps))
    if method == "encoder":
        steps = 0
    lr = float(cfg["lr"] if lr is None else lr)
    proj = cfg["projection"] if projection == "default" else (None if projection is False else projection)
    proj = "ball" if proj is True else proj
    r = float(radius) if radius is not None else math.sqrt(d)
    use_ramp = cfg["lr_ramp"] if ramp is None else bool(ramp)
    loss_fn = resolve_loss(cfg["loss"] if loss is None else loss, sigma=sigma, perceptual=perceptual,
                           perceptual_weight=perceptual_weight)
    if method in ("encoder", "hybrid") and encoder is None:
        raise InputError("encoder", f"a trained encoder E(x, mask) for method {method!r}", "None")

    with cpu_channels_last(generator, encoder, enabled=channels_last):
        was_g = generator.training
        generator.eval()
        was_e = encoder.training if encoder is not None else False
        if encoder is not None:
            encoder.eval()
        t0 = time.perf_counter()
        z = _initial(cfg["init"] if init is None else init, b, d, seed, dev, encoder, x, m)
        z = project(z, proj, r)
        encoder_s = time.perf_counter() - t0 if (init is None and cfg["init"] == "encoder") or init == "encoder" else 0.0

        def objective(zz: Tensor) -> Tensor:
            recon = generator(zz)  # one generator pass serves both terms (the generator is in eval mode: deterministic)
            per = loss_fn(recon, x, valid)
            if method == "hybrid" and domain_weight > 0:
                per = per + domain_weight * ((zz - encoder(recon, None)) ** 2).mean(1)
            return per

        history: list[Tensor] = []
        ran = torch.zeros(b, dtype=torch.long)
        t1 = time.perf_counter()
        if steps > 0:
            z = z.clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)
            active = torch.ones(b, dtype=torch.bool, device=dev)
            best = torch.full((b,), float("inf"), device=dev)
            since = torch.zeros(b, dtype=torch.long, device=dev)
            for step in range(steps):
                cur_lr = lr * lr_ramp(step / steps) if use_ramp else lr
                for group in opt.param_groups:
                    group["lr"] = cur_lr
                per = objective(z)
                (grad,) = torch.autograd.grad(per.sum(), [z])
                row = per.detach().clone()
                row[~active] = float("nan")
                history.append(row)
                # early stop decisions use the loss at the current z (before its update)
                improved = per.detach() < best * (1 - min_delta)
                best = torch.where(improved, per.detach(), best)
                since = torch.where(improved, torch.zeros_like(since), since + 1)
                stop = torch.zeros_like(active)
                if tol > 0:
                    stop |= per.detach() < tol
                if patience > 0:
                    stop |= since >= patience
                active &= ~stop
                if not bool(active.any()):
                    break
                ran += active.cpu().long()
                before = z.detach().clone()
                z.grad = grad * active[:, None]
                opt.step()
                with torch.no_grad():
                    z.copy_(torch.where(active[:, None], project(z, proj, r), before))
                info = StepInfo(step, z.detach(), row, active.clone(), cur_lr)
                if any(cb(info) is True for cb in callbacks):
                    break
            z = z.detach()
        optimise_s = time.perf_counter() - t1
        with torch.no_grad():
            recon = generator(z)
            final = loss_fn(recon, x, valid)
            if method == "hybrid" and domain_weight > 0:
                final = final + domain_weight * ((z - encoder(recon, None)) ** 2).mean(1)
            mse = masked_mse(recon, x, valid)
    if not history:
        history.append(final.clone())
    generator.train(was_g)
    if encoder is not None:
        encoder.train(was_e)
    total = time.perf_counter() - t_start
    timings = {"total_s": total, "encoder_s": encoder_s, "optimise_s": optimise_s, "images_per_s": b / max(total, 1e-12)}
    return InversionResult(z.detach(), recon.detach().contiguous(), torch.stack(history), final.detach(), mse.detach(), ran, timings,
                           method, {"steps": steps, "lr": lr, "projection": proj, "radius": r, "ramp": use_ramp,
                                    "sigma": sigma, "latent_dim": d})


__all__ = ["METHODS", "DEFAULTS", "InversionResult", "StepInfo", "cpu_channels_last", "invert", "probe_generator", "check_images",
           "check_mask", "project", "lr_ramp", "resolve_loss"]
