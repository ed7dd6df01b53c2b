"""EdiBERT pipelines: one trained model (VQGAN + bidirectional transformer) behind every editing task.

* ``edibert-vqgan`` (:class:`VQGANPipeline`): the tokenizer alone; reconstruct an image, optionally with the
  latent optimisation of 000 §4.2.3.5.
* ``edibert-denoise`` (:class:`DenoisePipeline`, 000 Alg. 3): no mask needed; returns the image and the
  per-token likelihood heat-map (000 Fig. 4.6).
* ``edibert-inpaint`` / ``edibert-composite`` (000 App. D Alg. 7) and ``edibert-crossover`` (compositing of two
  images: ``image`` outside the mask, ``other`` inside). Scribble edits are compositing on the scribbled image.

The editing tasks share the weights family ``"edibert"`` (``TaskSpec.weights_family``): the run folder of
``tryon train edibert-inpaint`` records the task it saved (``edibert-inpaint``) and loads into every editing task
(``tryon.load("edibert-denoise", weights=RUN)`` works; a folder of another task, e.g. a VQGAN run, raises
:class:`tryon.errors.WeightsError`).

Inputs: paths, PIL, numpy, tensors in [-1, 1], lists = batches, any size (padded to a multiple of the
downsampling factor inside and cropped back). Masks: 1 = edit, same size as the image, binary.

**Exact kept pixels.** The VQGAN decodes every token, so its output outside the mask is a reconstruction, not
the user's pixels. The editing tasks (inpaint, composite, crossover, and denoise when given a mask) paste the
source back outside the mask by default (``paste=True``, 000 §4.2.4.2: ``î ⊙ (1 − m) = i ⊙ (1 − m)``) with the
core's feathered seam (:func:`tryon.compose.paste_source`; ``paste_feather`` = σ in pixels, default
:data:`tryon.compose.SEAM_SIGMA` = 1, a 3-pixel band outside the mask, inside the one-token dilation ring
that is resampled). Beyond the band the output is the input bit for bit (uint8 in, identical uint8 out).
``paste=False`` gives the raw decode — for compositing, 000 §4.2.4.3 lets the harmonisation change pixels
outside the mask too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

import tryon
from tryon.compose import SEAM_SIGMA, paste_source
from tryon.errors import InputError, MaskError
from tryon.io import as_batch, load_mask, restore

from .editing import collage_image, collage_weight, latent_masks, optimize_latents, perceptual_extractor
from .samplers import EditRequest
from .models import VQGAN, EdiBERTTransformer, token_nll

FAMILY = "edibert"

__all__ = ["VQGANPipeline", "EdiBERTModel", "DenoisePipeline", "InpaintPipeline", "CompositePipeline",
           "CrossoverPipeline", "DenoiseOutput"]


# ------------------------------------------------------------------------------------------------ helpers
def _pad_to(x: Tensor, factor: int, mode: str = "replicate") -> Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    if ph == 0 and pw == 0:
        return x
    if mode == "constant":
        return F.pad(x, (0, pw, 0, ph), value=0.0)
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _masks(mask: Any, n: int, size: tuple[int, int]) -> Tensor:
    """Masks for a batch of ``n`` images of ``size`` → ``n×1×H×W`` float {0, 1}; one mask serves a batch."""
    if mask is None:
        raise MaskError("mask", "a mask (1 = edit) of the image's size", "none")
    if isinstance(mask, (list, tuple)):
        items = list(mask)
    elif isinstance(mask, Tensor) and mask.dim() == 4:
        items = list(mask.split(1))
    elif isinstance(mask, Tensor) and mask.dim() == 3 and mask.shape[0] == n and n > 1:
        items = list(mask.split(1))
    else:
        items = [mask]
    arrays = [load_mask(m, name=f"mask[{i}]" if len(items) > 1 else "mask", size=size) for i, m in enumerate(items)]
    if len(arrays) == 1 and n > 1:
        arrays = arrays * n
    if len(arrays) != n:
        raise MaskError("mask", f"one mask or {n} masks (one per image)", f"{len(arrays)} masks")
    return torch.from_numpy(np.stack(arrays))[:, None].float()


# ------------------------------------------------------------------------------------------------ VQGAN
class VQGANPipeline(tryon.Pipeline):
    """The tokenizer (E, D, Z) of 000 §4.2.2.1: ``pipe(image)`` → reconstruction D(Q(E(x))), optionally
    refined by ``optim_steps`` of latent optimisation (000 §4.2.3.5)."""

    def __init__(self, *, n_codes: int = 1024, embed_dim: int = 64, ch: int = 64, ch_mult: list[int] | tuple = (1, 1, 2, 2, 4),
                 beta: float = 0.25, ema_decay: float = 0.99, dead_code_threshold: float = 1.0,
                 perceptual_weights: str | None = None) -> None:
        super().__init__()
        self.vqgan = VQGAN(n_codes, embed_dim, ch, list(ch_mult), beta, ema_decay, dead_code_threshold)
        self._aux: dict[str, Any] = {}

    @property
    def factor(self) -> int:
        return self.vqgan.factor

    def perceptual(self) -> torch.nn.Module:
        if "perceptual" not in self._aux:
            self._aux["perceptual"] = perceptual_extractor(self.config.get("perceptual_weights"), self.device)
        return self._aux["perceptual"]

    def _prepare(self, image: Any):
        batch = as_batch(image, name="image")
        x = batch.tensor.to(self.device)
        return batch, x, _pad_to(x, self.factor)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        return self.vqgan.decode_tokens(self.vqgan.tokenize(x)).clamp(-1, 1)

    def __call__(self, image: Any, *, optim_steps: int = 0, optim_lr: float = 0.1) -> Any:
        batch, x, xp = self._prepare(image)
        h, w = x.shape[-2:]
        if optim_steps > 0:
            with torch.no_grad():
                z0 = self.vqgan.embed(self.vqgan.tokenize(xp))
            z = optimize_latents(self.vqgan, z0, self.perceptual(), target=xp, steps=optim_steps, lr=optim_lr)
            with torch.no_grad():
                out = self.vqgan.decode(z).clamp(-1, 1)
        else:
            out = self.reconstruct(xp)
        return restore(out[..., :h, :w].cpu(), batch)

    def reconstruction_study(self, images: Tensor, *, steps: int = 200, lr: float = 0.1,
                             proxy: Any = None) -> dict[str, float]:
        """000 Fig. 4.4-4.5: L1 (and proxy-LPIPS when a proxy extractor is given) of the plain reconstruction
        and after ``steps`` of latent optimisation from E(I); also the rank of the latents before/after."""
        x = _pad_to(images.to(self.device), self.factor)
        with torch.no_grad():
            z0 = self.vqgan.embed(self.vqgan.tokenize(x))
            before = self.vqgan.decode(z0).clamp(-1, 1)
        z = optimize_latents(self.vqgan, z0, self.perceptual(), target=x, steps=steps, lr=lr)
        with torch.no_grad():
            after = self.vqgan.decode(z).clamp(-1, 1)
        out = {"l1_before": float((before - x).abs().mean()), "l1_after": float((after - x).abs().mean())}

        def rank(t: Tensor) -> float:
            flat = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]).float()
            return float(torch.linalg.matrix_rank(flat - flat.mean(0)))

        out.update(latent_rank_before=rank(z0), latent_rank_after=rank(z))
        if proxy is not None:
            from tryon.metrics import proxy_lpips

            out["proxy_lpips_before"] = float(proxy_lpips(before.cpu(), x.cpu(), proxy))
            out["proxy_lpips_after"] = float(proxy_lpips(after.cpu(), x.cpu(), proxy))
        return out


# ------------------------------------------------------------------------------------------------ EdiBERT
class EdiBERTModel(VQGANPipeline):
    """VQGAN + EdiBERT transformer: the one model every editing task runs (000 §4.2.5); the editing tasks form
    one weights family, so the folder of ``tryon train edibert-inpaint`` loads into each of them."""

    def __init__(self, *, n_codes: int = 1024, embed_dim: int = 64, ch: int = 64, ch_mult: list[int] | tuple = (1, 1, 2, 2, 4),
                 beta: float = 0.25, ema_decay: float = 0.99, dead_code_threshold: float = 1.0,
                 perceptual_weights: str | None = None, width: int = 512, layers: int = 8, heads: int = 8,
                 max_grid: list[int] | tuple = (32, 32)) -> None:
        super().__init__(n_codes=n_codes, embed_dim=embed_dim, ch=ch, ch_mult=ch_mult, beta=beta, ema_decay=ema_decay,
                         dead_code_threshold=dead_code_threshold, perceptual_weights=perceptual_weights)
        self.transformer = EdiBERTTransformer(n_codes, width, layers, heads, list(max_grid))

    # ---- shared editing machinery
    def _grid_check(self, xp: Tensor) -> tuple[int, int]:
        gh, gw = xp.shape[-2] // self.factor, xp.shape[-1] // self.factor
        mh, mw = self.transformer.max_grid
        if gh > mh or gw > mw:
            raise InputError("image", f"at most {mh * self.factor}×{mw * self.factor} px (H×W; the model's token grid "
                             f"is at most {mh}×{mw})", f"{xp.shape[-2]}×{xp.shape[-1]} after padding")
        return gh, gw

    def _sampler(self, name: str, options: dict[str, Any] | None) -> Any:
        from tryon.sampling import get_sampler

        return get_sampler(name, family=FAMILY, **(options or {}))

    def edit_tensors(self, source: Tensor, mask: Tensor, *, inpainting: bool, sampler: str = "spiral",
                     sampler_options: dict[str, Any] | None = None, epochs: int = 2, top_k: int | None = 100,
                     temperature: float = 1.0, randomize: bool = True, dilation: int = 1, collage: bool = True,
                     collages_per_epoch: int = 4, feather_sigma: float = 1.0, optim_steps: int = 200,
                     optim_lr: float = 0.1, paste: bool = True, paste_feather: float = SEAM_SIGMA,
                     seed: int = 0) -> tuple[Tensor, dict[str, Any]]:
        """000 App. D Alg. 7 on padded tensors: ``source B×3×H×W`` in [-1, 1], ``mask B×1×H×W`` (1 = edit).
        Every component is a switch (Table 4.2). ``paste`` (default on) keeps ``source`` outside the mask
        beyond a seam of σ = ``paste_feather`` px (:func:`tryon.compose.paste_source`). Returns the edited images
        and a record (tokens before and after sampling, the latent masks, the sampler's stats, the raw decode)."""
        vq = self.vqgan
        gh, gw = self._grid_check(source)
        g = torch.Generator().manual_seed(int(seed))
        m1, m2 = latent_masks(mask, (gh, gw), dilation)
        with torch.no_grad():
            tokens0 = vq.tokenize(source)
        tokens = tokens0.clone()
        if inpainting and randomize:  # Alg. 7 line 5: random codes inside latent_mask_1 only
            rnd = torch.randint(0, vq.n_codes, tokens.shape, generator=g).to(tokens.device)
            tokens = torch.where(m1, rnd, tokens)
        weight = collage_weight(mask, feather_sigma)

        def do_collage(t: Tensor) -> Tensor:
            with torch.no_grad():
                gen = vq.decode_tokens(t).clamp(-1, 1)
                new = vq.tokenize(collage_image(source, gen, weight, inpainting))
            # tokens outside the sampled positions keep their values: the collage only refreshes the region
            return torch.where(m2, new, t)

        request = EditRequest(tokens=tokens, positions=m2, epochs=epochs, top_k=top_k, temperature=temperature,
                              collage=do_collage if collage else None, collages_per_epoch=collages_per_epoch)
        result = self._sampler(sampler, sampler_options).sample(self.transformer, request, seed=int(seed))
        sampled = result.samples
        with torch.no_grad():
            z0 = vq.embed(sampled)
        if optim_steps > 0:
            z = optimize_latents(vq, z0, self.perceptual(), target=source, mask=mask, steps=optim_steps, lr=optim_lr)
        else:
            z = z0
        with torch.no_grad():
            decoded = vq.decode(z).clamp(-1, 1)
        out = paste_source(source, decoded, mask, paste_feather) if paste else decoded
        record = {"tokens_source": tokens0, "tokens_start": tokens, "tokens_sampled": sampled, "latent_mask": m1,
                  "latent_mask_dilated": m2, "stats": result.stats, "visits": result.latents, "decoded": decoded}
        return out, record

    def _run_edit(self, image: Any, mask: Any, *, inpainting: bool, other: Any = None, **kw: Any) -> Any:
        batch = as_batch(image, name="image")
        x = batch.tensor
        h, w = x.shape[-2:]
        m = _masks(mask, x.shape[0], (h, w))
        if other is not None:  # eq. 4.2.8 (mask 1 = from ``other``)
            o = as_batch(other, name="other").tensor
            if o.shape != x.shape:
                raise InputError("other", f"images of the size of 'image' ({w}×{h} W×H, {x.shape[0]} item(s))",
                                 f"{o.shape[-1]}×{o.shape[-2]} ({o.shape[0]} item(s))")
            x = x * (1 - m) + o * m
        if not bool(m.flatten(1).any(1).all()):
            empty = [i for i in range(m.shape[0]) if not bool(m[i].any())]
            warnings.warn(f"mask: nothing to edit (empty mask for image(s) {empty}); returned unchanged", stacklevel=3)
            if len(empty) == m.shape[0]:
                return restore(x, batch)
        xp = _pad_to(x, self.factor).to(self.device)
        mp = _pad_to(m, self.factor, mode="constant").to(self.device)
        out, _ = self.edit_tensors(xp, mp, inpainting=inpainting, **kw)
        out = out[..., :h, :w].cpu()
        keep = ~m.flatten(1).any(1)
        out[keep] = x[keep]
        return restore(out, batch)


class InpaintPipeline(EdiBERTModel):
    """``pipe(image=…, mask=…)`` → inpainted image (000 §4.2.4.2, App. D Alg. 7; mask 1 = region to fill).

    Keywords (Table 4.2 switches): ``sampler`` (``"spiral"``, ``"random"``, ``"raster"``, ``"spiral-rings"``,
    ``"least-likely"`` or any registered edibert sampler), ``randomize``, ``dilation`` (tokens; 0 = off),
    ``collage``, ``collages_per_epoch``, ``feather_sigma``, ``optim_steps`` (0 = off), ``epochs``, ``top_k``,
    ``temperature``, ``paste`` (default on: the source's pixels outside the mask, exactly), ``paste_feather``
    (the seam's σ in px), ``seed``. The parallel samplers ``maskgit`` and ``halton`` edit in a few forwards."""

    def __call__(self, image: Any, mask: Any, **kw: Any) -> Any:
        return self._run_edit(image, mask, inpainting=True, **kw)


class CompositePipeline(EdiBERTModel):
    """``pipe(image=…, mask=…)`` → realistic version of an edited image (000 §4.2.4.3): ``image`` is the
    composite i_e (a paste or a scribble inside ``mask``), or pass ``paste_image=`` an image whose pixels inside
    ``mask`` are pasted onto ``image`` first (eq. 4.2.8). No randomisation (App. D.1.2.2). The input is kept
    outside the mask unless ``paste=False`` (then the harmonised decode may change it, 000 §4.2.4.3)."""

    def __call__(self, image: Any, mask: Any, *, paste_image: Any = None, **kw: Any) -> Any:
        kw.setdefault("randomize", False)
        return self._run_edit(image, mask, inpainting=False, other=paste_image, **kw)


class CrossoverPipeline(CompositePipeline):
    """``pipe(image=…, other=…, mask=…)``: a crossover is a composite whose edited region comes from a second
    image (000 §4.2.4.3): ``image`` outside the mask, ``other`` inside, then harmonised by EdiBERT."""

    def __call__(self, image: Any, other: Any, mask: Any, **kw: Any) -> Any:  # type: ignore[override]
        return super().__call__(image, mask, paste_image=other, **kw)


@dataclass
class DenoiseOutput:
    """``image``: the denoised image; ``heatmap``: per-token negative log-likelihood of the input tokens,
    normalised to [0, 1] per image and upsampled to the image (000 Fig. 4.6; 1 = least likely)."""

    image: Any
    heatmap: Any


class DenoisePipeline(EdiBERTModel):
    """``pipe(image=…)`` → :class:`DenoiseOutput` (000 Alg. 3): resample the least likely tokens, no mask
    needed; ``mask=`` (optional) restricts the positions, and then the input is kept outside it (``paste``,
    default on, seam σ = ``paste_feather`` px). Keywords: ``steps`` (50), ``per_forward`` (1; more = batched),
    ``selection_temperature`` (0.05), ``temperature`` (0.75), ``top_k``, ``sampler``, ``seed``."""

    def __call__(self, image: Any, *, mask: Any = None, steps: int = 50, per_forward: int = 1,
                 selection_temperature: float = 0.05, temperature: float = 0.75, top_k: int | None = 100,
                 sampler: str = "denoise", paste: bool = True, paste_feather: float = SEAM_SIGMA,
                 seed: int = 0) -> DenoiseOutput:
        batch = as_batch(image, name="image")
        x = batch.tensor
        h, w = x.shape[-2:]
        xp = _pad_to(x, self.factor).to(self.device)
        gh, gw = self._grid_check(xp)
        m = None
        if mask is not None:
            m = _pad_to(_masks(mask, x.shape[0], (h, w)), self.factor, mode="constant").to(self.device)
            positions = latent_masks(m, (gh, gw), 0)[0]
        else:
            positions = torch.ones(x.shape[0], gh, gw, dtype=torch.bool, device=self.device)
        with torch.no_grad():
            tokens = self.vqgan.tokenize(xp)
            nll, _ = token_nll(self.transformer, tokens)
        request = EditRequest(tokens=tokens, positions=positions, steps=steps, top_k=top_k, temperature=temperature)
        options = {"per_forward": per_forward, "selection_temperature": selection_temperature} if sampler == "denoise" else {}
        result = self._sampler(sampler, options).sample(self.transformer, request, seed=seed)
        with torch.no_grad():
            out = self.vqgan.decode_tokens(result.samples).clamp(-1, 1)
        if m is not None and paste:
            out = paste_source(xp, out, m, paste_feather)
        out = out[..., :h, :w].cpu()
        heat = nll / nll.flatten(1).max(1).values.clamp_min(1e-6)[:, None, None]
        heat = F.interpolate(heat[:, None].cpu(), size=xp.shape[-2:], mode="nearest")[..., :h, :w]
        if batch.kind == "torch":
            heatmap: Any = heat
        else:
            maps = [heat[i, 0].numpy().astype(np.float32) for i in range(heat.shape[0])]
            heatmap = maps if batch.is_list else maps[0]
        return DenoiseOutput(restore(out, batch), heatmap)

