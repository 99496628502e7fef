"""MaskGen-L (VQ) text-to-image teacher, its TA-TiTok bl128 VQ tokenizer and CLIP ViT-L-14-336 text conditioning.

Re-implemented from the structure of bytedance/1d-tokenizer (`modeling/maskgen.py::MaskGen_VQ`,
`modeling/tatitok.py`, `modeling/modules/blocks.py`, `modeling/quantizer/quantizer.py`) and of
diffusers' SD3 `JointTransformerBlock`, without diffusers; attribute names follow the originals so
`maskgen_vq_l.bin` / `tatitok_bl128_vq.bin` load key for key.

Differences from the reference on purpose:
* masking is NEVER done inside `forward` (the reference re-masks its input whenever
  `model.training` is True, `modeling/maskgen.py::forward`); callers mask explicitly.
* images are exchanged in [-1, 1] (TA-TiTok itself works in [0, 1]).

Conditioning (`modeling/maskgen.py::open_clip_text_encoding`): `cond` is CLIP token ids [B, 77].
MaskGen consumes the CLIP text transformer's penultimate tokens [B, 77, 768] (no ln_final) and the
pooled, projected EOT feature [B, 768] concatenated with a sinusoid of aesthetic_score*100
(micro-condition, 6.5 at sampling).
The TA-TiTok decoder consumes the final tokens after ln_final [B, 77, 768]. The empty caption ""
is the null condition.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods.rng import gumbel_from_uniform, sample_categorical

# ----------------------------------------------------------------------------------------------
# CLIP ViT-L-14-336 text tower (open_clip)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipTextConfig:
    """open_clip `model_configs/ViT-L-14-336.json` text_cfg; OpenAI weights use QuickGELU."""

    model_name: str = "ViT-L-14-336"
    embed_dim: int = 768
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 768
    heads: int = 12
    layers: int = 12
    quick_gelu: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=None)
def _clip_tokenizer(model_name: str):
    import open_clip

    return open_clip.get_tokenizer(model_name)  # its vocabulary ships with the package; built once per process


def clip_tokenize(captions: list[str], model_name: str) -> Tensor:
    """Captions -> CLIP BPE ids [B, 77] on the CPU (open_clip's tokenizer)."""
    return _clip_tokenizer(model_name)(list(captions))


class ClipTextEncoder(nn.Module):
    """open_clip TextTransformer; keys match the top-level text keys of an open_clip / OpenAI CLIP."""

    def __init__(self, cfg: ClipTextConfig = ClipTextConfig()):
        super().__init__()
        from open_clip.model import CLIPTextCfg, _build_text_tower  # open_clip's own text tower

        self.cfg = cfg
        tcfg = CLIPTextCfg(
            context_length=cfg.context_length,
            vocab_size=cfg.vocab_size,
            width=cfg.width,
            heads=cfg.heads,
            layers=cfg.layers,
        )
        self.text = _build_text_tower(cfg.embed_dim, tcfg, quick_gelu=cfg.quick_gelu)

    # the checkpoint stores these at the top level (CLIP class), not under `text.`
    def state_dict_official(self) -> dict[str, Tensor]:
        return {k: v for k, v in self.text.state_dict().items()}

    def load_official(self, sd: dict[str, Tensor]) -> None:
        self.text.load_state_dict(sd, strict=True)

    def tokenize(self, captions: list[str]) -> Tensor:
        """Captions -> CLIP BPE ids [B, 77] on this tower's device."""
        return clip_tokenize(captions, self.cfg.model_name).to(self.text.token_embedding.weight.device)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """ids [B, 77] -> (penultimate [B,77,w], pooled [B,embed_dim], final [B,77,w] after ln_final).

        Mirrors 1d-tokenizer `open_clip_text_encoding`: all blocks but the last give the token
        condition; the last block + ln_final + EOT (argmax id) pooling + text_projection give pooled.
        """
        t = self.text
        x = t.token_embedding(ids) + t.positional_embedding[: ids.shape[1]]
        mask = t.attn_mask[: ids.shape[1], : ids.shape[1]] if t.attn_mask is not None else None
        for blk in t.transformer.resblocks[:-1]:
            x = blk(x, attn_mask=mask)
        penultimate = x
        final = t.ln_final(t.transformer.resblocks[-1](x, attn_mask=mask))
        pooled = final[torch.arange(ids.shape[0], device=ids.device), ids.argmax(-1)]  # EOT has the top id
        proj = t.text_projection
        pooled = pooled @ proj if isinstance(proj, torch.Tensor) else proj(pooled)
        return penultimate, pooled, final


# ----------------------------------------------------------------------------------------------
# TA-TiTok bl128 VQ tokenizer
# ----------------------------------------------------------------------------------------------

_VIT = {"small": (512, 8, 8), "base": (768, 12, 12), "large": (1024, 24, 16)}  # width, layers, heads


@dataclass(frozen=True)
class TATiTokConfig:
    """`configs/infer/TA-TiTok/tatitok_bl128_vq.yaml` (is_legacy False, finetune_decoder False)."""

    image_size: int = 256
    patch_size: int = 16
    num_latent_tokens: int = 128
    codebook_size: int = 8192
    token_size: int = 64
    enc_size: str = "base"
    dec_size: str = "large"
    text_context_length: int = 77
    text_embed_dim: int = 768
    clustering_vq: bool = True  # registers the `quantize.embed_prob` usage buffer
    enc_layers: int | None = None  # depth / width overrides (reduced files: read from the state dict)
    dec_layers: int | None = None
    enc_width: int | None = None
    dec_width: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def vit(self, side: str) -> tuple[int, int, int]:
        """(width, layers, heads) of side 'enc' or 'dec': the named size, with any override."""
        w, layers, heads = _VIT[self.enc_size if side == "enc" else self.dec_size]
        return (getattr(self, f"{side}_width") or w, getattr(self, f"{side}_layers") or layers, heads)


class _ResidualAttentionBlock(nn.Module):
    """1d-tokenizer ResidualAttentionBlock (pre-LN, nn.MultiheadAttention, exact GELU MLP)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)  # same params as seq-first
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(d, 4 * d))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * d, d))

    def forward(self, x: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _TiTokEncoder(nn.Module):
    def __init__(self, cfg: TATiTokConfig):
        super().__init__()
        w, layers, heads = cfg.vit("enc")
        g = cfg.image_size // cfg.patch_size
        self.grid, self.width, self.cfg = g, w, cfg
        self.patch_embed = nn.Conv2d(3, w, cfg.patch_size, cfg.patch_size)
        s = w**-0.5
        self.class_embedding = nn.Parameter(s * torch.randn(1, w))
        self.positional_embedding = nn.Parameter(s * torch.randn(g * g + 1, w))
        self.latent_token_positional_embedding = nn.Parameter(s * torch.randn(cfg.num_latent_tokens, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = nn.ModuleList(_ResidualAttentionBlock(w, heads) for _ in range(layers))
        self.ln_post = nn.LayerNorm(w)
        self.conv_out = nn.Conv2d(w, cfg.token_size, 1)

    def forward(self, pixels01: Tensor, latent_tokens: Tensor) -> Tensor:
        """[B,3,H,W] in [0,1] -> continuous latents [B, num_latent_tokens, token_size]."""
        b = pixels01.shape[0]
        x = self.patch_embed(pixels01).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(b, 1, -1).to(x.dtype), x], 1) + self.positional_embedding
        lat = (latent_tokens + self.latent_token_positional_embedding).expand(b, -1, -1).to(x.dtype)
        x = self.ln_pre(torch.cat([x, lat], 1))
        for blk in self.transformer:
            x = blk(x)
        lat = self.ln_post(x[:, 1 + self.grid**2 :])
        # non-legacy layout: the 1x1 conv_out acts per latent token
        return F.linear(lat, self.conv_out.weight[:, :, 0, 0], self.conv_out.bias)


class _TATiTokDecoder(nn.Module):
    """Text-aware decoder: [CLS | 256 mask tokens | 128 latents | 77 text tokens] -> RGB in [0, 1]."""

    def __init__(self, cfg: TATiTokConfig):
        super().__init__()
        w, layers, heads = cfg.vit("dec")
        g, p = cfg.image_size // cfg.patch_size, cfg.patch_size
        self.grid, self.width, self.patch, self.cfg = g, w, p, cfg
        s = w**-0.5
        self.decoder_embed = nn.Linear(cfg.token_size, w)
        self.class_embedding = nn.Parameter(s * torch.randn(1, w))
        self.positional_embedding = nn.Parameter(s * torch.randn(g * g + 1, w))
        self.mask_token = nn.Parameter(s * torch.randn(1, 1, w))
        self.latent_token_positional_embedding = nn.Parameter(s * torch.randn(cfg.num_latent_tokens, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = nn.ModuleList(_ResidualAttentionBlock(w, heads) for _ in range(layers))
        self.ln_post = nn.LayerNorm(w)
        self.ffn = nn.Sequential(nn.Conv2d(w, p * p * 3, 1))  # + Rearrange (no params) in the reference
        self.conv_out = nn.Conv2d(3, 3, 3, padding=1)
        self.text_guidance_proj = nn.Linear(cfg.text_embed_dim, w)
        self.text_guidance_positional_embedding = nn.Parameter(s * torch.randn(cfg.text_context_length, w))

    def forward(self, z: Tensor, text_guidance: Tensor) -> Tensor:
        """z [B, 128, token_size], text_guidance [B, 77, 768] -> images [B, 3, 256, 256] in about [0, 1]."""
        b, n, _ = z.shape
        x = self.decoder_embed(z) + self.latent_token_positional_embedding[:n]
        masks = self.mask_token.expand(b, self.grid**2, -1).to(x.dtype)
        masks = torch.cat([self.class_embedding.expand(b, 1, -1).to(x.dtype), masks], 1) + self.positional_embedding
        text = self.text_guidance_proj(text_guidance.to(x.dtype)) + self.text_guidance_positional_embedding
        x = self.ln_pre(torch.cat([masks, x, text], 1))
        for blk in self.transformer:
            x = blk(x)
        x = self.ln_post(x[:, 1 : 1 + self.grid**2])
        x = x.transpose(1, 2).reshape(b, self.width, self.grid, self.grid)
        x = self.ffn(x)  # [B, p*p*3, g, g]
        g, p = self.grid, self.patch
        # einops 'b (p1 p2 c) h w -> b c (h p1) (w p2)'
        x = x.reshape(b, p, p, 3, g, g).permute(0, 3, 4, 1, 5, 2).reshape(b, 3, g * p, g * p)
        return self.conv_out(x)


class _TiTokQuantizer(nn.Module):
    def __init__(self, cfg: TATiTokConfig):
        super().__init__()
        self.embedding = nn.Embedding(cfg.codebook_size, cfg.token_size)
        if cfg.clustering_vq:  # usage statistics kept by the official training code; unused here
            self.register_buffer("embed_prob", torch.zeros(cfg.codebook_size))

    def nearest(self, z: Tensor) -> Tensor:
        e = self.embedding.weight
        d = z.pow(2).sum(-1, keepdim=True) + e.pow(2).sum(1) - 2 * z @ e.t()
        return d.argmin(-1)


class TATiTok(nn.Module):
    """TA-TiTok: ViT-B encoder -> 128 VQ tokens (8192 x 64) -> text-aware ViT-L decoder."""

    def __init__(self, cfg: TATiTokConfig = TATiTokConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = _TiTokEncoder(cfg)
        self.decoder = _TATiTokDecoder(cfg)
        w = cfg.vit("enc")[0]
        self.latent_tokens = nn.Parameter(w**-0.5 * torch.randn(cfg.num_latent_tokens, w))
        self.quantize = _TiTokQuantizer(cfg)

    def encode_ids(self, images: Tensor) -> Tensor:
        """images [-1, 1] -> token ids [B, 128] (nearest code, use_l2_norm False)."""
        z = self.encoder((images + 1) / 2, self.latent_tokens).float()
        return self.quantize.nearest(z)

    def decode_latents(self, z: Tensor, text_guidance: Tensor) -> Tensor:
        """codebook-space latents [B, 128, 64] -> images in [-1, 1] (the reference outputs [0, 1])."""
        return self.decoder(z, text_guidance) * 2 - 1


# ----------------------------------------------------------------------------------------------
# MaskGen-L: SD3-style joint (MM-DiT) blocks
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskGenConfig:
    """1d-tokenizer `configs/infer/MaskGen/maskgen_vq_l.yaml`."""

    num_tokens: int = 128
    codebook_size: int = 8192
    condition_num_classes: int = 1000  # unused slots kept for checkpoint compatibility
    embed_dim: int = 1024
    depth: int = 16
    heads: int = 16
    text_embed_dim: int = 768
    micro_condition: bool = True
    micro_condition_embed_dim: int = 256
    sample_aesthetic_score: float = 6.5

    def to_dict(self) -> dict:
        return asdict(self)


class _AdaLNZero(nn.Module):
    """diffusers AdaLayerNormZero: SiLU -> Linear(d, 6d) -> (shift, scale, gate) x (msa, mlp)."""

    def __init__(self, d: int):
        super().__init__()
        self.linear = nn.Linear(d, 6 * d)
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)

    def forward(self, x: Tensor, emb: Tensor):
        sh, sc, g, sh2, sc2, g2 = self.linear(F.silu(emb)).chunk(6, dim=1)
        return self.norm(x) * (1 + sc[:, None]) + sh[:, None], g, sh2, sc2, g2


class AdaLayerNormContinuous(nn.Module):
    """diffusers AdaLayerNormContinuous(elementwise_affine=False, eps=1e-6): (scale, shift) order."""

    def __init__(self, d: int, cond_dim: int):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * d)
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self.linear(F.silu(cond).to(x.dtype)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None]


class _GELUProj(nn.Module):
    def __init__(self, d: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(d, inner)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class _FeedForward(nn.Module):
    """diffusers FeedForward(activation 'gelu-approximate', mult 4): net = [GELU(proj), Dropout, Linear]."""

    def __init__(self, d: int):
        super().__init__()
        self.net = nn.ModuleList([_GELUProj(d, 4 * d), nn.Dropout(0.0), nn.Linear(4 * d, d)])

    def forward(self, x: Tensor) -> Tensor:
        for m in self.net:
            x = m(x)
        return x


class _JointAttention(nn.Module):
    """diffusers Attention + JointAttnProcessor2_0: one softmax over [image; text] keys."""

    def __init__(self, d: int, heads: int, context_pre_only: bool):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.add_q_proj, self.add_k_proj, self.add_v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.to_out = nn.ModuleList([nn.Linear(d, d), nn.Dropout(0.0)])
        self.context_pre_only = context_pre_only
        if not context_pre_only:
            self.to_add_out = nn.Linear(d, d)

    def _split(self, t: Tensor) -> Tensor:
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor | None]:
        n = x.shape[1]
        k = torch.cat([self._split(self.to_k(x)), self._split(self.add_k_proj(c))], 2)
        v = torch.cat([self._split(self.to_v(x)), self._split(self.add_v_proj(c))], 2)
        q = self._split(self.to_q(x))
        if not self.context_pre_only:
            q = torch.cat([q, self._split(self.add_q_proj(c))], 2)
        # (in the last block the text outputs are discarded, so only image queries are computed)
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        x_out = self.to_out[0](o[:, :n])
        c_out = None if self.context_pre_only else self.to_add_out(o[:, n:])
        return x_out, c_out


class JointTransformerBlock(nn.Module):
    """SD3 MM-DiT block (diffusers `JointTransformerBlock`, qk_norm None, no dual attention)."""

    def __init__(self, d: int, heads: int, context_pre_only: bool):
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1 = _AdaLNZero(d)
        self.norm1_context = AdaLayerNormContinuous(d, d) if context_pre_only else _AdaLNZero(d)
        self.attn = _JointAttention(d, heads, context_pre_only)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ff = _FeedForward(d)
        if not context_pre_only:
            self.norm2_context = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
            self.ff_context = _FeedForward(d)

    def forward(self, x: Tensor, c: Tensor, temb: Tensor) -> tuple[Tensor | None, Tensor]:
        """Returns (context, image) in the diffusers order; context is None after the last block."""
        nx, g, sh2, sc2, g2 = self.norm1(x, temb)
        if self.context_pre_only:
            nc = self.norm1_context(c, temb)
        else:
            nc, cg, csh2, csc2, cg2 = self.norm1_context(c, temb)
        ax, ac = self.attn(nx, nc)
        x = x + g[:, None] * ax
        x = x + g2[:, None] * self.ff(self.norm2(x) * (1 + sc2[:, None]) + sh2[:, None])
        if self.context_pre_only:
            return None, x
        c = c + cg[:, None] * ac
        c = c + cg2[:, None] * self.ff_context(self.norm2_context(c) * (1 + csc2[:, None]) + csh2[:, None])
        return c, x


class WeightTiedLMHead(nn.Module):
    """logits = x @ E[:K]^T, no bias. The table is the embedding's own Parameter, not registered here:
    one tensor under two state_dict names is refused by safetensors (training checkpoints, exports),
    so MaskGenVQ writes `lm_head.weight` as a copy and checks it on load (`_tie_hooks`)."""

    def __init__(self, embeddings: nn.Embedding, k: int):
        super().__init__()
        self._table = [embeddings]  # a list: not a submodule, so the table has one owner
        self.k = k

    @property
    def weight(self) -> nn.Parameter:
        return self._table[0].weight

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight[: self.k].t()


def _tie_hooks(model: nn.Module) -> None:
    """The official state_dict lists the tied head as `lm_head.weight`: write it (a copy), and on load
    accept it only if it equals `embeddings.weight`, the one table both names stand for."""

    def save(module, state_dict, prefix, local_metadata):
        state_dict[prefix + "lm_head.weight"] = module.embeddings.weight.detach().clone()

    def load(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        head = state_dict.pop(prefix + "lm_head.weight", None)
        emb = state_dict.get(prefix + "embeddings.weight")
        if head is not None and emb is not None and not head.is_meta and not torch.equal(head, emb.to(head)):
            errors.append(f"{prefix}lm_head.weight differs from {prefix}embeddings.weight; MaskGen ties them")

    model.register_state_dict_post_hook(save)
    model.register_load_state_dict_pre_hook(load)


def sinusoid(t: Tensor, dim: int, max_period: float = 1000.0) -> Tensor:
    """diffusers-style [sin, cos] embedding with exponent -log(max_period) * k / (dim/2)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], -1)


