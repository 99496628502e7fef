"""MaskGIT-pytorch v1 `MaskTransformer`: the ImageNet-256 teacher of FPD (`Network/transformer.py`).

Re-implemented with the official attribute names (`tok_emb`, `pos_emb`, `first_layer`,
`transformer.layers.{i}.{0,1}.{norm,fn}`, `last_layer`, `bias`) so `MaskGIT_ImageNet_256.pth`
['model_state_dict'] loads key for key (docs/references/teachers.md §1.2).

Vocabulary (2026 rows): 0..1023 VQ codes, 1024 [MASK], 1025..2024 classes (label + 1025),
2025 the null class used for classifier-free guidance. The class token is the LAST position.
The head is weight-tied to `tok_emb` with a per-position bias [257, 2026]; the official output is
`logit[:, :256, :1025]` (includes the [MASK] column) = `raw_logits`; as a `TokenModel` the network
returns the 1024 code logits (the [MASK] column dropped).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class MaskGITConfig:
    """MaskGIT-pytorch v1 `Trainer/vit.py::get_network` values.

    heads=16: every trainer passes 16 although the constructor default is 8, and the checkpoint
    shapes cannot tell the two apart (nn.MultiheadAttention.in_proj_weight is [3d, d] either way).
    """

    img_size: int = 256
    hidden_dim: int = 768
    codebook_size: int = 1024
    depth: int = 24
    heads: int = 16
    mlp_dim: int = 3072
    dropout: float = 0.1
    nclass: int = 1000

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def grid(self) -> int:
        return self.img_size // 16

    @property
    def vocab(self) -> int:
        return self.codebook_size + 1 + self.nclass + 1  # codes, [MASK], classes, null class


class _PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm, self.fn = nn.LayerNorm(dim), fn  # default eps 1e-5, as the v1 code

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.norm(x))


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        # v1 asks for the (averaged) attention weights for visualisation; the values are identical
        return self.mha(x, x, x, need_weights=False)[0]


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _TransformerEncoder(nn.Module):
    def __init__(self, cfg: MaskGITConfig):
        super().__init__()
        d = cfg.hidden_dim
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    _PreNorm(d, _Attention(d, cfg.heads, cfg.dropout)),
                    _PreNorm(d, _FeedForward(d, cfg.mlp_dim, cfg.dropout)),
                ]
            )
            for _ in range(cfg.depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for attn, ff in self.layers:
            x = x + attn(x)
            x = x + ff(x)
        return x


def _mlp_stack(d: int, dropout: float, last: bool) -> nn.Sequential:
    # v1 first_layer: LN, Drop, Linear, GELU, LN, Drop, Linear; last_layer: LN, Drop, Linear, GELU, LN
    mods = [nn.LayerNorm(d, eps=1e-12), nn.Dropout(dropout), nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=1e-12)]
    if not last:
        mods += [nn.Dropout(dropout), nn.Linear(d, d)]
    return nn.Sequential(*mods)


class MaskGITTransformer(nn.Module):
    """The v1 MaskTransformer; `forward` = TokenModel (K=1024 logits), `raw_logits` = official 1025-way."""

    dimo_frozen = ("tok_emb", "pos_emb", "bias")  # DiMO fix_emb_layer; the readout is tied to tok_emb (+ bias)

    def __init__(self, cfg: MaskGITConfig = MaskGITConfig()):
        super().__init__()
        self.cfg = cfg
        d, n = cfg.hidden_dim, cfg.grid**2
        self.num_tokens, self.codebook_size, self.mask_id = n, cfg.codebook_size, cfg.codebook_size
        self.null_class = cfg.nclass  # label space; token id 2025 = 1025 + 1000
        self.tok_emb = nn.Embedding(cfg.vocab, d)
        self.pos_emb = nn.Parameter(nn.init.trunc_normal_(torch.zeros(1, n + 1, d), 0.0, 0.02))
        self.first_layer = _mlp_stack(d, cfg.dropout, last=False)
        self.transformer = _TransformerEncoder(cfg)
        self.last_layer = _mlp_stack(d, cfg.dropout, last=True)
        self.bias = nn.Parameter(torch.zeros(n + 1, cfg.vocab))

    def null_cond(self, cond: Tensor) -> Tensor:
        return torch.full_like(cond, self.null_class)

    def class_token(self, cond: Tensor) -> Tensor:
        """Class label [B] in 0..nclass (nclass = null) -> input id (v1: y + codebook_size + 1)."""
        return cond.reshape(-1).long() + self.codebook_size + 1

    def embed_tokens(self, tokens: Tensor) -> Tensor:
        """Input-embedding of visual tokens [B, L] -> [B, L, d] (the space a soft-embedding student uses)."""
        return self.tok_emb(tokens)

    def raw_logits(
        self,
        tokens: Tensor,
        cond: Tensor,
        *,
        emb_perturb: float = 0.0,
        noise: Tensor | None = None,
        token_embeds: Tensor | None = None,
    ) -> Tensor:
        """Official output: logits [B, 256, 1025] over codes and [MASK].

        tokens [B, 256] (or [B, 16, 16]) ids in 0..1024; cond class labels [B] (nclass = null class).
        token_embeds, if given, replaces tok_emb(tokens) for the visual positions (soft embeddings).
        emb_perturb: DiMO's `noise_emb_perturb` (DiMO `MaskGit_src/Network/transformer.py`):
        e <- sigma*eps + sqrt(1 - sigma^2)*e on the 256 visual-token embeddings only, before pos_emb;
        `noise` is an explicit eps [B, 256, d] (else drawn with randn).
        """
        b = tokens.shape[0]
        vis = self.tok_emb(tokens.reshape(b, -1)) if token_embeds is None else token_embeds
        if emb_perturb > 0:
            eps = torch.randn_like(vis) if noise is None else noise.to(vis)
            vis = emb_perturb * eps + math.sqrt(1.0 - emb_perturb**2) * vis
        cls = self.tok_emb(self.class_token(cond))[:, None]  # class token last (v1 transformer.py)
        x = torch.cat([vis, cls.to(vis.dtype)], 1) + self.pos_emb
        x = self.last_layer(self.transformer(self.first_layer(x)))
        logit = x @ self.tok_emb.weight.t() + self.bias  # weight-tied head + per-position bias
        return logit[:, : self.num_tokens, : self.codebook_size + 1]

    def forward(
        self,
        tokens: Tensor,
        cond: Tensor,
        *,
        emb_perturb: float = 0.0,
        noise: Tensor | None = None,
        token_embeds: Tensor | None = None,
    ) -> Tensor:
        """TokenModel: logits [B, 256, 1024] over the real codes ([MASK] column dropped)."""
        return self.raw_logits(tokens, cond, emb_perturb=emb_perturb, noise=noise, token_embeds=token_embeds)[
            ..., : self.codebook_size
        ]
