"""The chapter-5 model (003 §5.3–5.4, Fig. 5.1), small: SPACE's foreground with K boxes per cell, explicit where,
the ``w_pres < 0.01`` skip and a learned recurrent prior; a uniform background (GENESIS skipped, module doc below).

Forward pass on ``x`` (``B×3×H×W`` in [−1, 1]):

1. :class:`~.networks.StructureEncoder` → ``z_cell`` per cell (``G = grid²`` cells);
2. the box encoder (:class:`~.prior.RecurrentBoxLatents` conditioned on ``z_cell``, one LSTM shared among cells)
   unrolled ``K`` steps → ``(z_box, z_pres)`` per (cell, k); the learned prior (the same module conditioned on the cell
   position) scores them (teacher forcing) for the KL of 003 Eq. 5.4;
3. :class:`~.networks.BoxProposer` → explicit ``shift, scale, angle`` and ``w_pres``;
4. **skip rule** (003 §5.3): in each cell the proposals are sorted by decreasing ``w_pres`` and box ``k`` is dropped
   when the box ranked before it has ``w_pres < 0.01`` — the object VAE runs on the confident boxes plus one per cell
   (``calls`` counts them; a 4×4×K4 model runs it 16–64 times per image, the 8×8×K1 SPACE-like ablation always 64);
5. glimpses (:func:`~.glimpse.extract_glimpses`, rotation included) → :class:`~.networks.ObjectVAE` → RGB + alpha,
   projected back (:func:`~.glimpse.project_glimpses`);
6. composition: layer weights ``a_i = w_pres_i · alpha_i`` (in training ``w_pres`` is replaced by a relaxed
   Bernoulli sample of it, as SPACE samples ``z_pres``), foreground mask ``m = 1 − Π(1 − a_i)``, foreground colour
   the ``a``-weighted mean of the layers' RGB, over the background.

**Background**: the scenes' background is one uniform colour per image; it is *estimated* (per-channel median of the
image, no gradient) instead of learned with GENESIS's K components (003 §5.2 keeps GENESIS; skipped here).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .glimpse import extract_glimpses, paste_windows, project_windows, window_side
from .networks import BoxProposer, ObjectVAE, StructureEncoder
from .prior import RecurrentBoxLatents, cell_positions

#: 003 §5.3: box (i, j, k) is dropped when w_pres(i, j, k−1) < SKIP_THRESHOLD (boxes sorted by w_pres in each cell)
SKIP_THRESHOLD = 0.01


@dataclass
class SceneOutput:
    """What one forward pass computes. ``P = grid² · K`` proposals per image (index ``cell · K + k``); ``N`` kept."""

    recon: Tensor        # B×3×H×W composite in [−1, 1]
    foreground: Tensor   # B×3×H×W foreground colour (the a-weighted mean of the layers)
    fg_mask: Tensor      # B×1×H×W foreground mask m
    background: Tensor   # B×3 the background colour
    w_pres: Tensor       # B×P presence in (0, 1)
    shift: Tensor        # B×P×2 box centres (normalised image coordinates)
    scale: Tensor        # B×P×2 half-sizes along the box axes
    angle: Tensor        # B×P radians
    kept: Tensor         # B×P bool: the object VAE ran on this box
    q_mu: Tensor         # B×P×(box_dim+1) posterior of (z_box, z_pres)
    q_log_sigma: Tensor
    p_mu: Tensor         # B×P×(box_dim+1) the learned prior's, on the posterior's samples
    p_log_sigma: Tensor
    index: Tensor        # N image of each kept box
    slot: Tensor         # N its proposal index in 0..P−1
    glimpse_rgb: Tensor  # N×3×g×g decoded RGB
    glimpse_alpha: Tensor  # N×1×g×g decoded alpha
    what_mu: Tensor      # N×what_dim
    what_log_sigma: Tensor
    alpha_windows: Tensor  # N×1×S×S projected alpha (before w_pres), in a window around each box
    window_origin: Tensor  # N×2 (x, y) top-left pixel of each window (may lie outside the image)

    @property
    def calls(self) -> int:
        """Object-VAE calls of this forward pass (kept boxes over the batch)."""
        return int(self.index.shape[0])


def skip_mask(w_pres: Tensor, threshold: float = SKIP_THRESHOLD) -> Tensor:
    """``…×K`` presences of one cell's proposals → ``…×K`` bool, True where the object VAE runs: with the boxes
    sorted by decreasing ``w_pres``, rank ``r`` is kept iff ``r = 0`` or the box of rank ``r − 1`` has ``w_pres ≥
    threshold``, i.e. iff ``r ≤`` the number of confident boxes (003 §5.3)."""
    order = torch.argsort(w_pres.detach(), dim=-1, descending=True)
    rank = torch.argsort(order, dim=-1)
    confident = (w_pres.detach() >= threshold).sum(-1, keepdim=True)
    return rank <= confident


def relaxed_presence(w_pres: Tensor, temperature: float) -> Tensor:
    """A relaxed Bernoulli (binary concrete) sample of presence ``w_pres`` at ``temperature``, as SPACE's ``z_pres``:
    in training the layers are weighted by it, which pushes ``w_pres`` towards 0 or 1 (a deterministic soft weight
    lets several half-present boxes share one object)."""
    u = torch.rand_like(w_pres).clamp(1e-6, 1 - 1e-6)
    logit = torch.logit(w_pres.clamp(1e-6, 1 - 1e-6))
    return torch.sigmoid((logit + torch.log(u) - torch.log1p(-u)) / float(temperature))


def compose(index: Tensor, w_pres: Tensor, rgb_windows: Tensor, alpha_windows: Tensor, origin: Tensor, background: Tensor,
            size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Composite ``N`` projected layers, given as windows (``N×3×S×S`` RGB, ``N×1×S×S`` alpha, top-left ``origin``,
    weights ``w_pres`` ``N``, image ``index``; :func:`~.glimpse.project_windows`), over ``background`` (``B×3``):
    returns ``(image, foreground, fg_mask)`` (``B×3×H×W``, ``B×3×H×W``, ``B×1×H×W``; module doc, step 6)."""
    batch = background.shape[0]
    a = w_pres.view(-1, 1, 1, 1) * alpha_windows
    sums = paste_windows(torch.cat([torch.log1p(-a.clamp(0, 1 - 1e-4)), a, a * rgb_windows], 1), origin, index, batch, size)
    fg_mask = 1 - sums[:, :1].exp()
    fg = sums[:, 2:] / sums[:, 1:2].clamp_min(1e-4)
    image = fg_mask * fg + (1 - fg_mask) * background.view(batch, 3, 1, 1)
    return image, fg, fg_mask