class MaskGenVQ(nn.Module):
    """MaskGen_VQ: token ids [B,128] + text condition -> 8192-way logits [B,128,8192]. Never masks."""

    def __init__(self, cfg: MaskGenConfig = MaskGenConfig()):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.text_embed_proj = nn.Linear(cfg.text_embed_dim, d)
        pooled_in = cfg.text_embed_dim + (cfg.micro_condition_embed_dim if cfg.micro_condition else 0)
        self.cond_pooled_proj = nn.Linear(pooled_in, d)
        self.blocks = nn.ModuleList(
            JointTransformerBlock(d, cfg.heads, context_pre_only=i == cfg.depth - 1) for i in range(cfg.depth)
        )
        self.norm = AdaLayerNormContinuous(d, d)
        # ids: codes 0..8191, [MASK] 8192, 1000 unused class slots, 1 unused null slot (compatibility)
        self.embeddings = nn.Embedding(cfg.codebook_size + 1 + cfg.condition_num_classes + 1, d)
        self.pos_embed = nn.Parameter(nn.init.trunc_normal_(torch.zeros(1, cfg.num_tokens, d), 0.0, 0.02))
        self.lm_head = WeightTiedLMHead(self.embeddings, cfg.codebook_size)
        _tie_hooks(self)

    def pooled_condition(self, pooled: Tensor, aesthetic: Tensor | None) -> Tensor:
        if self.cfg.micro_condition:
            if aesthetic is None:
                raise ValueError("MaskGen-L uses the aesthetic micro-condition; pass an aesthetic score")
            pooled = torch.cat([pooled.float(), sinusoid(aesthetic * 100, self.cfg.micro_condition_embed_dim)], -1)
        return self.cond_pooled_proj(pooled.to(self.cond_pooled_proj.weight.dtype))

    def forward(
        self,
        tokens: Tensor,
        text_tokens: Tensor,
        pooled: Tensor,
        aesthetic: Tensor | None = None,
        *,
        token_embeds: Tensor | None = None,
    ) -> Tensor:
        x = self.embeddings(tokens) if token_embeds is None else token_embeds
        x = x + self.pos_embed[:, : x.shape[1]]
        c = self.text_embed_proj(text_tokens.to(x.dtype))
        temb = self.pooled_condition(pooled, aesthetic)
        for blk in self.blocks:
            c, x = blk(x, c, temb)
        return self.lm_head(self.norm(x, temb))


