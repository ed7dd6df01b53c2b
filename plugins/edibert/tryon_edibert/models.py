"""The networks of the EdiBERT plugin: the VQGAN tokenizer and the EdiBERT token model.

**VQGAN** (:class:`VQGAN`, with :class:`Encoder` and :class:`Decoder`): the tokenizer (E, D, Z) of 000 §4.2.2.1,
eq. 4.2.2, at any downsampling factor 2^k.

The quantiser is ``vector_quantize_pytorch.VectorQuantize``: the codebook follows the encoder outputs by an
exponential moving average (which stands for the ``‖sg[E(x)] − z_q‖²`` codebook term), the commitment term
``β‖E(x) − sg[z_q]‖²`` with β = 0.25 is on the encoder side (the side taming's ``legacy=True`` gets wrong,
reference anchors-editing §1.2), gradients pass straight through (rotation trick off), and codes whose EMA
usage drops below ``dead_code_threshold`` are re-seeded from the current batch.

**EdiBERT** (:class:`EdiBERTTransformer`, :func:`token_nll`): the token model (000 §4.2.3.3, App. D.1.1), full
bidirectional self-attention over the token grid.

Each position gets a code embedding plus a row and a column embedding (2-D positions), so any grid up to
``max_grid`` rows × columns works, square or not (16×16 at 256 px, 16×12 for 256×192 persons). The layers
are ``torch.nn.TransformerEncoderLayer`` (pre-norm, GELU; attention through ``scaled_dot_product_attention``)
with no attention mask: every token sees every other token. No [MASK] token exists (000 eq. 4.2.6).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["VQGAN", "Decoder", "EdiBERTTransformer", "Encoder", "token_nll"]


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, c // 4) if c >= 8 else 1, c, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, 1, 1),
                                  _norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class Encoder(nn.Module):
    """Image ``B×3×H×W`` → latents ``B×D×H/f×W/f`` with ``f = 2^len(ch_mult[1:])``."""

    def __init__(self, ch: int, ch_mult: Sequence[int], embed_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ch * ch_mult[0], 3, 1, 1)]
        c = ch * ch_mult[0]
        for i, m in enumerate(ch_mult):
            layers.append(ResBlock(c, ch * m))
            c = ch * m
            if i < len(ch_mult) - 1:
                layers.append(nn.Conv2d(c, c, 4, 2, 1))
        layers += [ResBlock(c, c), _norm(c), nn.SiLU(), nn.Conv2d(c, embed_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latents ``B×D×h×w`` → image ``B×3×(h·f)×(w·f)`` in [-1, 1] (tanh-free; clamped at output time)."""

    def __init__(self, ch: int, ch_mult: Sequence[int], embed_dim: int) -> None:
        super().__init__()
        c = ch * ch_mult[-1]
        layers: list[nn.Module] = [nn.Conv2d(embed_dim, c, 3, 1, 1), ResBlock(c, c)]
        for i, m in reversed(list(enumerate(ch_mult))):
            layers.append(ResBlock(c, ch * m))
            c = ch * m
            if i > 0:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(c, c, 3, 1, 1)]
        layers += [_norm(c), nn.SiLU()]
        self.net = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, z: Tensor) -> Tensor:
        return self.conv_out(self.net(z))


class VQGAN(nn.Module):
    """Encoder, quantiser and decoder; ``factor`` = 2^(len(ch_mult) − 1) pixels per token side."""

    def __init__(self, n_codes: int = 1024, embed_dim: int = 64, ch: int = 64, ch_mult: Sequence[int] = (1, 1, 2, 2, 4),
                 beta: float = 0.25, ema_decay: float = 0.99, dead_code_threshold: float = 1.0) -> None:
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.n_codes, self.embed_dim = int(n_codes), int(embed_dim)
        self.factor = 2 ** (len(ch_mult) - 1)
        self.encoder = Encoder(ch, ch_mult, embed_dim)
        self.decoder = Decoder(ch, ch_mult, embed_dim)
        self.quantizer = VectorQuantize(
            dim=embed_dim, codebook_size=n_codes, decay=ema_decay, commitment_weight=beta,
            threshold_ema_dead_code=dead_code_threshold, accept_image_fmap=True, rotation_trick=False,
            kmeans_init=False,
        )

    # ---- tokens <-> latents <-> images
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(z_q, indices B×h×w, commitment loss)``; the codebook is updated by EMA in training mode."""
        z = self.encoder(x)
        z_q, idx, commit = self.quantizer(z)
        return z_q, idx, commit

    @torch.no_grad()
    def tokenize(self, x: Tensor) -> Tensor:
        """Images → code indices ``B×h×w`` (no codebook update)."""
        z = self.encoder(x)
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        return torch.cdist(flat, self.codebook()).argmin(-1).view(b, h, w)

    def codebook(self) -> Tensor:
        return self.quantizer.codebook

    def embed(self, idx: Tensor) -> Tensor:
        """Indices ``B×h×w`` → codebook vectors ``B×D×h×w``."""
        return F.embedding(idx, self.codebook()).permute(0, 3, 1, 2).contiguous()

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def decode_tokens(self, idx: Tensor) -> Tensor:
        return self.decoder(self.embed(idx))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z_q, idx, commit = self.encode(x)
        return self.decode(z_q), idx, commit

    def last_layer(self) -> Tensor:
        return self.decoder.conv_out.weight


# ------------------------------------------------------------------------------------------------ EdiBERT
class EdiBERTTransformer(nn.Module):
    """``tokens B×h×w`` (long) → logits ``B×h×w×n_codes``."""

    def __init__(self, n_codes: int = 1024, width: int = 512, layers: int = 8, heads: int = 8,
                 max_grid: tuple[int, int] | list[int] = (32, 32), dropout: float = 0.0) -> None:
        super().__init__()
        self.n_codes = int(n_codes)
        self.max_grid = (int(max_grid[0]), int(max_grid[1]))
        self.tok = nn.Embedding(self.n_codes, width)
        self.row = nn.Embedding(self.max_grid[0], width)
        self.col = nn.Embedding(self.max_grid[1], width)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, self.n_codes)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.dim() != 3:
            raise ValueError(f"tokens: expected B×h×w indices, got shape {tuple(tokens.shape)}")
        b, h, w = tokens.shape
        if h > self.max_grid[0] or w > self.max_grid[1]:
            raise ValueError(f"token grid {h}×{w} is larger than the model's max_grid {self.max_grid[0]}×{self.max_grid[1]}")
        pos = self.row.weight[:h, None, :] + self.col.weight[None, :w, :]  # h×w×C
        x = self.tok(tokens) + pos[None]
        x = self.blocks(x.view(b, h * w, -1))
        return self.head(self.norm(x)).view(b, h, w, self.n_codes)

    def param_groups(self, weight_decay: float = 0.01) -> list[dict]:
        """minGPT's AdamW grouping (anchors-editing §1.1): decay on Linear/attention weights only."""
        embeddings = {id(m.weight) for m in (self.tok, self.row, self.col)}
        decay = [p for p in self.parameters() if p.dim() >= 2 and id(p) not in embeddings]
        keep = {id(p) for p in decay}
        no_decay = [p for p in self.parameters() if id(p) not in keep]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def token_nll(model: EdiBERTTransformer, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """``(-log p(s_i | s)`` per position ``B×h×w``, logits)`` from one forward (000 Alg. 3 line 3)."""
    logits = model(tokens)
    logp = logits.float().log_softmax(-1)
    return -logp.gather(-1, tokens[..., None])[..., 0], logits
