"""Frozen DINOv3 ViT-B/16 (or DINOv2 ViT-B/14 fallback) feature backbone for the drift loss.

Facts from docs/references/drift.md §2:
* transformers `DINOv3ViTModel` (>= 4.56), id `facebook/dinov3-vitb16-pretrain-lvd1689m` (gated).
* tokens are [CLS, registers x num_register_tokens, patches]; with output_hidden_states the model
  returns 13 states: [0] the embeddings, [k+1] the raw (pre-final-norm) output of block k. FPD's
  blocks {2, 5, 8, 11} are therefore hidden_states[3, 6, 9, 12].
* keep it in eval mode: in train mode DINOv3 augments the RoPE coordinates (pos_embed_rescale).
* LVD-1689M weights expect ImageNet mean/std. A 256x256 image gives 16x16 patches, which pool
  exactly to a 4x4 grid (avg-pool 4x4). DINOv2 (patch 14, no registers) is fed 224x224 -> 16x16.
Normalisation and resizing happen in-graph so gradients reach the decoder that made the image.
Satisfies `methods.interfaces.FeatureBackbone`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.errors import HarnessError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DINOV3_B16 = "facebook/dinov3-vitb16-pretrain-lvd1689m"
DINOV2_B14 = "facebook/dinov2-base"


@dataclass(frozen=True)
class DinoFeatureConfig:
    """How images become drift features. Defaults = FPD (paper §4: blocks {2,5,8,11}, 4x4 grid)."""

    kind: str = "dinov3"  # "dinov3" | "dinov2"
    blocks: tuple[int, ...] = (2, 5, 8, 11)  # 0-indexed blocks -> hidden_states[b + 1]
    grid: int = 4  # pooled to grid x grid cells
    global_pool: bool = False  # Table 4b "no patch grid": one vector per image
    token_norm: bool = False  # per-token LayerNorm without affine [UNVERIFIED whether FPD does it]
    input_size: int | None = None  # None: 256 kept for dinov3 (RoPE), 224 for dinov2 (learned pos)
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    def to_dict(self) -> dict:
        return asdict(self)


class DinoFeatures(nn.Module):
    """Wraps a transformers DINOv3ViTModel / Dinov2Model as a frozen `FeatureBackbone`."""

    def __init__(self, model: nn.Module, cfg: DinoFeatureConfig = DinoFeatureConfig()):
        super().__init__()
        if cfg.kind not in ("dinov3", "dinov2"):
            raise HarnessError(f"unknown feature backbone kind {cfg.kind!r}; use 'dinov3' or 'dinov2'")
        self.cfg, self.model = cfg, model
        mc = model.config
        self.patch = int(mc.patch_size)
        self.num_prefix = 1 + int(getattr(mc, "num_register_tokens", 0) or 0)  # CLS + registers
        n_layers = int(mc.num_hidden_layers)
        if any(not 0 <= b < n_layers for b in cfg.blocks):
            raise HarnessError(f"feature blocks {cfg.blocks} out of range for a {n_layers}-block backbone")
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)
        self.model.requires_grad_(False)
        self.model.eval()

    def train(self, mode: bool = True) -> "DinoFeatures":
        # always eval: DINOv3's train mode jitters RoPE coordinates (docs/references/drift.md §2.2); a parent's
        # .train() must not switch that on
        super().train(mode)
        self.model.eval()
        return self

    @property
    def input_size(self) -> int | None:
        if self.cfg.input_size is not None:
            return self.cfg.input_size
        return 224 if self.cfg.kind == "dinov2" else None

    def preprocess(self, images: Tensor) -> Tensor:
        """[-1, 1] images -> ImageNet-normalised, resized if configured; differentiable."""
        x = (images.float() + 1) / 2
        size = self.input_size
        if size is not None and tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def _pool(self, tokens: Tensor, h: int, w: int) -> Tensor:
        """[B, h*w, C] patch tokens -> [B, G, C] (G = grid^2, or 1 with global pooling)."""
        if self.cfg.token_norm:
            tokens = F.layer_norm(tokens, tokens.shape[-1:])
        if self.cfg.global_pool:
            return tokens.mean(1, keepdim=True)
        b, _, c = tokens.shape
        g = self.cfg.grid
        x = tokens.transpose(1, 2).reshape(b, c, h, w)
        if h % g == 0 and w % g == 0:
            x = F.avg_pool2d(x, (h // g, w // g))  # exact, non-overlapping windows
        else:
            x = F.adaptive_avg_pool2d(x, g)  # uneven windows (e.g. 14x14 -> 4x4)
        return x.flatten(2).transpose(1, 2)

    def features(self, images: Tensor) -> dict[str, Tensor]:
        x = self.preprocess(images)
        h, w = x.shape[-2] // self.patch, x.shape[-1] // self.patch
        out = self.model(pixel_values=x, output_hidden_states=True)
        hs = out.hidden_states
        feats = {}
        for b in self.cfg.blocks:
            tok = hs[b + 1][:, self.num_prefix :]  # drop CLS + registers
            if tok.shape[1] != h * w:
                raise HarnessError(f"backbone returned {tok.shape[1]} patch tokens, expected {h}x{w}")
            feats[f"block{b}"] = self._pool(tok, h, w)
        return feats

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.features(images)


def _model_classes(kind: str):
    try:
        if kind == "dinov3":
            from transformers import DINOv3ViTConfig as C, DINOv3ViTModel as M
        else:
            from transformers import Dinov2Config as C, Dinov2Model as M
    except ImportError as e:  # transformers < 4.56 has no DINOv3
        raise HarnessError(f"transformers lacks {kind} ({e}); install transformers>=4.56") from e
    return C, M


def dino_from_config(config, cfg: DinoFeatureConfig = DinoFeatureConfig()) -> DinoFeatures:
    """Random-weight backbone from a transformers config (tests, benchmarks)."""
    _, M = _model_classes(cfg.kind)
    return DinoFeatures(M(config), cfg)


def dinov3_vitb16_config():
    """The ViT-B/16 layout of `facebook/dinov3-vitb16-pretrain-lvd1689m` (timm `eva.py`
    `vit_base_patch16_dinov3`: 768 wide, 12 blocks, 12 heads, 4 registers, no k bias, layerscale 1e-5)."""
    C, _ = _model_classes("dinov3")
    return C(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_register_tokens=4,
        patch_size=16,
        key_bias=False,
        layerscale_value=1e-5,
    )


def load_dino(path_or_id: str | Path, cfg: DinoFeatureConfig = DinoFeatureConfig()) -> DinoFeatures:
    """Load pretrained weights from a local folder (config.json + model.safetensors) or the HF cache.

    Never downloads (local_files_only=True); a missing or mismatched folder is a one-line HarnessError.
    """
    _, M = _model_classes(cfg.kind)
    src = str(path_or_id)
    try:
        model = M.from_pretrained(src, local_files_only=True)
    except (OSError, ValueError) as e:
        hint = DINOV3_B16 if cfg.kind == "dinov3" else DINOV2_B14
        raise HarnessError(
            f"cannot load {cfg.kind} weights from {src!r} ({type(e).__name__}); put the files of HF "
            f"{hint} (config.json, model.safetensors) in that folder or the HF cache, "
            f"see `harness doctor`"
        ) from e
    want = "dinov3_vit" if cfg.kind == "dinov3" else "dinov2"
    if getattr(model.config, "model_type", want) != want:
        raise HarnessError(f"{src} holds a {model.config.model_type} model, expected {want}")
    return DinoFeatures(model, cfg)