# ----------------------------------------------------------------------------------------------
# Interface adapters: TokenModel and Tokenizer over CLIP token ids
# ----------------------------------------------------------------------------------------------


class MaskGenTeacher(nn.Module):
    """MaskGen-L as a `TokenModel`: tokens [B,128] (0..8191 or mask 8192), cond = CLIP ids [B,77]."""

    dimo_frozen = ("net.embeddings", "net.pos_embed")  # DiMO fix_emb_layer; lm_head is tied to net.embeddings

    def __init__(self, maskgen: MaskGenVQ, clip: ClipTextEncoder, aesthetic_score: float | None = None):
        super().__init__()
        self.net, self.clip = maskgen, clip.requires_grad_(False)  # CLIP is never trained (no_grad below)
        self.cfg = maskgen.cfg  # what trainers record as the student's model config
        self.num_tokens, self.codebook_size = maskgen.cfg.num_tokens, maskgen.cfg.codebook_size
        self.mask_id = maskgen.cfg.codebook_size
        self.aesthetic_score = maskgen.cfg.sample_aesthetic_score if aesthetic_score is None else aesthetic_score
        self._null: Tensor | None = None

    def null_cond(self, cond: Tensor) -> Tensor:
        if self._null is None:
            self._null = self.clip.tokenize([""]).cpu()
        return self._null.to(cond.device).expand(cond.shape[0], -1)

    @property
    def tok_emb(self) -> nn.Embedding:
        """Input embedding table (the name methods use for MaskGIT's table; mask row = mask_id)."""
        return self.net.embeddings

    def embed_tokens(self, tokens: Tensor) -> Tensor:
        return self.net.embeddings(tokens)

    def forward(
        self,
        tokens: Tensor,
        cond: Tensor,
        *,
        emb_perturb: float = 0.0,
        noise: Tensor | None = None,
        token_embeds: Tensor | None = None,
    ) -> Tensor:
        e = self.net.embeddings(tokens) if token_embeds is None else token_embeds
        if emb_perturb > 0:  # DiMO-style embedding perturbation (image tokens only)
            eps = torch.randn_like(e) if noise is None else noise.to(e)
            e = emb_perturb * eps + math.sqrt(1.0 - emb_perturb**2) * e
        with torch.no_grad():  # CLIP is frozen
            pen, pooled, _ = self.clip(cond)
        aes = torch.full((tokens.shape[0],), self.aesthetic_score, device=tokens.device)
        return self.net(tokens, pen, pooled, aes, token_embeds=e).float()


