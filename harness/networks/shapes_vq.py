"""A small VQ autoencoder for shapes images (f=4: 32x32 -> 8x8 tokens).

Standard VQ-VAE (van den Oord et al.): nearest-neighbour quantisation, codebook + commitment
losses (beta 0.25 as taming's VectorQuantizer2), straight-through to the encoder, and restarts of
dead codes from encoder outputs so the small codebook is used. Satisfies `methods.interfaces.Tokenizer`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class VQConfig:
    resolution: int = 32
    channels: int = 64
    codebook_size: int = 256
    code_dim: int = 32
    downsample: int = 4  # two stride-2 stages
    beta: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)


class _Res(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.GroupNorm(8, c),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.GroupNorm(8, c),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ShapesVQ(nn.Module):
    def __init__(self, cfg: VQConfig = VQConfig()):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        # Full resolution carries few channels (c/2): most compute sits at 16x16 and 8x8.
        h = c // 2
        self.encoder = nn.Sequential(
            nn.Conv2d(3, h, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(h, c, 4, stride=2, padding=1),
            _Res(c),
            nn.Conv2d(c, c, 4, stride=2, padding=1),
            _Res(c),
            nn.GroupNorm(8, c),
            nn.SiLU(),
            nn.Conv2d(c, cfg.code_dim, 1),
        )
        self.embedding = nn.Embedding(cfg.codebook_size, cfg.code_dim)
        nn.init.uniform_(self.embedding.weight, -1 / cfg.codebook_size, 1 / cfg.codebook_size)
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.code_dim, c, 3, padding=1),
            _Res(c),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, c, 3, padding=1),
            _Res(c),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, h, 3, padding=1),
            nn.GroupNorm(8, h),
            nn.SiLU(),
            nn.Conv2d(h, 3, 3, padding=1),
        )
        self.grid = cfg.resolution // cfg.downsample
        self.num_tokens = self.grid * self.grid
        self.codebook_size = cfg.codebook_size

    @property
    def codebook(self) -> Tensor:
        return self.embedding.weight

    def _encode_continuous(self, images: Tensor) -> Tensor:
        return self.encoder(images).flatten(2).transpose(1, 2)  # [B, L, d]

    def _nearest(self, z: Tensor) -> Tensor:
        e = self.embedding.weight
        d = z.pow(2).sum(-1, keepdim=True) - 2 * z @ e.t() + e.pow(2).sum(-1)
        return d.argmin(-1)

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        return self._nearest(self._encode_continuous(images))

    def decode_embeddings(self, emb: Tensor, cond: Tensor | None = None) -> Tensor:
        b, l, d = emb.shape
        x = emb.transpose(1, 2).reshape(b, d, self.grid, self.grid)
        return self.decoder(x)

    def decode(self, tokens: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.decode_embeddings(self.embedding(tokens))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Training pass: (reconstruction, vq loss, token ids)."""
        z = self._encode_continuous(images)
        idx = self._nearest(z.detach())
        q = self.embedding(idx)
        vq_loss = F.mse_loss(q, z.detach()) + self.cfg.beta * F.mse_loss(z, q.detach())
        q_st = z + (q - z).detach()
        return self.decode_embeddings(q_st), vq_loss, idx

    @torch.no_grad()
    def restart_dead_codes(self, images: Tensor, counts: Tensor, generator: torch.Generator) -> int:
        """Re-seed codes unused since the last call with random encoder outputs (keeps the codebook alive)."""
        dead = (counts == 0).nonzero().flatten()
        if dead.numel() == 0:
            return 0
        z = self._encode_continuous(images).reshape(-1, self.cfg.code_dim)
        pick = torch.randint(0, z.shape[0], (dead.numel(),), generator=generator)
        self.embedding.weight[dead] = z[pick]
        return int(dead.numel())