class SceneModel(nn.Module):
    """The whole model (module doc).

    Args:
        size: image side H = W. grid: cells per side (``G = grid²``). k: proposals per cell (K). glimpse: glimpse side.
        cell_dim, box_dim, what_dim: latent sizes. hidden: box-encoder LSTM width (the prior's is half).
        width: conv width. init_scale: the boxes' initial half-size (normalised; the same for every grid: no size
        prior). max_scale: the largest half-size (normalised); it sets the projection window
        (:func:`~.glimpse.window_side`: 30 pixels at 48 for 0.4). temperature: of the relaxed presence sample in
        training. init_presence: every ``w_pres`` at initialisation (above the skip threshold: all boxes run at first).
    """

    def __init__(self, size: int = 48, grid: int = 4, k: int = 4, glimpse: int = 16, cell_dim: int = 32, box_dim: int = 6,
                 what_dim: int = 8, hidden: int = 64, width: int = 16, init_scale: float = 0.25,
                 max_scale: float = 0.4, temperature: float = 0.3, init_presence: float = 0.12):
        super().__init__()
        self.size, self.grid, self.k, self.glimpse = int(size), int(grid), int(k), int(glimpse)
        self.box_dim = int(box_dim)
        self.structure = StructureEncoder(self.grid, int(cell_dim), int(width))
        self.box_encoder = RecurrentBoxLatents(int(cell_dim), self.box_dim, int(hidden))
        self.prior = RecurrentBoxLatents(2, self.box_dim, max(8, int(hidden) // 2))
        self.proposer = BoxProposer(self.box_dim, max_scale=float(max_scale), init_scale=float(init_scale),
                                    init_presence=float(init_presence))
        self.window = window_side(self.size, float(max_scale))
        self.objects = ObjectVAE(self.glimpse, int(what_dim), int(width))
        self.temperature = float(temperature)  # of the relaxed presence in training
        self.register_buffer("cells", cell_positions(self.grid), persistent=False)

    @property
    def capacity(self) -> int:
        return self.grid * self.grid * self.k

    @property
    def cell_half(self) -> float:
        return 1.0 / self.grid

    def background_colour(self, x: Tensor) -> Tensor:
        """The uniform background colour, estimated: per-image, per-channel median (``B×3``, no gradient)."""
        return x.detach().flatten(2).median(-1).values

    def geometry(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``z`` = ``[z_box, z_pres]`` ``B×G×K×(box_dim+1)`` → shift, scale, angle, w_pres flattened to ``B×P``."""
        b = z.shape[0]
        centre = self.cells.view(1, -1, 1, 2).expand(b, -1, self.k, -1)
        shift, scale, angle, w_pres = self.proposer(z[..., :self.box_dim], z[..., self.box_dim:], centre, self.cell_half)
        return shift.reshape(b, -1, 2), scale.reshape(b, -1, 2), angle.reshape(b, -1), w_pres.reshape(b, -1)

    def render(self, index: Tensor, w_pres: Tensor, shift: Tensor, scale: Tensor, angle: Tensor, rgb: Tensor, alpha: Tensor,
               background: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Project ``N`` decoded glimpses with their boxes and composite them: ``(image, foreground, fg_mask,
        alpha_windows N×1×S×S, origins N×2)`` (the windows of :func:`~.glimpse.project_windows`)."""
        windows, origin = project_windows(torch.cat([rgb, alpha], 1), shift, scale, angle, self.size, self.window)
        image, fg, mask = compose(index, w_pres, windows[:, :3], windows[:, 3:], origin, background, self.size)
        return image, fg, mask, windows[:, 3:], origin

    def full_layers(self, windows: Tensor, origin: Tensor) -> Tensor:
        """``N×C×S×S`` windows → ``N×C×H×W`` image-sized layers."""
        n = windows.shape[0]
        return paste_windows(windows, origin, torch.arange(n, device=windows.device), n, self.size)

    def forward(self, x: Tensor, sample: bool | None = None) -> SceneOutput:
        """Decompose ``x`` (``B×3×size×size`` in [−1, 1]); ``sample`` (default: ``self.training``) draws the latents,
        otherwise their means are used."""
        sample = self.training if sample is None else bool(sample)
        b, g2, k = x.shape[0], self.grid * self.grid, self.k
        z_cell = self.structure(x).reshape(b * g2, -1)
        q_mu, q_ls, z = self.box_encoder(z_cell, steps=k, sample=sample)
        p_mu, p_ls, _ = self.prior(self.cells.repeat(b, 1), samples=z)
        shift, scale, angle, w_pres = self.geometry(z.view(b, g2, k, -1))
        kept = skip_mask(w_pres.view(b, g2, k)).view(b, -1)
        index, slot = kept.nonzero(as_tuple=True)
        sh, sc, an, wp = shift[index, slot], scale[index, slot], angle[index, slot], w_pres[index, slot]
        glimpses = extract_glimpses(x, index, sh, sc, an, self.glimpse)  # N×3×g×g
        what_mu, what_ls = self.objects.encode(glimpses)
        z_what = what_mu + what_ls.exp() * torch.randn_like(what_mu) if sample else what_mu
        rgb, alpha = self.objects.decode(z_what)
        background = self.background_colour(x)
        weight = relaxed_presence(wp, self.temperature) if sample else wp
        recon, fg, fg_mask, alpha_windows, origin = self.render(index, weight, sh, sc, an, rgb, alpha, background)
        flat = (b, g2 * k, -1)
        return SceneOutput(recon, fg, fg_mask, background, w_pres, shift, scale, angle, kept, q_mu.reshape(flat),
                           q_ls.reshape(flat), p_mu.reshape(flat), p_ls.reshape(flat), index, slot, rgb, alpha, what_mu, what_ls,
                           alpha_windows, origin)

    @torch.no_grad()
    def generate(self, n: int, background: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """``n`` scenes from the learned prior (003 §5.4, Fig. 5.5): per cell, the prior LSTM samples ``(z_box,
        z_pres)`` step by step (fed back), ``z_what ∼ N(0, I)``; every box with ``w_pres ≥ 0.5`` is decoded and
        composited over ``background`` (``n×3``). Returns ``(images n×3×H×W, boxes)``."""
        g2, k = self.grid * self.grid, self.k
        _, _, z = self.prior(self.cells.repeat(int(n), 1), steps=k, sample=True, generator=generator)
        shift, scale, angle, w_pres = self.geometry(z.view(int(n), g2, k, -1))
        index, slot = (w_pres >= 0.5).nonzero(as_tuple=True)
        eps = torch.randn(index.shape[0], self.objects.fc[0].in_features, generator=generator).to(w_pres.device)
        rgb, alpha = self.objects.decode(eps)
        image, _, _, _, _ = self.render(index, w_pres[index, slot], shift[index, slot], scale[index, slot], angle[index, slot], rgb, alpha,
                                  background.to(w_pres.device))
        return image, {"index": index, "shift": shift[index, slot], "scale": scale[index, slot], "angle": angle[index, slot],
                       "w_pres": w_pres[index, slot]}


__all__ = ["SKIP_THRESHOLD", "SceneModel", "SceneOutput", "compose", "relaxed_presence", "skip_mask"]
