"""The taming-transformers VQGAN (f=16, 1024 codes, 256-d) that MaskGIT-pytorch v1 uses as its tokenizer.

Re-implemented from the module structure of taming `VQModel` + `diffusionmodules/model.py`
(as vendored in valeoai/Maskgit-pytorch v1 `Network/Taming/`); every submodule keeps the official attribute name so the
state_dict of `VQGAN/last.ckpt` loads key for key. Images are in [-1, 1] (MaskGIT-pytorch v1
`Trainer/vit.py`: x = 2x - 1); codes are [B, 16, 16] in raster (h, w) order, flattened to [B, 256].
Satisfies `methods.interfaces.Tokenizer`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class VQGANConfig:
    """`model.yaml` values of the MaskGIT-pytorch VQGAN (docs/references/teachers.md §1.1)."""

    embed_dim: int = 256
    n_embed: int = 1024
    z_channels: int = 256
    resolution: int = 256
    in_channels: int = 3
    out_ch: int = 3
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def grid(self) -> int:
        return self.resolution // 2 ** (len(self.ch_mult) - 1)


def _norm(c: int) -> nn.GroupNorm:
    # taming `Normalize`: GroupNorm(32 groups, eps 1e-6, affine)
    return nn.GroupNorm(32, c, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """taming ResnetBlock without the timestep projection (temb_ch = 0 in the VQGAN)."""

    def __init__(self, cin: int, cout: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.dropout, self.conv2 = _norm(cout), nn.Dropout(dropout), nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1-conv q/k/v/proj_out (taming AttnBlock)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = _norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:
        b, c, hh, ww = x.shape
        h = self.norm(x)
        q, k, v = (m(h).flatten(2).transpose(1, 2) for m in (self.q, self.k, self.v))  # [B, HW, C]
        # taming computes softmax(q k^T / sqrt(C)) v with bmm; SDPA is the same math
        h = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj_out(h.transpose(1, 2).reshape(b, c, hh, ww))


class Downsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # taming: asymmetric pad, then stride-2 conv


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.cfg = cfg
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, 1, 1)
        in_mult = (1,) + tuple(cfg.ch_mult)
        res = cfg.resolution
        self.down = nn.ModuleList()
        for i, mult in enumerate(cfg.ch_mult):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            cin, cout = cfg.ch * in_mult[i], cfg.ch * mult
            for _ in range(cfg.num_res_blocks):
                level.block.append(ResnetBlock(cin, cout, cfg.dropout))
                cin = cout
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(cin))
            if i != len(cfg.ch_mult) - 1:
                level.downsample = Downsample(cin)
                res //= 2
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = (
            ResnetBlock(cin, cin, cfg.dropout),
            AttnBlock(cin),
            ResnetBlock(cin, cin, cfg.dropout),
        )
        self.norm_out, self.conv_out = _norm(cin), nn.Conv2d(cin, cfg.z_channels, 3, 1, 1)  # double_z False

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for j, blk in enumerate(level.block):
                h = blk(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        cin = cfg.ch * cfg.ch_mult[-1]
        res = cfg.grid
        self.conv_in = nn.Conv2d(cfg.z_channels, cin, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = (
            ResnetBlock(cin, cin, cfg.dropout),
            AttnBlock(cin),
            ResnetBlock(cin, cin, cfg.dropout),
        )
        up: list[nn.Module] = []
        for i in reversed(range(len(cfg.ch_mult))):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            cout = cfg.ch * cfg.ch_mult[i]
            for _ in range(cfg.num_res_blocks + 1):
                level.block.append(ResnetBlock(cin, cout, cfg.dropout))
                cin = cout
                if res in cfg.attn_resolutions:
                    level.attn.append(AttnBlock(cin))
            if i != 0:
                level.upsample = Upsample(cin)
                res *= 2
            up.insert(0, level)  # taming stores levels in resolution order: up[0] is the finest
        self.up = nn.ModuleList(up)
        self.norm_out, self.conv_out = _norm(cin), nn.Conv2d(cin, cfg.out_ch, 3, 1, 1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for level in reversed(self.up):
            for j, blk in enumerate(level.block):
                h = blk(h)
                if len(level.attn):
                    h = level.attn[j](h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """taming VectorQuantizer2 (beta 0.25, L2 nearest neighbour, no remap): only the codebook is stored."""

    def __init__(self, n_e: int, e_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_e, e_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_e, 1.0 / n_e)

    def nearest(self, z: Tensor) -> Tensor:
        """z [N, d] -> index of the nearest codebook row [N] (squared L2, as taming)."""
        e = self.embedding.weight
        d = z.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * z @ e.t()
        return d.argmin(1)


class TamingVQGAN(nn.Module):
    """taming `VQModel` without the (unused) loss module; a `Tokenizer` over 16x16 = 256 tokens."""

    def __init__(self, cfg: VQGANConfig = VQGANConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.n_embed, cfg.embed_dim)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)
        self.num_tokens = cfg.grid**2
        self.codebook_size = cfg.n_embed

    @property
    def codebook(self) -> Tensor:
        return self.quantize.embedding.weight

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        h = self.quant_conv(self.encoder(images))  # [B, d, 16, 16]
        b, d, hh, ww = h.shape
        idx = self.quantize.nearest(h.permute(0, 2, 3, 1).reshape(-1, d).float())
        return idx.view(b, hh * ww)  # raster order (h, w)

    def decode_embeddings(self, emb: Tensor, cond: Tensor | None = None) -> Tensor:
        """[B, 256, d] codebook-space embeddings -> images [B, 3, 256, 256] in about [-1, 1]."""
        b, n, d = emb.shape
        g = self.cfg.grid
        if n != g * g:
            raise ValueError(f"expected {g * g} token embeddings, got {n}")
        z = emb.transpose(1, 2).reshape(b, d, g, g)
        return self.decoder(self.post_quant_conv(z))

    def decode(self, tokens: Tensor, cond: Tensor | None = None) -> Tensor:
        # MaskGIT-pytorch clamps to [0, 1023] before decoding: a sampled [MASK] id becomes code 1023
        tokens = tokens.reshape(tokens.shape[0], -1).clamp(0, self.codebook_size - 1)
        return self.decode_embeddings(self.quantize.embedding(tokens))

    def forward(self, images: Tensor) -> Tensor:
        """Reconstruction through the codebook (no straight-through: the VQGAN is frozen here)."""
        return self.decode(self.encode(images))