class MaskGenTokenizer(nn.Module):
    """TA-TiTok as a `Tokenizer`; decoding needs the caption (text-aware decoder), passed as CLIP ids."""

    def __init__(self, tatitok: TATiTok, clip: ClipTextEncoder):
        super().__init__()
        self.tok, self.clip = tatitok, clip.requires_grad_(False)
        self.num_tokens, self.codebook_size = tatitok.cfg.num_latent_tokens, tatitok.cfg.codebook_size

    @property
    def codebook(self) -> Tensor:
        return self.tok.quantize.embedding.weight

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tensor:
        return self.tok.encode_ids(images)

    def decode_embeddings(self, emb: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("the TA-TiTok decoder is text-aware: pass the caption's CLIP ids as cond")
        with torch.no_grad():
            _, _, final = self.clip(cond)
        return self.tok.decode_latents(emb, final)

    def decode(self, tokens: Tensor, cond: Tensor | None = None) -> Tensor:
        tokens = tokens.clamp(0, self.codebook_size - 1)
        return self.decode_embeddings(self.tok.quantize.embedding(tokens), cond)


# ----------------------------------------------------------------------------------------------
# MaskGen sampler (1d-tokenizer `modeling/maskgen.py::MaskGen_VQ.generate`)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskGenSamplerConfig:
    """README call of MaskGen-L: guidance 12, randomize_temperature 2, aesthetic 6.5, 16 steps."""

    steps: int = 16
    guidance_scale: float = 12.0
    randomize_temperature: float = 2.0
    guidance_decay: str = "cosine"  # "cosine" | "linear" | "none"
    guidance_decay_scale_pow: float = 1.0
    softmax_temperature_annealing: bool = True
    prob_sorting: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def _gumbel(shape, device, generator: torch.Generator | None) -> Tensor:
    u = torch.rand(shape, device=device, generator=generator).clamp(1e-20, 1 - 1e-7)
    return -torch.log(-torch.log(u))


def maskgen_guidance(step: int, cfg: MaskGenSamplerConfig) -> float:
    """Guidance at step s (0-based): cosine ramp (G-1)(1-cos(pi r^pow))/2 + 1 with r = (s+1)/S."""
    ratio = (step + 1) / cfg.steps
    if cfg.guidance_decay == "cosine":
        return (cfg.guidance_scale - 1) * (1 - math.cos(math.pi * ratio**cfg.guidance_decay_scale_pow)) / 2 + 1
    if cfg.guidance_decay == "linear":
        return ratio * (cfg.guidance_scale - 1) + 1
    if cfg.guidance_decay == "none":
        return cfg.guidance_scale
    raise ValueError(f"unknown guidance_decay {cfg.guidance_decay!r}")


def maskgen_mask_len(step: int, steps: int, num_tokens: int, num_masked: int) -> int:
    """Tokens left masked after step s: floor(L * acos(r)/(pi/2)), clamped to [1, #masked - 1]."""
    ratio = (step + 1) / steps
    n = math.floor(num_tokens * math.acos(min(ratio, 1.0)) / (math.pi / 2))
    return max(1, min(num_masked - 1, n))


@torch.no_grad()
def maskgen_sample(
    model,
    cond: Tensor,
    cfg: MaskGenSamplerConfig = MaskGenSamplerConfig(),
    *,
    generator: torch.Generator | None = None,
    rng=None,
) -> Tensor:
    """Multi-step MaskGen sampling; `model` is any TokenModel (K-way logits, mask_id = K). -> ids [B, L].

    Per step: CFG ℓ = ℓc + s(ℓc - ℓu) with the cosine ramp; ℓ /= 0.5 + 0.8(1 - r) (temperature
    annealing); x̂ = argmax(ℓ + τ_g·Gumbel), τ_g = randomize_temperature·(1 - r); confidence = ℓ[x̂]
    (+inf on already-revealed positions) + τ_g·Gumbel; re-mask the lowest-confidence positions down
    to the arccos-floor count. The last step keeps everything (τ_g = 0: greedy).

    Noise: a torch `generator` (the official code's K-way Gumbel draw), or `rng`, a per-sample
    `methods.rng.SeedStreams`: then argmax(ℓ + τ·Gumbel) is drawn as the same-law categorical sample of
    softmax(ℓ/τ) from one uniform per position, so a sample does not depend on its batch.
    """
    b, L, dev = cond.shape[0], model.num_tokens, cond.device
    ids = torch.full((b, L), model.mask_id, dtype=torch.long, device=dev)
    null = model.null_cond(cond)
    for s in range(cfg.steps):
        ratio = (s + 1) / cfg.steps
        tau = cfg.randomize_temperature * (1 - ratio)
        is_mask = ids == model.mask_id
        w = maskgen_guidance(s, cfg)
        if w != 0:
            lc, lu = model(torch.cat([ids, ids]), torch.cat([cond, null])).float().chunk(2)
            logits = lc + (lc - lu) * w
        else:
            logits = model(ids, cond).float()
        logits = logits / ((0.5 + 0.8 * (1 - ratio)) if cfg.softmax_temperature_annealing else max(tau, 1e-8))
        if rng is not None:
            u = rng.rand(L, 2)
            sampled = sample_categorical(logits / tau, u[..., 0]) if tau > 0 else logits.argmax(-1)
            conf_noise = gumbel_from_uniform(u[..., 1].clone())
        else:
            sampled = (logits + tau * _gumbel(logits.shape, dev, generator)).argmax(-1)
            conf_noise = None
        conf = logits.gather(-1, sampled[..., None])[..., 0]
        sampled = torch.where(is_mask, sampled, ids)
        if s == cfg.steps - 1:
            ids = sampled
            break
        conf = torch.where(is_mask, conf, torch.full_like(conf, math.inf))
        if cfg.prob_sorting:
            conf = conf + tau * (conf_noise if conf_noise is not None else _gumbel(conf.shape, dev, generator))
        n = maskgen_mask_len(s, cfg.steps, L, int(is_mask.sum(-1).min()))
        cut = conf.sort(-1).values[:, n - 1 : n]
        ids = torch.where(conf <= cut, torch.full_like(sampled, model.mask_id), sampled)
    return ids


class MaskGenSampler:
    """The MaskGen teacher's own sampler behind the Generator interface (what `--task t2i` teacher rows use)."""

    def __init__(self, model, tokenizer, cfg: MaskGenSamplerConfig, device: str | torch.device = "cpu"):
        self.model, self.tokenizer, self.cfg, self.device = model, tokenizer, cfg, torch.device(device)
        self.steps = cfg.steps

    @torch.inference_mode()
    def sample_tokens(self, cond: Tensor, seeds) -> Tensor:
        from methods.rng import SeedStreams

        return maskgen_sample(self.model, cond.to(self.device), self.cfg, rng=SeedStreams(seeds, self.device))

    @torch.inference_mode()
    def generate(self, cond: Tensor, seeds) -> Tensor:
        from methods.interfaces import to_uint8

        cond = cond.to(self.device)
        return to_uint8(self.tokenizer.decode(self.sample_tokens(cond, seeds), cond))
