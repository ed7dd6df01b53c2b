"""The EdiBERT token model (000 §4.2.3.3, App. D.1.1): full bidirectional self-attention over the token grid.

Each position gets a code embedding plus a row and a column embedding (2-D positions), so any grid up to
``max_grid`` rows × columns works, square or not (16×16 at 256 px, 16×12 for 256×192 persons). The layers
are ``torch.nn.TransformerEncoderLayer`` (pre-norm, GELU; attention through ``scaled_dot_product_attention``)
with no attention mask: every token sees every other token. No [MASK] token exists (000 eq. 4.2.6).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["EdiBERTTransformer"]


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
