"""A MaskGIT-style bidirectional transformer over the shapes token grid.

Input vocabulary: codes 0..K-1 and [MASK] = K. Class conditioning appends one class token (id
range K+1.., null class last, as MaskGIT-pytorch v1 puts the class token last); text conditioning
prepends the caption's word tokens, attended jointly with the image tokens (the MM-DiT idea of
MaskGen in its simplest form). Output: K-way logits per image position. Satisfies
`methods.interfaces.TokenModel`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class TransformerConfig:
    num_tokens: int = 64
    codebook_size: int = 256
    cond: str = "class"  # "class" | "text"
    num_classes: int = 24  # class task
    text_vocab: int = 32  # text task: caption word vocabulary (0 = pad)
    text_len: int = 12
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class ShapesMaskTransformer(nn.Module):
    # DiMO fix_emb_layer: embeddings and the (untied) readout, so the student matches a tied-readout MaskGIT
    dimo_frozen = ("tok_emb", "pos_emb", "head", "cond_emb", "cond_pos")

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.num_tokens, self.codebook_size, self.mask_id = cfg.num_tokens, cfg.codebook_size, cfg.codebook_size
        w = cfg.width
        self.tok_emb = nn.Embedding(cfg.codebook_size + 1, w)
        self.pos_emb = nn.Parameter(torch.randn(1, cfg.num_tokens, w) * 0.02)
        if cfg.cond == "class":
            self.cond_emb = nn.Embedding(cfg.num_classes + 1, w)  # last id = null class
            self.cond_pos = nn.Parameter(torch.randn(1, 1, w) * 0.02)
        elif cfg.cond == "text":
            self.cond_emb = nn.Embedding(cfg.text_vocab, w)
            self.cond_pos = nn.Parameter(torch.randn(1, cfg.text_len, w) * 0.02)
        else:
            raise ValueError(f"unknown conditioning {cfg.cond!r}; use 'class' or 'text'")
        layer = nn.TransformerEncoderLayer(
            w, cfg.heads, w * cfg.mlp_ratio, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.codebook_size)

    @property
    def null_class(self) -> int:
        return self.cfg.num_classes

    def null_cond(self, cond: Tensor) -> Tensor:
        if self.cfg.cond == "class":
            return torch.full_like(cond, self.null_class)
        null = torch.zeros_like(cond)
        null[:, 0] = 1  # "<bos>" alone: the empty caption
        return null

    def embed_tokens(self, tokens: Tensor) -> Tensor:
        return self.tok_emb(tokens)

    def forward(
        self,
        tokens: Tensor,
        cond: Tensor,
        *,
        emb_perturb: float = 0.0,
        noise: Tensor | None = None,
        token_embeds: Tensor | None = None,
    ) -> Tensor:
        x = self.tok_emb(tokens) if token_embeds is None else token_embeds
        if emb_perturb > 0:  # DiMO's embedding perturbation: e <- s*eps + sqrt(1-s^2)*e (visual tokens only)
            eps = torch.randn_like(x) if noise is None else noise
            x = emb_perturb * eps + (1 - emb_perturb**2) ** 0.5 * x
        x = x + self.pos_emb
        c = self.cond_emb(cond if cond.dim() == 2 else cond[:, None]) + self.cond_pos
        h = torch.cat([x, c], 1) if self.cfg.cond == "class" else torch.cat([c, x], 1)
        pad = None
        if self.cfg.cond == "text":  # pads in the caption are not attended to
            pad = torch.cat([cond == 0, torch.zeros_like(tokens, dtype=torch.bool)], 1)
        h = self.blocks(h, src_key_padding_mask=pad)
        h = h[:, : self.num_tokens] if self.cfg.cond == "class" else h[:, -self.num_tokens :]
        return self.head(self.norm(h)).float()
